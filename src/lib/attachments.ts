// Pictures and files travel inline, in the message that carries them: `data.attachment` of a `chat` or
// `group.message` envelope, base64 (docs/PROTOCOL.md, "Attachments" says why). These rules are checked
// by the sender before it publishes, by the secured ims-broker before it delivers, and by every
// receiver: one implementation of what an attachment may be.

import { ImsError } from './ids';

export interface Attachment {
    /** The file's name as the sender chose it (no path). */
    name: string;
    /** The declared MIME type; it must match what the bytes are. */
    type: string;
    /** Bytes of the file, before base64. */
    size: number;
    /** The file, base64. */
    data: string;
    /** For pictures: a small JPEG or PNG preview, base64. */
    thumb?: string;
    width?: number;
    height?: number;
}

/** A message refused for its attachment (the broker refuses these, and only these, of chat payloads). */
export class AttachmentError extends ImsError {}

/** Largest file, before base64 (which adds a third): it and its envelope fit the 256 KiB payload limit. */
export const DEFAULT_MAX_ATTACHMENT_BYTES = 180 * 1024;
/** Largest thumbnail, before base64. */
export const MAX_THUMB_BYTES = 16 * 1024;
const MAX_NAME_LENGTH = 255;

/** The types a file may be sent as; anything else is refused (executables and scripts above all). */
export const ATTACHMENT_TYPES: readonly string[] = [
    'image/png',
    'image/jpeg',
    'image/gif',
    'image/webp',
    'application/pdf',
    'application/zip',
    'text/plain',
    'application/octet-stream',
];

/** Pictures the clients show inline. */
export function isPicture(type: string): boolean {
    return type.startsWith('image/');
}

/** Types whose first bytes say what they are ("magic numbers"). */
const SIGNATURES: { type: string; bytes: number[]; at?: number }[] = [
    { type: 'image/png', bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
    { type: 'image/jpeg', bytes: [0xff, 0xd8, 0xff] },
    { type: 'image/gif', bytes: [0x47, 0x49, 0x46, 0x38] },
    { type: 'image/webp', bytes: [0x57, 0x45, 0x42, 0x50], at: 8 }, // RIFF....WEBP
    { type: 'application/pdf', bytes: [0x25, 0x50, 0x44, 0x46, 0x2d] },
    { type: 'application/zip', bytes: [0x50, 0x4b, 0x03, 0x04] },
    { type: 'application/zip', bytes: [0x50, 0x4b, 0x05, 0x06] }, // an empty archive
    // Programs: never accepted, whatever they are declared as.
    { type: 'application/x-msdownload', bytes: [0x4d, 0x5a] }, // MZ: Windows .exe, .dll
    { type: 'application/x-executable', bytes: [0x7f, 0x45, 0x4c, 0x46] }, // ELF
    { type: 'application/x-mach-binary', bytes: [0xcf, 0xfa, 0xed, 0xfe] },
    { type: 'application/x-mach-binary', bytes: [0xca, 0xfe, 0xba, 0xbe] },
    { type: 'application/x-sh', bytes: [0x23, 0x21] }, // #! scripts
];

const EXECUTABLE = new Set(['application/x-msdownload', 'application/x-executable', 'application/x-mach-binary', 'application/x-sh']);

/** What a file's name says it is; names of programs and scripts are refused outright. */
const EXTENSIONS: Record<string, string> = {
    png: 'image/png',
    jpg: 'image/jpeg',
    jpeg: 'image/jpeg',
    gif: 'image/gif',
    webp: 'image/webp',
    pdf: 'application/pdf',
    zip: 'application/zip',
    txt: 'text/plain',
};
const PROGRAM_EXTENSIONS = new Set(['exe', 'dll', 'com', 'scr', 'msi', 'bat', 'cmd', 'ps1', 'vbs', 'js', 'jar', 'sh', 'app', 'apk']);

/** What the bytes are, by their magic number; undefined when they do not say. */
export function sniffType(bytes: Uint8Array): string | undefined {
    return SIGNATURES.find((s) => s.bytes.every((b, i) => bytes[(s.at ?? 0) + i] === b))?.type;
}

/**
 * Checks an attachment as it arrived (any JSON value) and returns it with its bytes. Throws ImsError:
 * IMS_MALFORMED (not an attachment: missing fields, bad base64, a size that is not the data's),
 * IMS_TOO_LARGE (over `maxBytes`), IMS_FILE_TYPE (a type that is not accepted: programs, scripts, or
 * anything not in ATTACHMENT_TYPES), IMS_DISGUISED (the declared type or the name says one thing and
 * the bytes another, e.g. a .png that is an .exe).
 */
export function checkAttachment(
    value: unknown,
    maxBytes: number = DEFAULT_MAX_ATTACHMENT_BYTES,
): { attachment: Attachment; bytes: Buffer } {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed('it is not an object');
    const a = value as Record<string, unknown>;
    if (typeof a.name !== 'string' || a.name.length === 0 || a.name.length > MAX_NAME_LENGTH || /[/\\\0]/.test(a.name)) {
        throw malformed(`"name" must be a file name of 1 to ${MAX_NAME_LENGTH} characters without a path`);
    }
    if (typeof a.type !== 'string' || !/^[a-z]+\/[a-z0-9.+-]+$/.test(a.type)) throw malformed('"type" must be a MIME type');
    if (typeof a.size !== 'number' || !Number.isSafeInteger(a.size) || a.size < 0) throw malformed('"size" must be a byte count');
    if (typeof a.data !== 'string' || !isBase64(a.data)) throw malformed('"data" must be base64');
    // Before decoding: the declared size and the text's length both bound the work.
    if (a.size > maxBytes || base64Length(a.data) > maxBytes) {
        throw new AttachmentError(
            `Attachment "${a.name}" is ${Math.max(a.size, base64Length(a.data))} bytes; the limit is ${maxBytes}`,
            'IMS_TOO_LARGE',
        );
    }
    const bytes = Buffer.from(a.data, 'base64');
    if (bytes.length !== a.size) throw malformed(`"size" says ${a.size} bytes but "data" holds ${bytes.length}`);
    for (const field of ['width', 'height'] as const) {
        if (a[field] !== undefined && !(typeof a[field] === 'number' && Number.isSafeInteger(a[field]) && (a[field] as number) > 0)) {
            throw malformed(`"${field}" must be a number of pixels`);
        }
    }
    checkType(a.name, a.type, bytes);
    if (a.thumb !== undefined) {
        if (typeof a.thumb !== 'string' || !isBase64(a.thumb) || base64Length(a.thumb) > MAX_THUMB_BYTES) {
            throw malformed(`"thumb" must be a base64 picture of at most ${MAX_THUMB_BYTES} bytes`);
        }
        const thumbType = sniffType(Buffer.from(a.thumb, 'base64'));
        if (thumbType !== 'image/jpeg' && thumbType !== 'image/png') throw disguised('its thumbnail is not a JPEG or PNG picture');
    }
    return { attachment: a as unknown as Attachment, bytes };
}

/** An attachment of `bytes`, checked as receivers will check it (so a sender learns first). */
export function makeAttachment(
    bytes: Uint8Array,
    fields: { name: string; type?: string; thumb?: Uint8Array; width?: number; height?: number },
    maxBytes: number = DEFAULT_MAX_ATTACHMENT_BYTES,
): Attachment {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buffer.length > maxBytes) {
        throw new AttachmentError(`Attachment "${fields.name}" is ${buffer.length} bytes; the limit is ${maxBytes}`, 'IMS_TOO_LARGE');
    }
    const attachment: Attachment = {
        name: fields.name,
        type: fields.type || typeOfName(fields.name) || sniffType(buffer) || 'application/octet-stream',
        size: buffer.length,
        data: buffer.toString('base64'),
    };
    if (fields.thumb)
        attachment.thumb = Buffer.from(fields.thumb.buffer, fields.thumb.byteOffset, fields.thumb.byteLength).toString('base64');
    if (fields.width) attachment.width = fields.width;
    if (fields.height) attachment.height = fields.height;
    checkAttachment(attachment, maxBytes);
    return attachment;
}

