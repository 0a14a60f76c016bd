// History and multi-device sync (docs/PROTOCOL.md, "History and multi-device sync"). The broker keeps
// each user's messages as they pass its publish check: a 1:1 log per owner and peer (the sender's and
// the recipient's, so a block keeps the blocked user's messages out of the blocker's) and one log per
// group (read by its members; a reader's blocks are applied when it reads). Edits and recalls by a
// message's own sender are applied to the stored message and kept as entries of their own, so a device
// that asks "since" sees them. `read` receipts with `upTo` move the reader's mark. A device asks on
// P/<me>/History/Req/<device> and is answered on P/<me>/History/Resp/<device>; what one device sends
// or reads is pushed to all of its user's devices on P/<me>/History/Sync. All of it runs in one queue:
// an answer sees every message that arrived before its request.

import type { Aedes } from 'aedes' with { 'resolution-mode': 'import' };
import { DEFAULT_RECALL_WINDOW_MS } from '../chatEvents';
import { decodeMessage, Envelope, ImsMessage } from '../envelope';
import {
    ConversationPage,
    ConversationSummary,
    HistoryEntry,
    HistoryRequest,
    HistoryResponse,
    HistorySync,
    MAX_UNREAD,
    pageSize,
    parseHistoryRequest,
    READABLE_TYPES,
    splitConversation,
    STORED_TYPES,
} from '../history';
import { ImsError } from '../ids';
import type { ParsedTopic, TopicCodec } from '../topics';
import type { Refusal } from './context';
import type { PolicyFacts } from './facts';
import { groupLog, HistoryBounds, HistoryStore, isGroupLog, userLog } from './historyStore';
import type { BrokerIdentity } from './policy';

/** An answer stops adding entries past this many bytes (and says `more`); one entry always fits. */
const MAX_RESPONSE_BYTES = 512 * 1024;
const REQUEST_WINDOW_MS = 60000;

export interface HistoryOptions {
    store: HistoryStore;
    bounds: HistoryBounds;
    /** Requests one user may make per minute (Infinity: no limit). */
    requestsPerMinute: number;
    aedes: Aedes;
    codec: TopicCodec;
    facts: PolicyFacts;
    isAccount(user: string): boolean;
    /** The user a device's Client ID is bound to (for p2p chats). */
    ownerOf(clientId: string): string | undefined;
    refuse(refusal: Refusal): void;
    onError(error: Error): void;
}

export class HistoryService {
    private queue: Promise<unknown> = Promise.resolve();
    private readonly windows = new Map<string, { count: number; since: number }>();

    constructor(private readonly o: HistoryOptions) {}

    /** Takes a publish the policy allowed. True when it is a history request: the broker routes it nowhere. */
    observe(identity: BrokerIdentity, parsed: ParsedTopic, payload: Buffer, clientId: string): boolean {
        if (parsed.kind === 'history.request') {
            this.request(identity, parsed, payload, clientId);
            return true;
        }
        if (parsed.kind !== 'chat' && parsed.kind !== 'group' && parsed.kind !== 'p2p') return false;
        const message = readMessage(payload, parsed);
        if (!message) return false;
        const sender = identity.user;
        const at = Date.now();
        if (parsed.kind === 'group') {
            if (STORED_TYPES.includes(message.type))
                this.run(() => this.keepGroup(parsed.group as string, envelopeOf(message, sender), at));
            return false;
        }
        const peer = parsed.kind === 'p2p' ? this.o.ownerOf(parsed.clientId as string) : parsed.to;
        if (peer === undefined || peer === sender) return false;
        if (message.type === 'receipt') this.run(() => this.markRead(sender, peer, message));
        else if (STORED_TYPES.includes(message.type)) this.run(() => this.keepChat(sender, peer, envelopeOf(message, sender, peer), at));
        return false;
    }

