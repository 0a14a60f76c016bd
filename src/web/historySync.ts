// The web client's use of the broker's history (brokers that announce `history`): at every connect it
// fetches what this browser has not seen (a new device gets the newest page of each conversation, a
// returning one what came since its cursor), takes the unread counts from the broker, shows what the
// user's other devices send and read as it happens, and pages further back on request. On a broker
// without history nothing here runs: the browser keeps what it saw, as before (docs/PROTOCOL.md).

import type { Attachment } from '../lib/attachments';
import { Conversation, conversationKey } from '../lib/chatEvents';
import type { ConversationPage, HistoryEntry, HistorySync as SyncPush } from '../lib/history';
import { splitConversation } from '../lib/history';
import type { ChatClient, ChatItem } from './chatClient';
import { Stored } from './storage';

/** Entries asked per page and per conversation at a catch-up. */
const PAGE = 50;
/** "since" rounds per conversation at one catch-up: the rest shows as "earlier messages". */
const MAX_ROUNDS = 4;

interface Cursors {
    /** The highest sequence number this browser has everything up to, per conversation. */
    seen: Record<string, number>;
    /** The lowest sequence number this browser holds, per conversation (where scrolling back continues). */
    oldest: Record<string, number>;
}

export class HistorySync {
    /** True once the broker said it keeps history. */
    available = false;
    private readonly cursors: Cursors;
    private readonly store: Stored<Cursors>;
    private catchingUp: Promise<void> | undefined;

    constructor(
        private readonly client: ChatClient,
        storageKey: string,
    ) {
        this.store = new Stored<Cursors>(`${storageKey}:history`);
        this.cursors = { seen: {}, oldest: {}, ...this.store.load() };
        client.session.history.on('sync', (push) => this.pushed(push));
        client.session.connection.on('state', (state) => {
            if (state === 'connected') this.catchUp().catch((error: Error) => client.historyFailed(error));
        });
    }

    /** True when the broker holds messages of this conversation older than what is shown. */
    hasEarlier(ref: Conversation): boolean {
        return this.available && (this.cursors.oldest[conversationKey(ref)] ?? 0) > 1;
    }

    /** The page before the oldest message shown (scrolling back). */
    async loadEarlier(ref: Conversation): Promise<void> {
        const conversation = conversationKey(ref);
        const before = this.cursors.oldest[conversation];
        if (!this.available || !before || before <= 1) return;
        const page = await this.client.session.history.page(conversation, { before, limit: PAGE });
        this.absorb(conversation, page, false);
    }

    private catchUp(): Promise<void> {
        this.catchingUp ??= this.fetchMissed().finally(() => (this.catchingUp = undefined));
        return this.catchingUp;
    }

    private async fetchMissed(): Promise<void> {
        const history = this.client.session.history;
        this.available = await history.available();
        if (!this.available) return;
        await history.start();
        for (const summary of await history.conversations()) {
            const conversation = summary.conversation;
            const seen = this.cursors.seen[conversation] ?? 0;
            if (summary.lastSeq > seen) {
                if (seen === 0 || summary.lastSeq - seen > PAGE * MAX_ROUNDS) {
                    // A new device, or one away for long: the newest page; older ones on scrolling back.
                    delete this.cursors.oldest[conversation]; // what lies between is fetched by scrolling back
                    this.absorb(conversation, await history.page(conversation, { limit: PAGE }), true);
                } else {
                    let after = seen;
                    for (let round = 0; round < MAX_ROUNDS; round++) {
                        const [page] = await history.since({ [conversation]: after }, PAGE);
                        if (!page) break;
                        this.absorb(conversation, page, true);
                        after = this.cursors.seen[conversation] ?? after;
                        if (!page.more) break;
                    }
                }
            }
            this.client.setUnread(refOf(conversation), summary.unread);
        }
        this.save();
    }

    private pushed(push: SyncPush): void {
        if (push.op === 'read') {
            this.client.setUnread(refOf(push.conversation), push.unread);
            return;
        }
        // What another device of this user sent, an edit or recall included (this device's own sends
        // come back too: already shown).
        this.show(push.conversation, [push.entry]);
        if (push.entry.seq === (this.cursors.seen[push.conversation] ?? 0) + 1) this.cursors.seen[push.conversation] = push.entry.seq;
        this.save();
    }

    /** Adds a page's messages and applies its edits and recalls; `newest`: the page reaches the conversation's end. */
    private absorb(conversation: string, page: ConversationPage, newest: boolean): void {
        const entries = page.entries;
        this.show(conversation, entries);
        if (entries.length > 0) {
            const first = entries[0].seq;
            const last = entries[entries.length - 1].seq;
            const oldest = this.cursors.oldest[conversation];
            this.cursors.oldest[conversation] = oldest === undefined ? first : Math.min(oldest, first);
            if (newest) this.cursors.seen[conversation] = Math.max(this.cursors.seen[conversation] ?? 0, last);
        } else if (!page.more) {
            this.cursors.oldest[conversation] = 1;
        }
        if (!page.more && entries.length === 0 && newest) this.cursors.seen[conversation] = page.lastSeq;
        this.save();
    }

    /** Entries into the conversation: messages as items, edits and recalls applied to theirs. */
    private show(conversation: string, entries: HistoryEntry[]): void {
        const isChange = (e: HistoryEntry): boolean => e.message.type === 'edit' || e.message.type === 'recall';
        const messages = entries.filter((e) => !isChange(e));
        // Pictures and files travel inline (docs/PROTOCOL.md, "Attachments"): history has them too.
        const files: Record<string, Attachment> = {};
        for (const e of messages) {
            const attachment = e.message.data?.attachment;
            if (attachment && typeof attachment === 'object') files[e.message.id] = attachment as Attachment;
        }
        this.client.absorb(refOf(conversation), messages.map(itemOf(this.client.userId)), entries.filter(isChange), files);
    }

    private save(): void {
        this.store.save(this.cursors);
    }
}

function refOf(conversation: string): Conversation {
    return splitConversation(conversation);
}

/** A stored entry as the conversation view shows it. */
function itemOf(me: string): (entry: HistoryEntry) => ChatItem {
    return (entry) => {
        const message = entry.message;
        const item: ChatItem = { id: message.id, from: message.from, ts: message.ts, text: message.text ?? '' };
        if (entry.edited) item.edited = true;
        if (entry.recalled) {
            item.recalled = true;
            delete item.text;
        }
        const reply = message.data?.replyTo as ChatItem['replyTo'] | undefined;
        if (reply && typeof reply.id === 'string')
            item.replyTo = { id: reply.id, from: String(reply.from), text: String(reply.text ?? '') };
        if (message.from === me) item.tick = 'sent';
        return item;
    };
}
