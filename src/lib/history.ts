// The history service's wire format (docs/PROTOCOL.md, "History and multi-device sync"): what a device
// asks on P/<me>/History/Req/<device>, what the embedded broker answers on P/<me>/History/Resp/<device>
// and pushes on P/<me>/History/Sync. One definition for the broker (src/lib/broker/history.ts) and
// the clients (src/lib/historyClient.ts), so both read requests and answers by the same rules.

import type { Envelope } from './envelope';
import { ImsError } from './ids';

export const HISTORY_VERSION = 1;
/** Entries one page may hold; a request for more gets this many. */
export const MAX_PAGE = 200;
export const DEFAULT_PAGE = 50;
/** A request larger than this is refused unread. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** Conversations one "since" request may name. */
export const MAX_SINCE_CONVERSATIONS = 1000;
/** Unread counts stop here ("1000 or more"): counting further would read a long conversation for a badge. */
export const MAX_UNREAD = 1000;

/** Message types kept in history; typing, receipts and the rest are not. */
export const STORED_TYPES: readonly string[] = ['chat', 'greeting', 'group.message', 'edit', 'recall'];
/** Of those, the ones a person reads (and counts as unread). */
export const READABLE_TYPES: readonly string[] = ['chat', 'greeting', 'group.message'];

/** One stored message. `seq` orders a conversation the same way for every device. */
export interface HistoryEntry {
    seq: number;
    /** When the broker received it (ms since 1970). */
    at: number;
    message: Envelope;
    /** Set once an edit by its sender was applied: the edit's `ts`. */
    edited?: number;
    /** Set once its sender recalled it; its text and data are gone. */
    recalled?: boolean;
}

/** A conversation as the history names it: `u:<peer>` or `g:<group>` (chatEvents.conversationKey). */
export type ConversationId = string;

export type HistoryRequest =
    | { v: 1; id: string; op: 'page'; conversation: ConversationId; before?: number; limit?: number }
    | { v: 1; id: string; op: 'since'; after: Record<ConversationId, number>; limit?: number }
    | { v: 1; id: string; op: 'conversations' };

export interface ConversationSummary {
    conversation: ConversationId;
    /** The highest sequence number stored in it (0 when none). */
    lastSeq: number;
    /** The user's read-up-to mark (0 when none). */
    readUpTo: number;
    /** Readable messages of others after the mark, at most MAX_UNREAD. */
    unread: number;
    /** The newest readable entry, in "conversations" answers. */
    last?: HistoryEntry;
}

export interface ConversationPage extends ConversationSummary {
    /** Oldest first. */
    entries: HistoryEntry[];
    /** True when more entries lie beyond this page (before it for "page", after it for "since"). */
    more: boolean;
}

export type HistoryResponse =
    | ({ v: 1; id: string; ok: true; op: 'page' } & ConversationPage)
    | { v: 1; id: string; ok: true; op: 'since'; conversations: ConversationPage[] }
    | { v: 1; id: string; ok: true; op: 'conversations'; conversations: ConversationSummary[] }
    | { v: 1; id: string; ok: false; error: { code: string; message: string } };

/** What the broker pushes to every device of a user. */
export type HistorySync =
    | { v: 1; op: 'entry'; conversation: ConversationId; entry: HistoryEntry }
    | { v: 1; op: 'read'; conversation: ConversationId; readUpTo: number; unread: number };

const CONVERSATION = /^[ug]:[^/+#\s]{1,256}$/;

/** A request as the broker reads it; an ImsError (IMS_MALFORMED, IMS_TOO_LARGE) names what is wrong. */
export function parseHistoryRequest(payload: Buffer): HistoryRequest {
    if (payload.length > MAX_REQUEST_BYTES) {
        throw new ImsError(`A history request is ${payload.length} bytes; the limit is ${MAX_REQUEST_BYTES}`, 'IMS_TOO_LARGE');
    }
    let body: unknown;
    try {
        body = JSON.parse(payload.toString('utf8'));
    } catch {
        throw malformed('not JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw malformed('not a JSON object');
    const fields = body as Record<string, unknown>;
    if (fields.v !== HISTORY_VERSION) throw malformed(`unsupported version ${JSON.stringify(fields.v)}`);
    const id = fields.id;
    if (typeof id !== 'string' || id.length === 0 || id.length > 128) throw malformed('"id" must be a string of 1 to 128 characters');
    const limit = optionalCount(fields.limit, 'limit');
    switch (fields.op) {
        case 'page': {
            if (!isConversation(fields.conversation)) throw malformed('"conversation" must be u:<user> or g:<group>');
            return { v: 1, id, op: 'page', conversation: fields.conversation, before: optionalCount(fields.before, 'before'), limit };
        }
        case 'since': {
            const after = fields.after ?? {};
            if (typeof after !== 'object' || after === null || Array.isArray(after)) throw malformed('"after" must be an object');
            const entries = Object.entries(after as Record<string, unknown>);
            if (entries.length > MAX_SINCE_CONVERSATIONS)
                throw malformed(`"after" names more than ${MAX_SINCE_CONVERSATIONS} conversations`);
            const cursors: Record<ConversationId, number> = {};
            for (const [conversation, seq] of entries) {
                if (!CONVERSATION.test(conversation)) throw malformed(`"${conversation.slice(0, 40)}" is not a conversation`);
                cursors[conversation] = optionalCount(seq, conversation) ?? 0;
            }
            return { v: 1, id, op: 'since', after: cursors, limit };
        }
        case 'conversations':
            return { v: 1, id, op: 'conversations' };
        default:
            throw malformed('"op" must be page, since or conversations');
    }
}

/** The page size a request gets: its limit, within 1..MAX_PAGE. */
export function pageSize(limit: number | undefined): number {
    return Math.min(Math.max(limit ?? DEFAULT_PAGE, 1), MAX_PAGE);
}

export function isConversation(value: unknown): value is ConversationId {
    return typeof value === 'string' && CONVERSATION.test(value);
}

/** A conversation's two parts: `u:Bob` is { kind: 'user', id: 'Bob' }. */
export function splitConversation(conversation: ConversationId): { kind: 'user' | 'group'; id: string } {
    return { kind: conversation.startsWith('g:') ? 'group' : 'user', id: conversation.slice(2) };
}

function optionalCount(value: unknown, name: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw malformed(`"${name}" must be a whole number ≥ 0`);
    return value;
}

function malformed(reason: string): ImsError {
    return new ImsError(`Malformed history request: ${reason}`, 'IMS_MALFORMED');
}
