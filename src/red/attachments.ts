// Pictures and files in flows: a Buffer msg.payload with msg.filename (and msg.contentType, else the
// name's type) is sent as an attachment; a received one comes out as a Buffer msg.payload with
// msg.filename and msg.contentType. The same shape in and out, so a flow can pass a file on unchanged.

import type { NodeAPI } from 'node-red';
import { checkAttachment, makeAttachment } from '../lib/attachments';
import type { ImsMessage } from '../lib/envelope';
import { requireContent } from './actions';
import type { ImsMeta, ImsNodeMessage } from './messages';

interface FileFields {
    filename?: unknown;
    contentType?: unknown;
}

export type FileMessage = ImsNodeMessage & FileFields;

/** What to send for msg: an attachment when it carries a file, else the text or data of msg.payload. */
export function outgoingContent(RED: NodeAPI, msg: FileMessage): { text?: string; data?: Record<string, unknown> } {
    if (!Buffer.isBuffer(msg.payload) || typeof msg.filename !== 'string' || !msg.filename) return requireContent(RED, msg.payload);
    const name = msg.filename.split(/[/\\]/).pop() || msg.filename;
    const type = typeof msg.contentType === 'string' && msg.contentType ? msg.contentType : undefined;
    return { data: { attachment: makeAttachment(msg.payload, { name, type }) } };
}

/** A received attachment as msg.payload (Buffer), msg.filename and msg.contentType; msg.ims.data keeps its description. */
export function withAttachment<T extends ImsNodeMessage & { ims: ImsMeta }>(out: T, message: ImsMessage): T & FileFields {
    const carried = message.data?.attachment;
    if (carried === undefined) return out;
    // Checked on arrival already (decodeMessage): this only decodes it.
    const { attachment, bytes } = checkAttachment(carried);
    const description: Record<string, unknown> = { name: attachment.name, type: attachment.type, size: attachment.size };
    if (attachment.width) description.width = attachment.width;
    if (attachment.height) description.height = attachment.height;
    return {
        ...out,
        payload: bytes,
        filename: attachment.name,
        contentType: attachment.type,
        ims: { ...out.ims, data: { ...message.data, attachment: description } },
    };
}
