// The web client's model: one ImsSession (the same class the nodes use) and ChatEvents for typing,
// receipts, edit and recall, with what a person sees kept per conversation in this browser. Every
// change fires 'change'; the screens re-render from the model.

import { EventEmitter } from 'events';
import type { AccountStateData } from '../lib/accountState';
import type { ConnectionState } from '../lib/connection';
import { createEnvelope, encodeEnvelope, ImsMessage } from '../lib/envelope';
import { ChatEvents, Conversation, conversationKey, TYPING_TTL_MS } from '../lib/chatEvents';
import { ImsError } from '../lib/ids';
import { ImsSession } from '../lib/session';
import type { Attachment } from '../lib/attachments';
import { BrokerRefusal } from '../lib/brokerRefusal';
import { AttachmentInfo, infoOf } from './files';
import { GroupMembers } from './groupMembers';
import { Stored } from './storage';
import type { HistoryEntry } from '../lib/history';
import { HistorySync } from './historySync';

export type Tick = 'sending' | 'sent' | 'delivered' | 'read' | 'failed';

export interface ChatItem {
    id: string;
    from: string;
    ts: number;
    text?: string;
    /** A notice inside the conversation (someone joined or left a group). */
    notice?: 'joined' | 'left';
    replyTo?: { id: string; from: string; text: string };
    edited?: boolean;
    recalled?: boolean;
    /** Own messages: how far they got; in groups, who read them. */
    tick?: Tick;
    readBy?: string[];
    /** A picture or file (its bytes are kept in memory only: ChatClient.fileOf). */
    attachment?: AttachmentInfo;
}

export interface ConversationData {
    kind: 'user' | 'group';
    id: string;
    items: ChatItem[];
    unread: number;
}

export interface Notice {
    id: string;
    ts: number;
    key: 'friendRequest' | 'friendAccepted' | 'friendRejected' | 'invite' | 'blocked' | 'refused' | 'system';
    user?: string;
    group?: string;
    text?: string;
}

export interface MomentItem {
    id: string;
    from: string;
    ts: number;
    text: string;
}

export interface SignIn {
    url: string;
    userId: string;
    password: string;
    deviceId: string;
    parentTopic?: string;
    groupPrefix?: string;
}

/** What one user keeps in one browser. */
interface Saved {
    state: AccountStateData;
    conversations: Record<string, ConversationData>;
    notices: Notice[];
    moments: MomentItem[];
    invitations: { group: string; from: string }[];
    members: Record<string, string[]>;
}

const KEEP_ITEMS = 300;
const KEEP_NOTICES = 100;
const KEEP_MOMENTS = 200;
/** A typer says so again this often, well inside the receivers' TYPING_TTL_MS. */
const TYPING_RENEW_MS = 3000;

export declare interface ChatClient {
    on(event: 'change', listener: () => void): this;
}

export class ChatClient extends EventEmitter {
    readonly session: ImsSession;
    readonly events: ChatEvents;
    readonly userId: string;
    connectionState: ConnectionState = 'idle';
    connectionError: string | undefined;
    /** Friends' presence as last announced. */
    readonly online = new Map<string, boolean>();
    /** Who is typing where, until when. */
    private readonly typingUntil = new Map<string, Map<string, number>>();
    private lastTypingSent = new Map<string, number>();
    private readonly saved: Saved;
    private readonly store: Stored<Saved>;
    /** Attachments' files by message ID, for this page's life: the browser's storage would fill up with them. */
    private readonly files = new Map<string, string>();
    /** The secured broker's member lists, where it keeps them. */
    private readonly groupMembers: GroupMembers;
    /** The conversation on screen, whose messages are read as they arrive. */
    private visible: string | undefined;
    /** The broker's history, where it keeps one (historySync.ts). */
    readonly history: HistorySync;