    /**
     * A greeting the broker expanded from a virtual group: kept in both sides' conversations with each
     * member, as a greeting sent to each of them one by one would be (at most membersPerVirtualGroup).
     */
    keepExpanded(sender: string, recipients: string[], payload: Buffer): void {
        const at = Date.now();
        // Every member got the same payload: read it once (each stored copy names its own recipient).
        const message = readMessage(payload, { kind: 'chat', topic: '', from: sender });
        if (!message || !STORED_TYPES.includes(message.type)) return;
        for (const member of recipients) {
            if (member === sender) continue;
            this.run(() => this.keepChat(sender, member, envelopeOf(message, sender, member), at));
        }
    }

    /** Waits for what is queued, then lets the store go (the disk store closes the database itself). */
    async close(): Promise<void> {
        await this.queue;
        await this.o.store.close();
    }

    /** Resolves once everything queued so far is done (tests, and answers, rely on this order). */
    settled(): Promise<void> {
        return this.queue.then(() => undefined);
    }

    private run(job: () => Promise<void>): void {
        this.queue = this.queue.then(job).catch((error: Error) => this.o.onError(error));
    }

    // --- keeping ----------------------------------------------------------------------------------

    private async keepChat(sender: string, peer: string, message: Envelope, at: number): Promise<void> {
        const facts = this.o.facts;
        const sent = await this.keepIn(userLog(sender, peer), message, sender, at);
        if (sent) this.push(sender, { v: 1, op: 'entry', conversation: `u:${peer}`, entry: sent });
        // The recipient keeps it unless it blocked the sender (then it never shows on any of its devices).
        if (this.o.isAccount(peer) && !facts.isBlocked(peer, sender)) await this.keepIn(userLog(peer, sender), message, sender, at);
    }

    private async keepGroup(group: string, message: Envelope, at: number): Promise<void> {
        await this.keepIn(groupLog(group), message, message.from, at);
    }

    /** Appends a message, or applies an edit or recall to its target first; an edit of another's message is not kept. */
    private async keepIn(log: string, message: Envelope, sender: string, at: number): Promise<HistoryEntry | undefined> {
        const { store, bounds } = this.o;
        if (message.type === 'edit' || message.type === 'recall') {
            const targetId = message.data?.target;
            const target = typeof targetId === 'string' ? await store.find(log, targetId) : undefined;
            if (!target || target.message.from !== sender || target.recalled) return undefined;
            if (message.type === 'recall') {
                if (message.ts - target.message.ts > DEFAULT_RECALL_WINDOW_MS) return undefined;
                const { text: _text, data: _data, ...rest } = target.message;
                await store.replace(log, { ...target, message: rest, recalled: true });
            } else {
                await store.replace(log, { ...target, message: { ...target.message, text: message.text }, edited: message.ts });
            }
        }
        return store.append(log, at, message, bounds);
    }

    private async markRead(reader: string, peer: string, receipt: ImsMessage): Promise<void> {
        const { store, facts } = this.o;
        const upTo = receipt.data?.upTo;
        if (receipt.data?.status !== 'read' || typeof upTo !== 'string') return;
        const group = receipt.data?.group;
        if (group !== undefined && (typeof group !== 'string' || !facts.isMember(group, reader))) return;
        const conversation = group !== undefined ? `g:${group}` : `u:${peer}`;
        const log = group !== undefined ? groupLog(group) : userLog(reader, peer);
        // Only a message of the receipt's addressee, in a conversation the reader has, moves the mark.
        const entry = await store.find(log, upTo);
        if (!entry || entry.message.from !== peer || entry.seq <= (await store.mark(reader, conversation))) return;
        await store.setMark(reader, conversation, entry.seq);
        const unread = await this.unread(reader, log, entry.seq);
        this.push(reader, { v: 1, op: 'read', conversation, readUpTo: entry.seq, unread });
    }

    // --- answering --------------------------------------------------------------------------------

