// Where the history service keeps its logs: in memory when the broker has no disk store. Each log is
// one conversation's entries in arrival order (a 1:1 log per owner and peer, one log per group), with
// contiguous sequence numbers: the oldest go first, when the count or age bound is passed. The disk
// (historyLevel.ts) and Redis (historyRedis.ts) stores keep the same contract; the service calls one
// operation at a time, so no store needs locks.

import type { Envelope } from '../envelope';
import type { HistoryEntry } from '../history';

export interface HistoryBounds {
    /** Entries one log keeps. */
    perConversation: number;
    /** Entries older than this (ms) go; Infinity keeps them. */
    maxAgeMs: number;
}

export interface RangeQuery {
    /** Entries with a seq greater than this (oldest first from there). */
    after?: number;
    /** Entries with a seq smaller than this; with `before`, the newest `limit` of them. */
    before?: number;
    limit: number;
}

export interface HistoryStore {
    append(log: string, at: number, message: Envelope, bounds: HistoryBounds): Promise<HistoryEntry>;
    /** The entry of a message, by its envelope ID. */
    find(log: string, messageId: string): Promise<HistoryEntry | undefined>;
    replace(log: string, entry: HistoryEntry): Promise<void>;
    /** Entries oldest first, none received before `minAt`. */
    range(log: string, query: RangeQuery, minAt: number): Promise<HistoryEntry[]>;
    lastSeq(log: string): Promise<number>;
    /** The peers of an owner's 1:1 logs. */
    peersOf(owner: string): Promise<string[]>;
    mark(owner: string, conversation: string): Promise<number>;
    setMark(owner: string, conversation: string, seq: number): Promise<void>;
    close(): Promise<void>;
}

/** The log of a 1:1 conversation as its owner sees it, and of a group. IDs hold no "/". */
export const userLog = (owner: string, peer: string): string => `u/${owner}/${peer}`;
export const groupLog = (group: string): string => `g/${group}`;
export const isGroupLog = (log: string): boolean => log.startsWith('g/');

interface MemoryLog {
    /** seq of entries[head] */
    first: number;
    /**
     * The entries from `head` on are the log. A full log drops one entry per append: advancing `head`
     * costs nothing, where removing the array's first element moved the other 999 every time (the
     * secured broker spent 9 % of its CPU there); the dropped ones are cut off in one go now and then.
     */
    entries: HistoryEntry[];
    head: number;
    byId: Map<string, HistoryEntry>;
}

/** Dropped entries kept in the array before it is compacted. */
const COMPACT_AFTER = 1024;
const count = (state: MemoryLog): number => state.entries.length - state.head;

export class MemoryHistoryStore implements HistoryStore {
    private readonly logs = new Map<string, MemoryLog>();
    private readonly peers = new Map<string, Set<string>>();
    private readonly marks = new Map<string, number>();

    async append(log: string, at: number, message: Envelope, bounds: HistoryBounds): Promise<HistoryEntry> {
        let state = this.logs.get(log);
        if (!state) {
            state = { first: 1, entries: [], head: 0, byId: new Map() };
            this.logs.set(log, state);
            if (log.startsWith('u/')) {
                const [, owner, peer] = log.split('/');
                let set = this.peers.get(owner);
                if (!set) this.peers.set(owner, (set = new Set()));
                set.add(peer);
            }
        }
        const entry: HistoryEntry = { seq: state.first + count(state), at, message };
        state.entries.push(entry);
        state.byId.set(message.id, entry);
        let drop = Math.max(0, count(state) - bounds.perConversation);
        while (drop < count(state) && at - state.entries[state.head + drop].at > bounds.maxAgeMs) drop++;
        for (let i = 0; i < drop; i++) {
            const old = state.entries[state.head + i];
            if (state.byId.get(old.message.id) === old) state.byId.delete(old.message.id);
        }
        state.head += drop;
        state.first += drop;
        if (state.head > COMPACT_AFTER && state.head > count(state)) {
            state.entries = state.entries.slice(state.head);
            state.head = 0;
        }
        return entry;
    }

    async find(log: string, messageId: string): Promise<HistoryEntry | undefined> {
        return this.logs.get(log)?.byId.get(messageId);
    }

    async replace(log: string, entry: HistoryEntry): Promise<void> {
        const state = this.logs.get(log);
        const index = state ? entry.seq - state.first : -1;
        if (!state || index < 0 || index >= count(state)) return;
        state.entries[state.head + index] = entry;
        state.byId.set(entry.message.id, entry);
    }

    async range(log: string, query: RangeQuery, minAt: number): Promise<HistoryEntry[]> {
        const state = this.logs.get(log);
        if (!state) return [];
        const end = Math.min(count(state), (query.before ?? Number.MAX_SAFE_INTEGER) - state.first);
        const start = Math.max(0, (query.after ?? 0) + 1 - state.first);
        const from = query.before !== undefined ? Math.max(start, end - query.limit) : start;
        const to = query.before !== undefined ? end : Math.min(end, start + query.limit);
        return from < to ? state.entries.slice(state.head + from, state.head + to).filter((entry) => entry.at >= minAt) : [];
    }

    async lastSeq(log: string): Promise<number> {
        const state = this.logs.get(log);
        return state ? state.first + count(state) - 1 : 0;
    }

    async peersOf(owner: string): Promise<string[]> {
        return [...(this.peers.get(owner) ?? [])];
    }

    async mark(owner: string, conversation: string): Promise<number> {
        return this.marks.get(`${owner}/${conversation}`) ?? 0;
    }

    async setMark(owner: string, conversation: string, seq: number): Promise<void> {
        this.marks.set(`${owner}/${conversation}`, seq);
    }

    async close(): Promise<void> {
        this.logs.clear();
    }
}