/** The type a file name's extension stands for, if it is one of the accepted ones. */
export function typeOfName(name: string): string | undefined {
    return EXTENSIONS[extensionOf(name)];
}

function checkType(name: string, type: string, bytes: Buffer): void {
    const actual = sniffType(bytes);
    const extension = extensionOf(name);
    if (actual !== undefined && EXECUTABLE.has(actual)) {
        throw fileType(`"${name}" is a program (${actual}), declared as ${type}`, actual === type || type === 'application/octet-stream');
    }
    if (PROGRAM_EXTENSIONS.has(extension)) throw fileType(`"${name}": .${extension} files are not accepted`, true);
    if (!ATTACHMENT_TYPES.includes(type))
        throw fileType(`"${name}": ${type} is not an accepted type (${ATTACHMENT_TYPES.join(', ')})`, true);
    const named = EXTENSIONS[extension];
    if (named !== undefined && named !== type && type !== 'application/octet-stream') {
        throw disguised(`"${name}" is named as ${named} but declared as ${type}`);
    }
    if (type === 'text/plain') {
        if (bytes.includes(0) || actual !== undefined)
            throw disguised(`"${name}" is declared as text but holds ${actual ?? 'binary data'}`);
        return;
    }
    if (type !== 'application/octet-stream' && actual !== type) {
        throw disguised(`"${name}" is declared as ${type} but its bytes are ${actual ?? 'not that type'}`);
    }
    if (named !== undefined && actual !== undefined && named !== actual)
        throw disguised(`"${name}" is named as ${named} but its bytes are ${actual}`);
}

function extensionOf(name: string): string {
    const dot = name.lastIndexOf('.');
    return dot < 0 ? '' : name.slice(dot + 1).toLowerCase();
}

function isBase64(text: string): boolean {
    return text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);
}

/** Bytes a base64 text decodes to. */
function base64Length(text: string): number {
    const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
    return (text.length / 4) * 3 - padding;
}

function malformed(why: string): ImsError {
    return new AttachmentError(`Malformed attachment: ${why}`, 'IMS_MALFORMED');
}

function disguised(why: string): ImsError {
    return new AttachmentError(`Disguised attachment: ${why}`, 'IMS_DISGUISED');
}

/** A type that is not accepted: a program declared as itself is refused as such; one declared otherwise is disguised. */
function fileType(why: string, honest: boolean): ImsError {
    return honest ? new AttachmentError(`Attachment refused: ${why}`, 'IMS_FILE_TYPE') : disguised(why);
}