    constructor(signIn: SignIn) {
        super();
        this.userId = signIn.userId;
        this.store = new Stored<Saved>(`ims-chat:${signIn.url}:${signIn.userId}`);
        this.saved = {
            state: {},
            conversations: {},
            notices: [],
            moments: [],
            invitations: [],
            members: {},
            ...this.store.load(),
        };
        this.session = new ImsSession({
            userId: signIn.userId,
            deviceId: signIn.deviceId,
            parentTopic: signIn.parentTopic,
            groupPrefix: signIn.groupPrefix,
            state: this.saved.state,
            broker: { url: signIn.url, username: signIn.userId, password: signIn.password, reconnectPeriod: 2000, connectTimeout: 8000 },
        });
        this.events = new ChatEvents(this.session);
        this.groupMembers = new GroupMembers(this.session, () => this.changed());
        this.history = new HistorySync(this, `ims-chat:${signIn.url}:${signIn.userId}`);
        for (const conversation of Object.values(this.saved.conversations)) {
            for (const item of conversation.items) {
                if (!item.notice) this.events.ledger.record(item.id, item.from, conversation, item.ts);
            }
        }
        this.session.state.on('change', () => this.changed());
        this.session.on('message', (message) => this.receive(message));
        this.session.on('rejected', (error) => {
            // The broker refused one of ours (an attachment): that message failed.
            if (error instanceof BrokerRefusal) this.markFailed(error.target);
            this.notice({ key: 'refused', text: error.message });
        });
        this.session.on('error', (error) => this.notice({ key: 'refused', text: error.message }));
        this.session.connection.on('state', (state, error) => {
            this.connectionState = state;
            this.connectionError = state === 'connected' ? undefined : error?.message;
            this.changed();
        });
    }

    /** Connects and waits for the broker's answer: a refused password ends the attempt. */
    async signIn(): Promise<void> {
        await this.session.login();
        try {
            await this.session.connection.whenConnected(10000);
            void this.groupMembers.watch();
        } catch (error) {
            const refusal = loginRefusal(this.session.connection.lastError);
            await this.session.logout().catch(() => undefined);
            throw refusal ?? error;
        }
    }

    async signOut(): Promise<void> {
        await this.session.logout();
    }

    // --- what the screens read -------------------------------------------------------------------

    conversations(): ConversationData[] {
        const state = this.session.state;
        for (const friend of state.list('friends')) this.conversation({ kind: 'user', id: friend });
        for (const group of state.list('groups')) this.conversation({ kind: 'group', id: group });
        const last = (c: ConversationData): number => c.items[c.items.length - 1]?.ts ?? 0;
        return Object.values(this.saved.conversations)
            .filter((c) => (c.kind === 'group' ? state.has('groups', c.id) : state.has('friends', c.id) || c.items.length > 0))
            .sort((a, b) => last(b) - last(a) || a.id.localeCompare(b.id));
    }

    conversation(ref: Conversation): ConversationData {
        const key = conversationKey(ref);
        let data = this.saved.conversations[key];
        if (!data) data = this.saved.conversations[key] = { kind: ref.kind, id: ref.id, items: [], unread: 0 };
        return data;
    }

    get notices(): readonly Notice[] {
        return this.saved.notices;
    }

    get moments(): readonly MomentItem[] {
        return this.saved.moments;
    }

    get invitations(): readonly { group: string; from: string }[] {
        return this.saved.invitations;
    }

    /** The broker's list where it keeps one (secured ims-broker), else those seen join or speak. */
    members(group: string): string[] {
        return this.groupMembers.of(group) ?? [...(this.saved.members[group] ?? [])].sort();
    }

    typers(ref: Conversation): string[] {
        const now = Date.now();
        const map = this.typingUntil.get(conversationKey(ref));
        return map ? [...map].filter(([, until]) => until > now).map(([user]) => user) : [];
    }

    // --- what the screens do ---------------------------------------------------------------------

    /** The conversation on screen: what arrives there is read at once. */
    show(ref: Conversation | undefined): void {
        this.visible = ref ? conversationKey(ref) : undefined;
        if (ref) this.markRead(ref);
    }

    async send(ref: Conversation, text: string, replyTo?: ChatItem, attachment?: Attachment): Promise<void> {
        const data: Record<string, unknown> | undefined = replyTo
            ? { replyTo: { id: replyTo.id, from: replyTo.from, text: (replyTo.text ?? '').slice(0, 140) } }
            : undefined;
        const withFile = attachment ? { ...data, attachment } : data;
        this.lastTypingSent.delete(conversationKey(ref));
        const codec = this.session.codec;
        const group = ref.kind === 'group';
        const topic = group ? codec.groupMessage(ref.id, this.userId) : codec.chat(ref.id, this.userId);
        // The envelope is made here rather than inside the session's publish, so its ID is in the ledger
        // before a fast peer's receipt for it can arrive.
        const envelope = createEnvelope({
            type: group ? 'group.message' : 'chat',
            from: this.userId,
            to: group ? undefined : ref.id,
            text: text || (attachment ? undefined : text),
            data: withFile,
        });
        const payload = encodeEnvelope(envelope, this.session.maxPayload);
        this.events.sent(envelope, ref);
        const item: ChatItem = { id: envelope.id, from: this.userId, ts: envelope.ts, text, tick: 'sending' };
        if (data) item.replyTo = data.replyTo as ChatItem['replyTo'];
        if (attachment) this.keepFile(item, attachment);
        this.append(ref, item);
        try {
            await this.session.connection.publish(topic, payload, { qos: this.session.qos });
        } catch (error) {
            item.tick = 'failed';
            this.changed();
            throw error;
        }
        if (item.tick === 'sending') item.tick = 'sent';
        this.changed();
    }

