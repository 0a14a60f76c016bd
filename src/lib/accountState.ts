// What an account remembers between logins: its friends, pending requests, whom it follows, whom it
// blocked and who blocked it, its groups and its region. Plain lists, so any store can persist them
// (Node-RED context, a file); 'change' fires after every change so the store can save.

import { EventEmitter } from 'events';

export const LISTS = ['friends', 'requestsOut', 'requestsIn', 'following', 'blocked', 'blockedBy', 'groups'] as const;
export type ListName = (typeof LISTS)[number];

/**
 * The format of what toJSON() writes. 1: the lists and region below, with `v`. States saved before
 * formats had a version have no `v` and the same fields, so load() reads both.
 */
export const STATE_FORMAT = 1;

export interface AccountStateData {
    /** The format version (STATE_FORMAT); absent in states saved by 0.1.0. */
    v?: number;
    friends?: string[];
    requestsOut?: string[];
    requestsIn?: string[];
    following?: string[];
    blocked?: string[];
    blockedBy?: string[];
    groups?: string[];
    region?: string;
}

export class AccountState extends EventEmitter {
    private readonly lists = new Map<ListName, Set<string>>(LISTS.map((name) => [name, new Set<string>()]));
    private regionValue: string | undefined;

    constructor(data: AccountStateData = {}) {
        super();
        this.load(data);
    }

    /** Replaces everything with `data` (a restore at login); fires no 'change'. */
    load(data: AccountStateData): void {
        for (const name of LISTS) {
            const values = Array.isArray(data[name]) ? (data[name] as unknown[]) : [];
            this.lists.set(name, new Set(values.filter((v): v is string => typeof v === 'string')));
        }
        this.regionValue = typeof data.region === 'string' && data.region ? data.region : undefined;
    }

    has(list: ListName, id: string): boolean {
        return this.set(list).has(id);
    }

    /** True when `id` was not in the list before. */
    add(list: ListName, id: string): boolean {
        const set = this.set(list);
        if (set.has(id)) return false;
        set.add(id);
        this.emit('change');
        return true;
    }

    /** True when `id` was in the list. */
    remove(list: ListName, id: string): boolean {
        const removed = this.set(list).delete(id);
        if (removed) this.emit('change');
        return removed;
    }

    list(list: ListName): string[] {
        return [...this.set(list)].sort();
    }

    /** Several lists by name, e.g. for a node's list reply. */
    pick<N extends ListName>(...names: N[]): Record<N, string[]> {
        return Object.fromEntries(names.map((name) => [name, this.list(name)])) as Record<N, string[]>;
    }

    get region(): string | undefined {
        return this.regionValue;
    }

    set region(region: string | undefined) {
        if (region === this.regionValue) return;
        this.regionValue = region;
        this.emit('change');
    }

    toJSON(): AccountStateData {
        const data: AccountStateData = { v: STATE_FORMAT };
        for (const name of LISTS) data[name] = this.list(name);
        if (this.regionValue) data.region = this.regionValue;
        return data;
    }

    private set(list: ListName): Set<string> {
        return this.lists.get(list) as Set<string>;
    }
}