    private request(identity: BrokerIdentity, parsed: ParsedTopic, payload: Buffer, clientId: string): void {
        const user = identity.user;
        const topic = parsed.topic;
        let responseTopic: string;
        try {
            responseTopic = this.o.codec.historyResponse(user, parsed.device as string);
        } catch (error) {
            // A device level that fits the request topic but not the answer's (the cloud profile's 64 characters).
            this.o.refuse({ user, clientId, action: 'publish', topic, reason: (error as Error).message });
            return;
        }
        const answer = (response: HistoryResponse): void => this.publish(responseTopic, response);
        const over = this.overLimit(user);
        if (over) {
            const reason = `more than ${this.o.requestsPerMinute} history requests a minute`;
            this.o.refuse({ user, clientId, action: 'limit', topic, reason });
            // One answer says why; the rest of a flood is not answered at all.
            if (over === 'first') answer({ v: 1, id: requestId(payload), ok: false, error: { code: 'IMS_RATE_LIMITED', message: reason } });
            return;
        }
        let request: HistoryRequest;
        try {
            request = parseHistoryRequest(payload);
        } catch (error) {
            const { code, message } = error as ImsError;
            this.o.refuse({ user, clientId, action: 'publish', topic, reason: message });
            return answer({ v: 1, id: requestId(payload), ok: false, error: { code, message } });
        }
        this.run(async () => {
            try {
                answer(await this.respond(user, request));
            } catch (error) {
                const { code, message } = error as ImsError;
                answer({ v: 1, id: request.id, ok: false, error: { code: code ?? 'IMS_STORE', message } });
            }
        });
    }

    private async respond(user: string, request: HistoryRequest): Promise<HistoryResponse> {
        switch (request.op) {
            case 'page': {
                const log = this.logOf(user, request.conversation);
                const before = request.before ?? (await this.o.store.lastSeq(log)) + 1;
                const { page } = await this.page(user, request.conversation, log, { before, limit: pageSize(request.limit) });
                return { v: 1, id: request.id, ok: true, op: 'page', ...page };
            }
            case 'since': {
                const cursors = new Map(Object.entries(request.after));
                for (const conversation of await this.conversationsOf(user)) if (!cursors.has(conversation)) cursors.set(conversation, 0);
                const conversations: ConversationPage[] = [];
                let budget = MAX_RESPONSE_BYTES;
                for (const [conversation, after] of cursors) {
                    const log = this.readableLog(user, conversation);
                    if (!log || (await this.o.store.lastSeq(log)) <= after) continue;
                    const page = await this.page(user, conversation, log, { after, limit: pageSize(request.limit) }, budget);
                    budget -= page.bytes;
                    conversations.push(page.page);
                }
                return { v: 1, id: request.id, ok: true, op: 'since', conversations };
            }
            case 'conversations': {
                const conversations: ConversationSummary[] = [];
                for (const conversation of await this.conversationsOf(user)) {
                    const log = this.readableLog(user, conversation) as string;
                    const summary = await this.summary(user, conversation, log);
                    const recent = (await this.o.store.range(log, { before: summary.lastSeq + 1, limit: 20 }, this.minAt())).filter((e) =>
                        this.shows(user, log, e, true),
                    );
                    if (recent.length > 0) summary.last = recent[recent.length - 1];
                    conversations.push(summary);
                }
                return { v: 1, id: request.id, ok: true, op: 'conversations', conversations };
            }
        }
    }

    /** One conversation's entries from a cursor, within a byte budget; `bytes` is what they took. */
    private async page(
        user: string,
        conversation: string,
        log: string,
        query: { before?: number; after?: number; limit: number },
        budget = MAX_RESPONSE_BYTES,
    ): Promise<{ page: ConversationPage; bytes: number }> {
        const found = await this.o.store.range(log, query, this.minAt());
        const backwards = query.after === undefined;
        // When the budget runs out, the entries nearest the cursor are the ones kept.
        const ordered = backwards ? [...found].reverse() : found;
        const entries: HistoryEntry[] = [];
        let bytes = 0;
        let taken = 0;
        for (const entry of ordered) {
            const size = JSON.stringify(entry).length;
            if (taken > 0 && bytes + size > budget) break;
            taken++;
            if (!this.shows(user, log, entry, false)) continue;
            bytes += size;
            entries.push(entry);
        }
        if (backwards) entries.reverse();
        const more = taken < found.length || found.length === query.limit;
        return { page: { ...(await this.summary(user, conversation, log)), entries, more }, bytes };
    }

