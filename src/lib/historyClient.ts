// The client side of the broker's history service (src/lib/history.ts has the wire format): a request
// with a correlation ID on P/<me>/History/Req/<device>, its answer awaited on P/<me>/History/Resp/<device>
// with a timeout, and what the broker pushes on P/<me>/History/Sync emitted as 'sync'. Used by the
// session (ImsSession.history), hence by the ims-chat and ims-group nodes and by the web client.

import { EventEmitter } from 'events';
import type { Capabilities } from './capabilities';
import type { Conversation } from './chatEvents';
import { conversationKey } from './chatEvents';
import type { QoS } from './connection';
import {
    ConversationId,
    ConversationPage,
    ConversationSummary,
    HistoryResponse,
    HistorySync,
    HISTORY_VERSION,
    MAX_SINCE_CONVERSATIONS,
} from './history';
import { ImsError } from './ids';
import type { TopicCodec } from './topics';

export const DEFAULT_HISTORY_TIMEOUT_MS = 10000;
/** Requests one client keeps waiting at once; more are refused at once rather than queued without end. */
const MAX_IN_FLIGHT = 50;
const OWNER = 'ims:history';

/** What the history client needs of a session. */
export interface HistoryContext {
    readonly userId: string;
    readonly deviceId: string;
    readonly codec: TopicCodec;
    hold(owner: string, topics: string[]): Promise<void>;
    capabilities(): Promise<Capabilities>;
    publishRaw(topic: string, payload: string, qos: QoS): Promise<void>;
}

export declare interface HistoryClient {
    on(event: 'sync', listener: (sync: HistorySync) => void): this;
}

export class HistoryClient extends EventEmitter {
    private readonly pending = new Map<string, { resolve: (response: HistoryResponse) => void; timer: ReturnType<typeof setTimeout> }>();
    private counter = 0;
    private started: Promise<void> | undefined;

    constructor(
        private readonly s: HistoryContext,
        readonly timeoutMs = DEFAULT_HISTORY_TIMEOUT_MS,
    ) {
        super();
    }

    /** True when the broker keeps history (its capabilities say so). */
    async available(): Promise<boolean> {
        return (await this.s.capabilities()).history;
    }

    /** Subscribes the answer and sync topics (once; they are re-subscribed on every reconnect). */
    start(): Promise<void> {
        if (!this.started) {
            const { codec, userId, deviceId } = this.s;
            this.started = this.s.hold(OWNER, [codec.historyResponse(userId, deviceId), codec.historySync(userId)]);
            this.started.catch(() => (this.started = undefined));
        }
        return this.started;
    }

    /** The newest `limit` entries of a conversation before sequence `before` (the newest when unset). */
    async page(conversation: Conversation | ConversationId, options: { before?: number; limit?: number } = {}): Promise<ConversationPage> {
        const response = await this.ask({ op: 'page', conversation: idOf(conversation), ...options });
        if (!response.ok || response.op !== 'page') throw unexpected(response);
        const { v: _v, id: _id, ok: _ok, op: _op, ...page } = response;
        return page;
    }

    /** What is newer than each cursor (unlisted conversations: from the start), oldest first, `limit` per conversation. */
    async since(after: Record<ConversationId, number>, limit?: number): Promise<ConversationPage[]> {
        if (Object.keys(after).length > MAX_SINCE_CONVERSATIONS) {
            throw new ImsError(`A history request may name ${MAX_SINCE_CONVERSATIONS} conversations`, 'IMS_TOO_LARGE');
        }
        const response = await this.ask({ op: 'since', after, limit });
        if (!response.ok || response.op !== 'since') throw unexpected(response);
        return response.conversations;
    }

    /** Every conversation of the user with its last message, read mark and unread count. */
    async conversations(): Promise<ConversationSummary[]> {
        const response = await this.ask({ op: 'conversations' });
        if (!response.ok || response.op !== 'conversations') throw unexpected(response);
        return response.conversations;
    }

    /** A message on the answer or sync topic (the session hands them over). */
    receive(kind: 'history.response' | 'history.sync', payload: Buffer): void {
        let body: unknown;
        try {
            body = JSON.parse(payload.toString('utf8'));
        } catch {
            return; // only the broker publishes there; anything else is not an answer
        }
        if (typeof body !== 'object' || body === null || (body as { v?: unknown }).v !== HISTORY_VERSION) return;
        if (kind === 'history.sync') {
            this.emit('sync', body as HistorySync);
            return;
        }
        const response = body as HistoryResponse;
        const waiting = this.pending.get(response.id);
        if (!waiting) return; // another device's answer, or one that came too late
        this.pending.delete(response.id);
        clearTimeout(waiting.timer);
        waiting.resolve(response);
    }

    /** Rejects whatever still waits (the session is closing). */
    close(): void {
        for (const [id, waiting] of this.pending) {
            clearTimeout(waiting.timer);
            waiting.resolve({ v: 1, id, ok: false, error: { code: 'IMS_CLOSED', message: 'The session closed' } });
        }
        this.pending.clear();
    }

    private async ask(request: Record<string, unknown>): Promise<HistoryResponse> {
        if (this.pending.size >= MAX_IN_FLIGHT)
            throw new ImsError(`${MAX_IN_FLIGHT} history requests are already waiting`, 'IMS_RATE_LIMITED');
        await this.start();
        const { codec, userId, deviceId } = this.s;
        const id = `${deviceId}-${Date.now().toString(36)}-${++this.counter}`;
        const answered = new Promise<HistoryResponse>((resolve) => {
            const timer = setTimeout(() => {
                this.pending.delete(id);
                resolve({ v: 1, id, ok: false, error: { code: 'IMS_TIMEOUT', message: `No history answer within ${this.timeoutMs} ms` } });
            }, this.timeoutMs);
            this.pending.set(id, { resolve, timer });
        });
        try {
            await this.s.publishRaw(codec.historyRequest(userId, deviceId), JSON.stringify({ v: HISTORY_VERSION, id, ...request }), 1);
        } catch (error) {
            clearTimeout(this.pending.get(id)?.timer);
            this.pending.delete(id);
            throw error;
        }
        return answered;
    }
}

function idOf(conversation: Conversation | ConversationId): ConversationId {
    return typeof conversation === 'string' ? conversation : conversationKey(conversation);
}

function unexpected(response: HistoryResponse): ImsError {
    return response.ok
        ? new ImsError(`Unexpected history answer "${response.op}"`, 'IMS_UNEXPECTED')
        : new ImsError(`History: ${response.error.message}`, response.error.code);
}