    /** Says "typing…" at most every few seconds while the person types. */
    typing(ref: Conversation): void {
        const key = conversationKey(ref);
        const now = Date.now();
        if (now - (this.lastTypingSent.get(key) ?? 0) < TYPING_RENEW_MS) return;
        this.lastTypingSent.set(key, now);
        this.events.typing(ref).catch(() => undefined); // typing is best effort
    }

    async edit(ref: Conversation, item: ChatItem, text: string): Promise<void> {
        await this.events.edit(ref, item.id, text);
        item.text = text;
        item.edited = true;
        this.changed();
    }

    async recall(ref: Conversation, item: ChatItem): Promise<void> {
        await this.events.recall(ref, item.id);
        item.recalled = true;
        delete item.text;
        this.changed();
    }

    async addFriend(user: string): Promise<void> {
        await this.session.friends.request(user);
    }

    async answerFriend(user: string, accepted: boolean): Promise<void> {
        await this.session.friends.respond(user, accepted);
        // Friends see each other's moments.
        if (accepted && !this.session.state.has('blockedBy', user)) await this.session.moments.follow(user);
    }

    async removeFriend(user: string): Promise<void> {
        await this.session.friends.remove(user);
    }

    async block(user: string): Promise<void> {
        await this.session.moments.block(user);
    }

    async unblock(user: string): Promise<void> {
        await this.session.moments.unblock(user);
    }

    async follow(user: string): Promise<void> {
        await this.session.moments.follow(user);
    }

    async unfollow(user: string): Promise<void> {
        await this.session.moments.unfollow(user);
    }

    async post(text: string): Promise<void> {
        const envelope = await this.session.moments.post(text);
        this.addMoment({ id: envelope.id, from: this.userId, ts: envelope.ts, text });
    }

    async createGroup(group: string): Promise<void> {
        await this.session.groups.create(group);
        this.addMember(group, this.userId);
        this.conversation({ kind: 'group', id: group });
        this.changed();
        await this.groupMembers.watch([group]);
    }

    async invite(group: string, user: string): Promise<void> {
        await this.session.groups.invite(group, [user]);
    }

    async join(group: string): Promise<void> {
        await this.session.groups.join(group);
        this.saved.invitations = this.saved.invitations.filter((i) => i.group !== group);
        this.addMember(group, this.userId);
        this.changed();
        await this.groupMembers.watch([group]);
    }

    async leave(group: string): Promise<void> {
        await this.session.groups.leave(group);
        delete this.saved.members[group];
        await this.groupMembers.forget(group);
        this.changed();
    }

    // --- what arrives ----------------------------------------------------------------------------

    private receive(message: ImsMessage): void {
        if (message.from !== this.userId && this.session.state.has('blocked', message.from) && message.kind !== 'group') return;
        try {
            switch (message.type) {
                case 'chat':
                case 'greeting':
                case 'group.message':
                case 'typing':
                case 'receipt':
                case 'edit':
                case 'recall':
                    this.receiveChat(message);
                    break;
                case 'group.join':
                case 'group.leave':
                    this.receiveMembership(message);
                    break;
                case 'friend.request':
                    this.notice({ key: 'friendRequest', user: message.from });
                    break;
                case 'friend.response':
                    this.notice({ key: message.data?.accepted === true ? 'friendAccepted' : 'friendRejected', user: message.from });
                    if (message.data?.accepted === true) this.follow(message.from).catch((error: Error) => this.refused(error));
                    break;
                case 'group.invite':
                    if (message.group && !this.saved.invitations.some((i) => i.group === message.group)) {
                        this.saved.invitations.push({ group: message.group, from: message.from });
                    }
                    this.notice({ key: 'invite', user: message.from, group: message.group });
                    break;
                case 'unsub':
                    if (message.data?.lifted !== true) this.notice({ key: 'blocked', user: message.from });
                    break;
                case 'moment':
                    this.addMoment({ id: message.id, from: message.from, ts: message.ts, text: message.text ?? '' });
                    break;
                case 'system':
                    this.notice({ key: 'system', text: message.text ?? JSON.stringify(message.data ?? {}) });
                    break;
                case 'presence':
                    this.online.set(message.from, message.data?.status === 'online');
                    this.changed();
                    break;
            }
        } catch (error) {
            this.refused(error as Error);
        }
    }

