// What every chat app has beyond the message itself, between clients and with no broker change:
// "typing…", delivered/read receipts, edit and recall. They travel as envelope types on the topics
// that already exist (docs/PROTOCOL.md): typing, edit and recall on the conversation's own topic
// (P/<to>/Inbox/Chat/<me> or P/<group>/<me>), receipts only to the original sender's chat inbox.
//
// The topic proves who sent an event; the ledger proves what it may touch: a receipt only messages
// this account sent to its sender, an edit or recall only its sender's own messages.

import type { Envelope, ImsMessage, MessageType } from './envelope';
import { ImsError } from './ids';
import type { SessionContext } from './features/context';

/** A receiver forgets "typing…" after this long without a renewal; a typer renews well before. */
export const TYPING_TTL_MS = 6000;
/** How long after sending a message its sender may recall it, unless configured otherwise. */
export const DEFAULT_RECALL_WINDOW_MS = 2 * 60 * 1000;
/** How many messages the ledger remembers for checking receipts, edits and recalls. */
export const DEFAULT_LEDGER_CAPACITY = 5000;
/** At most this many message IDs in one receipt. */
export const MAX_RECEIPT_IDS = 100;

export const CHAT_EVENT_TYPES = ['typing', 'receipt', 'edit', 'recall'] as const;
export type ChatEventType = (typeof CHAT_EVENT_TYPES)[number];
export type ReceiptStatus = 'delivered' | 'read';

/** A conversation: with a user (named by the peer) or in a group. */
export interface Conversation {
    kind: 'user' | 'group';
    id: string;
}

export function isChatEvent(type: MessageType): type is ChatEventType {
    return (CHAT_EVENT_TYPES as readonly string[]).includes(type);
}

/** The key of a conversation in maps: users and groups share no IDs, but keep them apart anyway. */
export function conversationKey(conversation: Conversation): string {
    return `${conversation.kind === 'group' ? 'g' : 'u'}:${conversation.id}`;
}

/**
 * The conversation a received message belongs to, seen from `me`: its group (the topic's, or a
 * receipt's data.group), else the other user.
 */
export function conversationOf(message: ImsMessage, me: string): Conversation {
    if (message.group !== undefined && message.kind === 'group') return { kind: 'group', id: message.group };
    const group = message.type === 'receipt' || message.type === 'typing' ? message.data?.group : undefined;
    if (typeof group === 'string') return { kind: 'group', id: group };
    const peer = message.from === me ? (message.to ?? me) : message.from;
    return { kind: 'user', id: peer };
}

/** A checked receipt: which of this account's messages it confirms, and how far. */
export interface Receipt {
    status: ReceiptStatus;
    /** This account's messages it confirms (listed ones, and with `upTo` every earlier one remembered). */
    ids: string[];
    upTo?: string;
    conversation: Conversation;
}

/** A checked edit or recall: the message it changes. */
export interface Change {
    type: 'edit' | 'recall';
    target: string;
    text?: string;
    conversation: Conversation;
}

export type ChatEvent =
    | { type: 'typing'; active: boolean; conversation: Conversation }
    | ({ type: 'receipt' } & Receipt)
    | Change
    | { type: 'message'; conversation: Conversation };

interface LedgerEntry {
    from: string;
    key: string;
    ts: number;
    recalled?: boolean;
}

/**
 * The messages an account has sent and received lately (bounded: the oldest are forgotten first), so a
 * receipt, edit or recall can be checked against the message it names.
 */
export class MessageLedger {
    private readonly entries = new Map<string, LedgerEntry>();

    constructor(private readonly capacity = DEFAULT_LEDGER_CAPACITY) {}

    record(id: string, from: string, conversation: Conversation, ts: number): void {
        this.entries.delete(id); // re-inserted as the newest
        this.entries.set(id, { from, key: conversationKey(conversation), ts });
        if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    }

    get(id: string): Readonly<LedgerEntry> | undefined {
        return this.entries.get(id);
    }

    markRecalled(id: string): void {
        const entry = this.entries.get(id);
        if (entry) entry.recalled = true;
    }

    /**
     * IDs of messages `from` sent in `conversation`, up to and including `upTo`, in the order they were
     * recorded (the order sent): ULIDs of one millisecond do not sort in sending order. An `upTo` the
     * ledger does not know falls back to ULID order (time, to the millisecond).
     */
    sentUpTo(from: string, conversation: Conversation, upTo: string): string[] {
        const key = conversationKey(conversation);
        const ids: string[] = [];
        const known = this.entries.get(upTo)?.key === key;
        for (const [id, entry] of this.entries) {
            if (entry.from !== from || entry.key !== key) continue;
            if (known) {
                ids.push(id);
                if (id === upTo) break;
            } else if (id <= upTo) ids.push(id);
        }
        return ids;
    }

