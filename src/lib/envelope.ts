// The payload envelope: UTF-8 JSON {v, id, type, from, to, ts, text, data}. Encoding and decoding live
// here and nowhere else. The topic is the authority on type and sender; the payload may only refine the
// type within what the topic allows, and a `from` that contradicts the topic's sender level is a spoof.

import * as bufferModule from 'buffer';
import { randomBytes } from 'crypto';
import { AttachmentError, checkAttachment } from './attachments';
import { ImsError } from './ids';
import { ParsedTopic, TopicKind } from './topics';

export const ENVELOPE_VERSION = 1;

export const MESSAGE_TYPES = [
    'friend.request',
    'friend.response',
    'chat',
    'unsub',
    'group.invite',
    'group.message',
    'group.join',
    'group.leave',
    'moment',
    'greeting',
    'system',
    'presence',
    // Client-to-client, on the chat and group topics (src/lib/chatEvents.ts):
    'typing',
    'receipt',
    'edit',
    'recall',
    // From the secured broker to a sending device, on its p2p topic (src/lib/brokerRefusal.ts):
    'refusal',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export interface Envelope {
    v: number;
    id: string;
    type: MessageType;
    from: string;
    to?: string;
    ts: number;
    text?: string;
    data?: Record<string, unknown>;
}

/** A received message after the topic and the payload have been reconciled. */
export interface ImsMessage extends Envelope {
    /** The MQTT topic it arrived on. */
    topic: string;
    kind: TopicKind;
    group?: string;
    region?: string;
    /** True when the sender comes from the topic (inbox, moments, group, presence), not only the payload. */
    verified: boolean;
    /** False when the payload was plain text or JSON without the envelope. */
    enveloped: boolean;
}

/** Which envelope types may arrive on each kind of topic; the first is the default for bare payloads. */
export const TYPES_BY_TOPIC: Record<TopicKind, readonly MessageType[]> = {
    'friend.request': ['friend.request'],
    'friend.response': ['friend.response'],
    chat: ['chat', 'greeting', 'typing', 'receipt', 'edit', 'recall'],
    unsub: ['unsub'],
    'group.invite': ['group.invite'],
    p2p: MESSAGE_TYPES,
    moment: ['moment'],
    // Receipts for group messages go to the original sender's chat inbox, not to every member.
    group: ['group.message', 'group.join', 'group.leave', 'typing', 'edit', 'recall'],
    system: ['system'],
    presence: ['presence'],
    vgroup: ['greeting'],
    // The broker's history service speaks its own JSON there (src/lib/history.ts), not envelopes.
    'history.request': [],
    'history.response': [],
    'history.sync': [],
};

export const DEFAULT_MAX_PAYLOAD = 256 * 1024;
const MAX_ID_LENGTH = 128;

export interface NewMessage {
    type: MessageType;
    from: string;
    to?: string;
    text?: string;
    data?: Record<string, unknown>;
}

export function createEnvelope(fields: NewMessage, now: number = Date.now()): Envelope {
    const envelope: Envelope = { v: ENVELOPE_VERSION, id: newMessageId(now), type: fields.type, from: fields.from, ts: now };
    if (fields.to !== undefined) envelope.to = fields.to;
    if (fields.text !== undefined) envelope.text = fields.text;
    if (fields.data !== undefined) envelope.data = fields.data;
    return envelope;
}

/** The wire form; refuses an envelope larger than `maxBytes` before anything is published. */
export function encodeEnvelope(envelope: Envelope, maxBytes: number = DEFAULT_MAX_PAYLOAD): Buffer {
    const payload = Buffer.from(JSON.stringify(envelope), 'utf8');
    if (payload.length > maxBytes) {
        throw new ImsError(`Message is ${payload.length} bytes; the limit is ${maxBytes}`, 'IMS_TOO_LARGE');
    }
    return payload;
}

/**
 * Turns a received payload into a message. Throws ImsError with code IMS_TOO_LARGE, IMS_MALFORMED or
 * IMS_SPOOFED; the caller reports it and goes on with the next message.
 */
export function decodeMessage(
    payload: Buffer | string,
    parsed: ParsedTopic,
    maxBytes: number = DEFAULT_MAX_PAYLOAD,
    now: number = Date.now(),
): ImsMessage {
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    if (bytes.length > maxBytes) {
        throw new ImsError(`Message on ${parsed.topic} is ${bytes.length} bytes; the limit is ${maxBytes}`, 'IMS_TOO_LARGE');
    }
    const text = decodeUtf8(bytes, parsed.topic);
    const body = parseJsonObject(text);
    const allowed = TYPES_BY_TOPIC[parsed.kind];
    const topicSender = parsed.from;

    if (body && isEnvelope(body)) {
        const envelope = checkEnvelope(body, parsed.topic);
        if (!allowed.includes(envelope.type)) {
            throw malformed(parsed.topic, `type "${envelope.type}" does not belong on a ${parsed.kind} topic`);
        }
        if (topicSender !== undefined && envelope.from !== undefined && envelope.from !== topicSender) {
            throw new ImsError(
                `Spoofed sender on ${parsed.topic}: the payload claims "${envelope.from}" but the topic says "${topicSender}"`,
                'IMS_SPOOFED',
            );
        }
        const from = topicSender ?? envelope.from;
        if (from === undefined) throw malformed(parsed.topic, 'no sender in the topic or the payload');
        const message: ImsMessage = {
            v: ENVELOPE_VERSION,
            id: envelope.id,
            type: envelope.type,
            from,
            ts: envelope.ts ?? now,
            topic: parsed.topic,
            kind: parsed.kind,
            verified: topicSender !== undefined,
            enveloped: true,
        };
        addTopicFields(message, parsed);
        const to = parsed.to ?? envelope.to;
        if (to !== undefined) message.to = to;
        if (envelope.text !== undefined) message.text = envelope.text;
        if (envelope.data !== undefined) message.data = envelope.data;
        checkCarriedAttachment(message);
        return message;
    }
    if (topicSender === undefined) {
        throw malformed(parsed.topic, 'a payload without the envelope cannot name its sender on this topic');
    }
    // Plain text or JSON without the envelope: type and sender come from the topic.
    const message: ImsMessage = {
        v: ENVELOPE_VERSION,
        id: newMessageId(now),
        type: allowed[0],
        from: topicSender,
        ts: now,
        topic: parsed.topic,
        kind: parsed.kind,
        verified: true,
        enveloped: false,
    };
    addTopicFields(message, parsed);
    if (parsed.to !== undefined) message.to = parsed.to;
    if (body) {
        message.data = body;
        if (typeof body.text === 'string') message.text = body.text;
    } else {
        message.text = text;
    }
    checkCarriedAttachment(message);
    return message;
}

/** The types that may carry `data.attachment` (pictures and files, src/lib/attachments.ts). */
export const ATTACHMENT_CARRIERS: ReadonlySet<MessageType> = new Set(['chat', 'group.message']);

/** A carried attachment is checked like the rest of the message: a bad one refuses the whole message. */
function checkCarriedAttachment(message: ImsMessage): void {
    const attachment = message.data?.attachment;
    if (attachment === undefined) return;
    if (!ATTACHMENT_CARRIERS.has(message.type)) {
        throw new AttachmentError(`Malformed message on ${message.topic}: a ${message.type} carries no attachment`, 'IMS_MALFORMED');
    }
    try {
        checkAttachment(attachment);
    } catch (error) {
        const e = error as ImsError;
        throw new AttachmentError(`${e.message} (on ${message.topic})`, e.code);
    }
}

// Fields are assigned one by one rather than spread: objects built with spread syntax on this path
// made V8 keep each message's strings past young-generation GCs (docs/PERFORMANCE.md).
function addTopicFields(message: ImsMessage, parsed: ParsedTopic): void {
    if (parsed.group !== undefined) message.group = parsed.group;
    if (parsed.region !== undefined) message.region = parsed.region;
}

function isEnvelope(body: Record<string, unknown>): boolean {
    return 'v' in body && 'type' in body;
}

interface ReceivedEnvelope extends Omit<Envelope, 'from' | 'ts'> {
    from?: string;
    ts?: number;
}

function checkEnvelope(body: Record<string, unknown>, topic: string): ReceivedEnvelope {
    if (body.v !== ENVELOPE_VERSION) throw malformed(topic, `unsupported envelope version ${JSON.stringify(body.v)}`);
    if (!MESSAGE_TYPES.includes(body.type as MessageType)) {
        throw malformed(topic, `unknown type ${JSON.stringify(body.type)}`);
    }
    if (typeof body.id !== 'string' || body.id.length === 0 || body.id.length > MAX_ID_LENGTH) {
        throw malformed(topic, `"id" must be a string of 1 to ${MAX_ID_LENGTH} characters`);
    }
    for (const field of ['from', 'to', 'text'] as const) {
        if (body[field] !== undefined && typeof body[field] !== 'string') throw malformed(topic, `"${field}" must be a string`);
    }
    if (body.ts !== undefined && !(typeof body.ts === 'number' && Number.isFinite(body.ts))) {
        throw malformed(topic, '"ts" must be a number of milliseconds');
    }
    if (body.data !== undefined && !isPlainObject(body.data)) throw malformed(topic, '"data" must be an object');
    return body as unknown as ReceivedEnvelope;
}

function parseJsonObject(text: string): Record<string, unknown> | null {
    if (!text.startsWith('{')) return null;
    try {
        const value: unknown = JSON.parse(text);
        return isPlainObject(value) ? value : null;
    } catch {
        return null; // text that merely starts with "{" is still plain text
    }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Node's native check then toString is several times faster than a fatal TextDecoder on the hot path;
// Node 18 before 18.14 has no isUtf8, and falls back to the decoder.
const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });
const isUtf8: (bytes: Buffer) => boolean =
    (bufferModule as { isUtf8?: (bytes: Buffer) => boolean }).isUtf8 ??
    ((bytes) => {
        try {
            fatalUtf8.decode(bytes);
            return true;
        } catch {
            return false;
        }
    });

function decodeUtf8(bytes: Buffer, topic: string): string {
    if (!isUtf8(bytes)) throw malformed(topic, 'the payload is not valid UTF-8');
    return bytes.toString('utf8');
}

function malformed(topic: string, why: string): ImsError {
    return new ImsError(`Malformed message on ${topic}: ${why}`, 'IMS_MALFORMED');
}

// --- message IDs ------------------------------------------------------------------------------------

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Random bytes drawn from the OS 4 KiB at a time: one call per message was a measurable cost. */
let pool = randomBytes(4096);
let poolOffset = 0;

/** A ULID: 48-bit millisecond time and 80 random bits in Crockford base32, so IDs sort by time. */
export function newMessageId(now: number = Date.now()): string {
    let time = '';
    for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32] + time;
    if (poolOffset + 16 > pool.length) {
        pool = randomBytes(4096);
        poolOffset = 0;
    }
    let tail = '';
    for (let i = 0; i < 16; i++) tail += CROCKFORD[pool[poolOffset + i] & 31];
    poolOffset += 16;
    return time + tail;
}
