// Pictures and files the person attaches: pictures are scaled down with a canvas until they fit the
// attachment limit (a phone photo is megabytes; the limit is 180 KiB), and get a small thumbnail; other
// files go as they are, or are refused with a clear message when too large. The result is checked by
// the same rules as every receiver's (src/lib/attachments.ts).

import { Attachment, DEFAULT_MAX_ATTACHMENT_BYTES, isPicture, makeAttachment, MAX_THUMB_BYTES } from '../lib/attachments';
import { ImsError } from '../lib/ids';
import { t } from './i18n';

/** Sides of a sent picture, and of its thumbnail, in pixels at most. */
const PICTURE_SIDES = [1600, 1280, 1024, 800, 640, 480];
const THUMB_SIDE = 160;
/** Pictures a canvas can redraw; others (an SVG) go as files. */
const SCALABLE = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

export async function prepareAttachment(file: File): Promise<Attachment> {
    if (SCALABLE.has(file.type)) return preparePicture(file);
    if (file.size > DEFAULT_MAX_ATTACHMENT_BYTES) throw tooLarge(file.name, file.size);
    return makeAttachment(new Uint8Array(await file.arrayBuffer()), { name: file.name, type: file.type || undefined });
}

async function preparePicture(file: File): Promise<Attachment> {
    const image = await createImageBitmap(file);
    try {
        const thumb = await encode(image, THUMB_SIDE, 'image/jpeg', 0.7);
        const small = file.size <= DEFAULT_MAX_ATTACHMENT_BYTES && image.width <= PICTURE_SIDES[0] && image.height <= PICTURE_SIDES[0];
        // A picture that fits is sent as it is (a PNG stays sharp, a GIF keeps its frames).
        const sent = small
            ? { bytes: new Uint8Array(await file.arrayBuffer()), type: file.type, name: file.name, ...fit(image, PICTURE_SIDES[0]) }
            : await scaleToFit(image, file.name, file.size);
        return makeAttachment(sent.bytes, {
            name: sent.name,
            type: sent.type,
            thumb: thumb.bytes.length <= MAX_THUMB_BYTES ? thumb.bytes : undefined,
            width: sent.width,
            height: sent.height,
        });
    } finally {
        image.close();
    }
}

/** Smaller and smaller JPEGs until one fits; a bounded number of tries. */
async function scaleToFit(
    image: ImageBitmap,
    name: string,
    size: number,
): Promise<{ bytes: Uint8Array; type: string; name: string; width: number; height: number }> {
    const jpegName = `${name.replace(/\.[^.]*$/, '')}.jpg`;
    for (const side of PICTURE_SIDES) {
        for (const quality of [0.85, 0.7]) {
            const encoded = await encode(image, side, 'image/jpeg', quality);
            if (encoded.bytes.length <= DEFAULT_MAX_ATTACHMENT_BYTES) return { ...encoded, type: 'image/jpeg', name: jpegName };
        }
    }
    throw tooLarge(name, size);
}

async function encode(
    image: ImageBitmap,
    side: number,
    type: string,
    quality: number,
): Promise<{ bytes: Uint8Array; width: number; height: number }> {
    const { width, height } = fit(image, side);
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext('2d');
    if (!context) throw new ImsError('This browser cannot draw pictures', 'IMS_UNSUPPORTED');
    context.fillStyle = '#fff'; // a transparent PNG turned JPEG gets white, not black
    context.fillRect(0, 0, width, height);
    context.drawImage(image, 0, 0, width, height);
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, type, quality));
    if (!blob) throw new ImsError('This browser cannot encode pictures', 'IMS_UNSUPPORTED');
    return { bytes: new Uint8Array(await blob.arrayBuffer()), width, height };
}

function fit(image: { width: number; height: number }, side: number): { width: number; height: number } {
    const scale = Math.min(1, side / Math.max(image.width, image.height));
    return { width: Math.max(1, Math.round(image.width * scale)), height: Math.max(1, Math.round(image.height * scale)) };
}

function tooLarge(name: string, size: number): ImsError {
    const kib = (bytes: number): number => Math.ceil(bytes / 1024);
    return new ImsError(t('chat.fileTooLarge', { name, size: kib(size), limit: kib(DEFAULT_MAX_ATTACHMENT_BYTES) }), 'IMS_TOO_LARGE');
}

/** What a conversation keeps of an attachment in the browser's storage: all but the file itself. */
export type AttachmentInfo = Omit<Attachment, 'data'>;

export function infoOf(attachment: Attachment): AttachmentInfo {
    const info: AttachmentInfo = { name: attachment.name, type: attachment.type, size: attachment.size };
    if (attachment.thumb) info.thumb = attachment.thumb;
    if (attachment.width) info.width = attachment.width;
    if (attachment.height) info.height = attachment.height;
    return info;
}

/** A data: URL of the file (`data`, when at hand), else of a picture's thumbnail. */
export function attachmentUrl(info: AttachmentInfo, data: string | undefined): string | undefined {
    if (data) return `data:${info.type};base64,${data}`;
    if (info.thumb && isPicture(info.type)) return `data:image/jpeg;base64,${info.thumb}`;
    return undefined;
}