    /** The newest message `from` sent in `conversation` and has not recalled, if still remembered. */
    lastSentBy(from: string, conversation: Conversation): string | undefined {
        const key = conversationKey(conversation);
        let last: string | undefined;
        for (const [id, entry] of this.entries) if (entry.from === from && entry.key === key && !entry.recalled) last = id;
        return last;
    }

    get size(): number {
        return this.entries.size;
    }
}

export interface ChatEventsOptions {
    recallWindowMs?: number;
    ledgerCapacity?: number;
}

/**
 * Sends and checks typing, receipts, edits and recalls for one account. Feed it every message the
 * account sends (`sent`) and receives (`receive`); `receive` throws an ImsError for a forged event and
 * the caller reports it like any refused message.
 */
export class ChatEvents {
    readonly ledger: MessageLedger;
    readonly recallWindowMs: number;
    /** Tracked sends not yet recorded. */
    private readonly inFlight = new Set<Promise<void>>();

    constructor(
        private readonly s: SessionContext,
        options: ChatEventsOptions = {},
    ) {
        this.ledger = new MessageLedger(options.ledgerCapacity ?? DEFAULT_LEDGER_CAPACITY);
        this.recallWindowMs = options.recallWindowMs ?? DEFAULT_RECALL_WINDOW_MS;
    }

    /**
     * Records a message as it is sent (`sending` resolves with its envelope once the broker has it).
     * A fast peer's receipt can arrive before that: whenSent() lets its check wait for the record.
     */
    track(sending: Promise<Envelope>, conversation: Conversation): Promise<Envelope> {
        const recorded = sending.then((envelope) => {
            this.sent(envelope, conversation);
            return envelope;
        });
        const forget = (): void => {
            this.inFlight.delete(settled);
        };
        const settled = recorded.then(forget, forget);
        this.inFlight.add(settled);
        return recorded;
    }

    /** Resolves once every tracked send has been recorded; undefined when none is in flight. */
    whenSent(): Promise<void> | undefined {
        return this.inFlight.size === 0 ? undefined : Promise.all([...this.inFlight]).then(() => undefined);
    }

    /** Remembers a message this account sent, so receipts for it, and its own edit or recall, are accepted. */
    sent(envelope: Envelope, conversation: Conversation): void {
        if (!isChatEvent(envelope.type)) this.ledger.record(envelope.id, envelope.from, conversation, envelope.ts);
    }

    /** "typing…" (or its end) in a conversation; QoS 0 and never retained: it is stale in seconds. */
    typing(conversation: Conversation, active = true): Promise<Envelope> {
        const data: Record<string, unknown> = { state: active ? 'typing' : 'idle' };
        return this.s.publish(this.topicOf(conversation), { type: 'typing', to: this.peerOf(conversation), data }, { qos: 0 });
    }

    /**
     * Tells `sender` that its messages arrived or were read: the listed IDs, or with `upTo` every one
     * up to that ID. A group message's receipt names the group and still goes to its sender alone.
     */
    receipt(sender: string, status: ReceiptStatus, marks: { ids?: string[]; upTo?: string }, group?: string): Promise<Envelope> {
        const data: Record<string, unknown> = { status };
        if (marks.ids && marks.ids.length > 0) data.ids = marks.ids.slice(0, MAX_RECEIPT_IDS);
        if (marks.upTo) data.upTo = marks.upTo;
        if (data.ids === undefined && data.upTo === undefined) {
            throw new ImsError('A receipt names message IDs or an upTo ID', 'IMS_EMPTY');
        }
        if (group !== undefined) data.group = group;
        return this.s.publish(this.s.codec.chat(sender, this.s.userId), { type: 'receipt', to: sender, data });
    }

    /** Replaces the text of one of this account's messages; refused before publishing for anyone else's. */
    edit(conversation: Conversation, target: string, text: string): Promise<Envelope> {
        this.checkOwn('edit', target, conversation, Date.now());
        return this.s.publish(this.topicOf(conversation), { type: 'edit', to: this.peerOf(conversation), text, data: { target } });
    }

    /** Takes back one of this account's messages, within the recall window. */
    async recall(conversation: Conversation, target: string): Promise<Envelope> {
        this.checkOwn('recall', target, conversation, Date.now());
        const sent = await this.s.publish(this.topicOf(conversation), { type: 'recall', to: this.peerOf(conversation), data: { target } });
        this.ledger.markRecalled(target);
        return sent;
    }

