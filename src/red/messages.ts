// One message shape in and out: what a receiving node sends is what a sending node takes, so a reply
// is one function node away. msg.topic is the peer (user, group or region), msg.payload the text or data.

import type { NodeMessage } from 'node-red';
import { ImsMessage } from '../lib/envelope';

export interface ImsMeta {
    type: string;
    from: string;
    to?: string;
    group?: string;
    region?: string;
    id: string;
    ts: number;
    /** The MQTT topic it came on. */
    topic: string;
    verified: boolean;
    data?: Record<string, unknown>;
    clientId?: string;
}

export type ImsNodeMessage = NodeMessage & { ims?: Partial<ImsMeta>; action?: string };

export function toNodeRedMessage(message: ImsMessage): ImsNodeMessage & { ims: ImsMeta } {
    const ims: ImsMeta = {
        type: message.type,
        from: message.from,
        id: message.id,
        ts: message.ts,
        topic: message.topic,
        verified: message.verified,
    };
    if (message.to !== undefined) ims.to = message.to;
    if (message.group !== undefined) ims.group = message.group;
    if (message.region !== undefined) ims.region = message.region;
    if (message.data !== undefined) ims.data = message.data;
    return {
        // The peer: the group for group traffic, the region for system pushes, else the sender.
        topic: message.group ?? (message.type === 'system' ? message.region : undefined) ?? message.from,
        payload: message.text !== undefined ? message.text : (message.data ?? {}),
        ims,
    };
}

/** The text and data to send, from msg.payload: a string is the text; an object gives `text` and `data`. */
export function contentOf(payload: unknown): { text?: string; data?: Record<string, unknown> } {
    if (payload === undefined || payload === null) return {};
    if (typeof payload !== 'object') return { text: String(payload) };
    if (Buffer.isBuffer(payload)) return { text: payload.toString('utf8') };
    const body = payload as Record<string, unknown>;
    if (typeof body.text === 'string' || (typeof body.data === 'object' && body.data !== null)) {
        const content: { text?: string; data?: Record<string, unknown> } = {};
        if (typeof body.text === 'string') content.text = body.text;
        if (typeof body.data === 'object' && body.data !== null) content.data = body.data as Record<string, unknown>;
        return content;
    }
    return { data: body };
}

/** Node configuration wins over msg; a blank setting is filled from msg. */
export function configOr<T>(configured: T | '' | undefined, fromMsg: T | undefined): T | undefined {
    return configured !== undefined && configured !== '' ? configured : fromMsg;
}