    private receiveChat(message: ImsMessage): void {
        const event = this.events.receive(message); // throws for a forged receipt, edit or recall
        const ref = event.conversation;
        const data = this.conversation(ref);
        const key = conversationKey(ref);
        switch (event.type) {
            case 'typing': {
                let map = this.typingUntil.get(key);
                if (!map) this.typingUntil.set(key, (map = new Map()));
                if (event.active) {
                    map.set(message.from, Date.now() + TYPING_TTL_MS);
                    setTimeout(() => this.changed(), TYPING_TTL_MS + 50);
                } else map.delete(message.from);
                break;
            }
            case 'receipt':
                for (const item of data.items) {
                    if (item.from !== this.userId || !event.ids.includes(item.id)) continue;
                    if (ref.kind === 'group') {
                        if (event.status === 'read' && !item.readBy?.includes(message.from))
                            item.readBy = [...(item.readBy ?? []), message.from];
                        if (item.tick === 'sent' || item.tick === 'sending') item.tick = 'delivered';
                    } else if (event.status === 'read' || item.tick !== 'read') {
                        item.tick = event.status;
                    }
                }
                break;
            case 'edit':
            case 'recall': {
                const item = data.items.find((i) => i.id === event.target);
                if (item) {
                    if (event.type === 'edit') {
                        item.text = event.text;
                        item.edited = true;
                    } else {
                        item.recalled = true;
                        delete item.text;
                    }
                }
                break;
            }
            case 'message': {
                const item: ChatItem = {
                    id: message.id,
                    from: message.from,
                    ts: message.ts,
                    text: message.text ?? (message.data?.attachment ? '' : JSON.stringify(message.data ?? {})),
                };
                // Checked on arrival (decodeMessage): a picture or file by the same rules as ours.
                if (message.data?.attachment) this.keepFile(item, message.data.attachment as Attachment);
                const reply = message.data?.replyTo as ChatItem['replyTo'] | undefined;
                if (reply && typeof reply.id === 'string')
                    item.replyTo = { id: reply.id, from: String(reply.from), text: String(reply.text ?? '') };
                this.typingUntil.get(key)?.delete(message.from);
                if (ref.kind === 'group') this.addMember(ref.id, message.from);
                this.append(ref, item);
                // On screen it is read at once; otherwise it counts as unread and is only "delivered".
                const onScreen = this.visible === key && isVisible();
                if (!onScreen) data.unread++;
                const group = ref.kind === 'group' ? ref.id : undefined;
                const marks = onScreen ? { upTo: message.id } : { ids: [message.id] };
                this.events.receipt(message.from, onScreen ? 'read' : 'delivered', marks, group).catch(() => undefined);
                break;
            }
        }
        this.changed();
    }

    private receiveMembership(message: ImsMessage): void {
        const group = message.group as string;
        if (message.type === 'group.join') this.addMember(group, message.from);
        else this.saved.members[group] = (this.saved.members[group] ?? []).filter((m) => m !== message.from);
        this.append(
            { kind: 'group', id: group },
            { id: message.id, from: message.from, ts: message.ts, notice: message.type === 'group.join' ? 'joined' : 'left' },
        );
        this.changed();
    }

    /** Reads everything unread in a conversation: one read-up-to receipt per sender. */
    markRead(ref: Conversation): void {
        const data = this.conversation(ref);
        if (data.unread === 0) return;
        const unread = data.items.filter((i) => i.from !== this.userId && !i.notice).slice(-data.unread);
        data.unread = 0;
        const latest = new Map<string, string>();
        for (const item of unread) latest.set(item.from, item.id);
        for (const [sender, upTo] of latest) {
            this.events.receipt(sender, 'read', { upTo }, ref.kind === 'group' ? ref.id : undefined).catch(() => undefined);
        }
        this.changed();
    }

    // --- what the broker's history brings (historySync.ts) ------------------------------------------