    private async summary(user: string, conversation: string, log: string): Promise<ConversationSummary> {
        const lastSeq = await this.o.store.lastSeq(log);
        const readUpTo = await this.o.store.mark(user, conversation);
        return { conversation, lastSeq, readUpTo, unread: await this.unread(user, log, readUpTo) };
    }

    private async unread(user: string, log: string, mark: number): Promise<number> {
        const after = await this.o.store.range(log, { after: mark, limit: MAX_UNREAD }, this.minAt());
        return after.filter((entry) => entry.message.from !== user && this.shows(user, log, entry, true)).length;
    }

    /**
     * Is this entry for this reader, and, when `readable`, a message a person reads? A 1:1 log never
     * took a blocked sender's messages; a group's log is shared, so a reader's blocks apply as it reads.
     */
    private shows(user: string, log: string, entry: HistoryEntry, readable: boolean): boolean {
        if (readable && (!READABLE_TYPES.includes(entry.message.type) || entry.recalled)) return false;
        return !isGroupLog(log) || entry.message.from === user || !this.o.facts.isBlocked(user, entry.message.from);
    }

    /** The user's 1:1 logs and the groups it is a member of. */
    private async conversationsOf(user: string): Promise<string[]> {
        const peers = (await this.o.store.peersOf(user)).map((peer) => `u:${peer}`);
        return [...peers, ...this.o.facts.groupNamesOf(user).map((group) => `g:${group}`)];
    }

    /** The log behind a conversation the user may read, or undefined (a group it is not in). */
    private readableLog(user: string, conversation: string): string | undefined {
        const { kind, id } = splitConversation(conversation);
        if (kind === 'user') return userLog(user, id);
        return this.o.facts.isMember(id, user) ? groupLog(id) : undefined;
    }

    private logOf(user: string, conversation: string): string {
        const log = this.readableLog(user, conversation);
        if (!log) throw new ImsError(`${user} is not a member of ${conversation.slice(2)}`, 'IMS_FORBIDDEN');
        return log;
    }

    private minAt(): number {
        return Date.now() - this.o.bounds.maxAgeMs;
    }

    /** Too many requests in this minute: 'first' for the first one over, 'again' after it. */
    private overLimit(user: string): 'first' | 'again' | undefined {
        const now = Date.now();
        let window = this.windows.get(user);
        if (!window || now - window.since > REQUEST_WINDOW_MS) {
            if (this.windows.size >= 10000) this.windows.clear();
            window = { count: 0, since: now };
            this.windows.set(user, window);
        }
        window.count++;
        if (window.count <= this.o.requestsPerMinute) return undefined;
        return window.count === this.o.requestsPerMinute + 1 ? 'first' : 'again';
    }

    private push(user: string, sync: HistorySync): void {
        let topic: string;
        try {
            topic = this.o.codec.historySync(user);
        } catch {
            return; // a topic the profile does not allow (cloud MQ's 64 characters): nobody could read it
        }
        this.publish(topic, sync);
    }

    private publish(topic: string, body: object): void {
        const payload = Buffer.from(JSON.stringify(body));
        this.o.aedes.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false } as never, () => undefined);
    }
}

/** The request's id, to name it in an error answer, when there is one to read. */
function requestId(payload: Buffer): string {
    try {
        const id = (JSON.parse(payload.subarray(0, 65536).toString('utf8')) as { id?: unknown }).id;
        return typeof id === 'string' ? id.slice(0, 128) : '';
    } catch {
        return '';
    }
}

function readMessage(payload: Buffer, parsed: ParsedTopic): ImsMessage | undefined {
    try {
        return decodeMessage(payload, parsed, Number.MAX_SAFE_INTEGER);
    } catch {
        return undefined; // receivers refuse it too: nothing to keep
    }
}

/** The envelope as stored: the fields a client sent, with the sender the broker checked. */
function envelopeOf(message: ImsMessage, sender: string, to?: string): Envelope {
    const envelope: Envelope = { v: message.v, id: message.id, type: message.type, from: sender, ts: message.ts };
    const recipient = to ?? message.to;
    if (recipient !== undefined) envelope.to = recipient;
    if (message.data !== undefined) envelope.data = message.data;
    if (message.text !== undefined) envelope.text = message.text;
    return envelope;
}