    /**
     * Checks a received message and says what it means for the conversation. Chats, greetings and group
     * messages are remembered. Throws IMS_MALFORMED (bad fields), IMS_UNEXPECTED (a receipt for
     * messages this account did not send to the receipt's sender, a change of an unknown message),
     * IMS_NOT_OWNER (an edit or recall of someone else's message) or IMS_TOO_LATE (a recall after the window).
     */
    receive(message: ImsMessage): ChatEvent {
        const conversation = conversationOf(message, this.s.userId);
        switch (message.type) {
            case 'typing':
                return { type: 'typing', active: message.data?.state !== 'idle', conversation };
            case 'receipt':
                return { type: 'receipt', ...this.checkReceipt(message, conversation) };
            case 'edit':
            case 'recall': {
                const target = targetOf(message);
                this.checkOwn(message.type, target, conversation, message.ts, message.from);
                if (message.type === 'recall') this.ledger.markRecalled(target);
                const change: Change = { type: message.type, target, conversation };
                if (message.type === 'edit') change.text = message.text ?? '';
                return change;
            }
            default:
                this.ledger.record(message.id, message.from, conversation, message.ts);
                return { type: 'message', conversation };
        }
    }

    private checkReceipt(message: ImsMessage, conversation: Conversation): Receipt {
        const data = message.data ?? {};
        const status = data.status;
        if (status !== 'delivered' && status !== 'read') {
            throw malformed(message, `a receipt's data.status is "delivered" or "read", not ${JSON.stringify(status)}`);
        }
        const listed = data.ids;
        if (listed !== undefined && !(Array.isArray(listed) && listed.length <= MAX_RECEIPT_IDS && listed.every(isMessageId))) {
            throw malformed(message, `a receipt's data.ids is an array of at most ${MAX_RECEIPT_IDS} message IDs`);
        }
        if (data.upTo !== undefined && !isMessageId(data.upTo)) throw malformed(message, "a receipt's data.upTo is a message ID");
        if (listed === undefined && data.upTo === undefined) throw malformed(message, 'a receipt names data.ids or data.upTo');
        const me = this.s.userId;
        const key = conversationKey(conversation);
        const ids: string[] = [];
        for (const id of (listed ?? []) as string[]) {
            const entry = this.ledger.get(id);
            if (!entry || entry.from !== me || entry.key !== key) {
                throw new ImsError(
                    `Receipt from ${message.from} for message ${id}, which ${me} did not send ${conversation.kind === 'group' ? `in ${conversation.id}` : `to ${message.from}`}`,
                    'IMS_UNEXPECTED',
                );
            }
            ids.push(id);
        }
        const receipt: Receipt = { status, ids, conversation };
        if (typeof data.upTo === 'string') {
            receipt.upTo = data.upTo;
            for (const id of this.ledger.sentUpTo(me, conversation, data.upTo)) if (!ids.includes(id)) ids.push(id);
        }
        return receipt;
    }

    /** `by` may change `target`: it sent it in this conversation, and a recall is within the window. */
    private checkOwn(type: 'edit' | 'recall', target: string, conversation: Conversation, at: number, by: string = this.s.userId): void {
        const entry = this.ledger.get(target);
        const where = conversation.kind === 'group' ? conversation.id : `the chat of ${this.s.userId} and ${conversation.id}`;
        if (!entry || entry.key !== conversationKey(conversation)) {
            throw new ImsError(`${by} cannot ${type} message ${target}: no such message in ${where}`, 'IMS_UNEXPECTED');
        }
        if (entry.from !== by) {
            throw new ImsError(`${by} cannot ${type} message ${target}: ${entry.from} sent it, and only its sender may`, 'IMS_NOT_OWNER');
        }
        if (type === 'recall' && at - entry.ts > this.recallWindowMs) {
            throw new ImsError(
                `${by} cannot recall message ${target}: it was sent ${Math.round((at - entry.ts) / 1000)} s before, and the window is ${Math.round(this.recallWindowMs / 1000)} s`,
                'IMS_TOO_LATE',
            );
        }
    }

    private topicOf(conversation: Conversation): string {
        return conversation.kind === 'group'
            ? this.s.codec.groupMessage(conversation.id, this.s.userId)
            : this.s.codec.chat(conversation.id, this.s.userId);
    }

    private peerOf(conversation: Conversation): string | undefined {
        return conversation.kind === 'user' ? conversation.id : undefined;
    }
}

function isMessageId(value: unknown): value is string {
    return typeof value === 'string' && value.length > 0 && value.length <= 128;
}

function targetOf(message: ImsMessage): string {
    const target = message.data?.target;
    if (!isMessageId(target)) throw malformed(message, `an ${message.type} names the message it changes in data.target`);
    return target;
}

function malformed(message: ImsMessage, why: string): ImsError {
    return new ImsError(`Malformed ${message.type} from ${message.from} on ${message.topic}: ${why}`, 'IMS_MALFORMED');
}