    /** Adds messages from history (those already here keep their place) and applies its edits and recalls. */
    absorb(ref: Conversation, items: ChatItem[], changes: HistoryEntry[], files: Record<string, Attachment> = {}): void {
        const data = this.conversation(ref);
        const known = new Map(data.items.map((item) => [item.id, item]));
        for (const item of items) {
            const here = known.get(item.id);
            if (here) {
                if (item.recalled) here.recalled = true;
                if (item.edited && !here.recalled) Object.assign(here, { text: item.text, edited: true });
                if (here.recalled) delete here.text;
                continue;
            }
            data.items.push(item);
            known.set(item.id, item);
            this.events.ledger.record(item.id, item.from, ref, item.ts);
            const file = files[item.id];
            if (file) this.keepFile(item, file);
        }
        for (const change of changes) {
            const target = known.get(String(change.message.data?.target));
            if (!target || target.from !== change.message.from) continue;
            if (change.message.type === 'recall') {
                target.recalled = true;
                delete target.text;
            } else if (!target.recalled) {
                target.text = change.message.text;
                target.edited = true;
            }
        }
        data.items.sort((a, b) => a.ts - b.ts);
        this.changed();
    }

    /** The unread count the broker keeps for all of this user's devices; on screen it is read now. */
    setUnread(ref: Conversation, unread: number): void {
        const data = this.conversation(ref);
        data.unread = unread;
        if (this.visible === conversationKey(ref) && isVisible()) this.markRead(ref);
        this.changed();
    }

    historyFailed(error: Error): void {
        this.refused(error);
    }

    /** Marks the on-screen conversation read when the page comes back into view. */
    pageShown(): void {
        if (!this.visible) return;
        const data = this.saved.conversations[this.visible];
        if (data) this.markRead(data);
    }

    private append(ref: Conversation, item: ChatItem): void {
        const data = this.conversation(ref);
        if (data.items.some((i) => i.id === item.id)) return;
        data.items.push(item);
        data.items.sort((a, b) => a.ts - b.ts);
        if (data.items.length > KEEP_ITEMS) data.items.splice(0, data.items.length - KEEP_ITEMS);
        this.changed();
    }

    /** The file of a message's attachment, base64, while this page lives. */
    fileOf(item: ChatItem): string | undefined {
        return this.files.get(item.id);
    }

    private keepFile(item: ChatItem, attachment: Attachment): void {
        item.attachment = infoOf(attachment);
        this.files.set(item.id, attachment.data);
    }

    private markFailed(id: string | undefined): void {
        for (const conversation of Object.values(this.saved.conversations)) {
            const item = conversation.items.find((i) => i.id === id && i.from === this.userId);
            if (item) item.tick = 'failed';
        }
        this.changed();
    }

    private addMember(group: string, user: string): void {
        const members = (this.saved.members[group] ??= []);
        if (!members.includes(user)) members.push(user);
    }

    private addMoment(moment: MomentItem): void {
        if (this.saved.moments.some((m) => m.id === moment.id)) return;
        this.saved.moments.unshift(moment);
        this.saved.moments.sort((a, b) => b.ts - a.ts);
        this.saved.moments.length = Math.min(this.saved.moments.length, KEEP_MOMENTS);
        this.changed();
    }

    private notice(notice: Omit<Notice, 'id' | 'ts'>): void {
        this.saved.notices.unshift({ id: `${Date.now()}-${Math.random()}`, ts: Date.now(), ...notice });
        this.saved.notices.length = Math.min(this.saved.notices.length, KEEP_NOTICES);
        this.changed();
    }

    private refused(error: Error): void {
        this.notice({ key: 'refused', text: error instanceof ImsError ? `${error.message} (${error.code})` : error.message });
    }

    private pendingSave = false;

    private changed(): void {
        this.emit('change');
        if (this.pendingSave) return;
        this.pendingSave = true;
        setTimeout(() => {
            this.pendingSave = false;
            this.saved.state = this.session.state.toJSON();
            this.store.save(this.saved);
        }, 200);
    }
}

function isVisible(): boolean {
    return typeof document === 'undefined' || document.visibilityState === 'visible';
}

/**
 * The broker's CONNACK refusal as a coded error the sign-in screen can explain: 4 (3.1.1) and 0x86 (5)
 * mean a wrong user name or password; 5 and 0x87 "not authorized" (the secured broker's back-off after
 * failed logins, or the connection limit); 2 and 0x85 a Client ID the broker will not take.
 */
export function loginRefusal(error: (Error & { code?: unknown }) | undefined): ImsError | undefined {
    const code = error?.code;
    const kind =
        code === 4 || code === 0x86
            ? 'IMS_BAD_LOGIN'
            : code === 5 || code === 0x87
              ? 'IMS_NOT_AUTHORIZED'
              : code === 2 || code === 0x85
                ? 'IMS_BAD_CLIENT_ID'
                : '';
    return error && kind ? new ImsError(error.message, kind) : undefined;
}
