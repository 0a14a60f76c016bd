// What the secured broker has learned from the traffic it authorized: blocks, friend requests it saw,
// friendships, groups with their members and invitations. Plain sets in memory (every delivery asks
// them), saved as one versioned JSON document by the store after each burst of changes.

import { ImsError } from '../ids';

export const FACTS_FORMAT = 1;

export interface FactsState {
    /** Format of this document; absent in documents written before it was versioned (read as 0). */
    v?: number;
    blocks?: Record<string, string[]>;
    friends?: Record<string, string[]>;
    /** asked → users who asked to be its friend and have no answer yet */
    requests?: Record<string, string[]>;
    groups?: Record<string, { members: string[]; invited: string[] }>;
}

/** Unanswered friend requests kept per user: the oldest are forgotten first. */
const MAX_PENDING_REQUESTS = 1000;

interface GroupState {
    members: Set<string>;
    invited: Set<string>;
}

export class PolicyFacts {
    /** blocker → users it blocked */
    private readonly blocks = new Map<string, Set<string>>();
    private readonly friends = new Map<string, Set<string>>();
    private readonly requests = new Map<string, Set<string>>();
    private readonly groups = new Map<string, GroupState>();

    /** Called after a change, so a store can save. */
    onChange: () => void = () => undefined;

    isBlocked(blocker: string, user: string): boolean {
        return this.blocks.get(blocker)?.has(user) ?? false;
    }

    /** True when this is a new block. */
    block(blocker: string, blocked: string): boolean {
        if (!addTo(this.blocks, blocker, blocked)) return false;
        this.changed();
        return true;
    }

    unblock(blocker: string, blocked: string): void {
        if (this.blocks.get(blocker)?.delete(blocked)) this.changed();
    }

    requestFriend(from: string, to: string): void {
        if (from === to || this.friends.get(from)?.has(to)) return;
        const pending = setOf(this.requests, to);
        if (pending.has(from)) return;
        if (pending.size >= MAX_PENDING_REQUESTS) pending.delete(pending.values().next().value as string);
        pending.add(from);
        this.changed();
    }

    /** `responder` answers `asker`; a friendship only when `asker` had asked. */
    answerFriend(responder: string, asker: string, accepted: boolean): void {
        if (!this.requests.get(responder)?.delete(asker)) return;
        if (accepted) {
            addTo(this.friends, responder, asker);
            addTo(this.friends, asker, responder);
        }
        this.changed();
    }

    friendsOf(user: string): string[] {
        return [...(this.friends.get(user) ?? [])].sort();
    }

    isMember(group: string, user: string): boolean {
        return this.groups.get(group)?.members.has(user) ?? false;
    }

    /** Subscribing a group: the first subscriber creates it, the invited become members. True when `user` is a member. */
    enterGroup(group: string, user: string): boolean {
        let state = this.groups.get(group);
        if (!state) {
            state = { members: new Set([user]), invited: new Set() };
            this.groups.set(group, state);
            this.changed();
        }
        if (state.invited.delete(user)) {
            state.members.add(user);
            this.changed();
        }
        return state.members.has(user);
    }

    invite(group: string, user: string): void {
        const state = this.groups.get(group);
        if (!state || state.members.has(user) || state.invited.has(user)) return;
        state.invited.add(user);
        this.changed();
    }

    /** True when `user` was a member. */
    leave(group: string, user: string): boolean {
        if (!this.groups.get(group)?.members.delete(user)) return false;
        this.changed();
        return true;
    }

    toJSON(): FactsState {
        const lists = (map: Map<string, Set<string>>): Record<string, string[]> =>
            Object.fromEntries([...map].map(([k, v]) => [k, [...v]]));
        return {
            v: FACTS_FORMAT,
            blocks: lists(this.blocks),
            friends: lists(this.friends),
            requests: lists(this.requests),
            groups: Object.fromEntries([...this.groups].map(([g, s]) => [g, { members: [...s.members], invited: [...s.invited] }])),
        };
    }

    /** Restores what toJSON saved (format 0, before versions, has the same fields less `requests`). */
    load(state: FactsState | undefined): void {
        if (!state) return;
        const version = state.v ?? 0;
        if (version > FACTS_FORMAT) {
            throw new ImsError(
                `The broker's stored state has format ${version}; this version reads up to ${FACTS_FORMAT}`,
                'IMS_STORE_FORMAT',
            );
        }
        const sets = (record: Record<string, string[]> | undefined, map: Map<string, Set<string>>): void => {
            for (const [k, v] of Object.entries(record ?? {})) map.set(k, new Set(v));
        };
        sets(state.blocks, this.blocks);
        sets(state.friends, this.friends);
        sets(state.requests, this.requests);
        for (const [g, s] of Object.entries(state.groups ?? {}))
            this.groups.set(g, { members: new Set(s.members), invited: new Set(s.invited) });
    }

    private changed(): void {
        this.onChange();
    }
}

/** The set under `key`, created empty when there is none. */
export function setOf<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    return set;
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): boolean {
    const set = setOf(map, key);
    if (set.has(value)) return false;
    set.add(value);
    return true;
}
