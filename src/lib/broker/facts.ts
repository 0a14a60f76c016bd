// What the secured broker has learned from the traffic it authorized: blocks, friend requests it saw,
// friendships, groups with their members and invitations, and virtual groups named by the flow. Plain
// sets in memory (every delivery asks them). Each change is also a small record (FactChange), so a
// store can save the state after a burst of changes and a cluster can replay the same change on every
// instance, in the order the changes were made.

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
    /** virtual groups named by the flow: name → members */
    virtualGroups?: Record<string, string[]>;
}

/** One change of the facts, as applied on this instance and replayed elsewhere. */
export type FactChange =
    | { op: 'block' | 'unblock'; blocker: string; blocked: string }
    | { op: 'request'; from: string; to: string }
    | { op: 'answer'; responder: string; asker: string; accepted: boolean }
    | { op: 'create' | 'join' | 'invite' | 'leave'; group: string; user: string }
    | { op: 'vgroup'; name: string; members: string[] };

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
    private readonly virtualGroups = new Map<string, string[]>();
    /** user → groups it is a member of, for the groups-per-user limit */
    private readonly memberships = new Map<string, Set<string>>();

    /** Called after each change made here (not for changes applied from elsewhere), so a store can save or share it. */
    onChange: (change: FactChange) => void = () => undefined;

    isBlocked(blocker: string, user: string): boolean {
        return this.blocks.get(blocker)?.has(user) ?? false;
    }

    /** True when this is a new block. */
    block(blocker: string, blocked: string): boolean {
        return !this.isBlocked(blocker, blocked) && this.change({ op: 'block', blocker, blocked });
    }

    unblock(blocker: string, blocked: string): void {
        if (this.isBlocked(blocker, blocked)) this.change({ op: 'unblock', blocker, blocked });
    }

    requestFriend(from: string, to: string): void {
        if (from === to || this.friends.get(from)?.has(to) || this.requests.get(to)?.has(from)) return;
        this.change({ op: 'request', from, to });
    }

    /** `responder` answers `asker`; a friendship only when `asker` had asked. */
    answerFriend(responder: string, asker: string, accepted: boolean): void {
        if (this.requests.get(responder)?.has(asker)) this.change({ op: 'answer', responder, asker, accepted });
    }

    friendsOf(user: string): string[] {
        return [...(this.friends.get(user) ?? [])].sort();
    }

    groupExists(group: string): boolean {
        return this.groups.has(group);
    }

    /** How many groups `user` is a member of. */
    groupsOf(user: string): number {
        return this.memberships.get(user)?.size ?? 0;
    }

    /** The groups `user` is a member of (the history service lists them as conversations). */
    groupNamesOf(user: string): string[] {
        return [...(this.memberships.get(user) ?? [])];
    }

    isMember(group: string, user: string): boolean {
        return this.groups.get(group)?.members.has(user) ?? false;
    }

    /** A group's members, sorted (none for a group nobody created). */
    membersOf(group: string): string[] {
        return [...(this.groups.get(group)?.members ?? [])].sort();
    }

    /** Every group the broker knows. */
    groupNames(): string[] {
        return [...this.groups.keys()];
    }

    /** Subscribing a group: the first subscriber creates it, the invited become members. True when `user` is a member. */
    enterGroup(group: string, user: string): boolean {
        const state = this.groups.get(group);
        if (!state) return this.change({ op: 'create', group, user });
        if (state.invited.has(user)) this.change({ op: 'join', group, user });
        return state.members.has(user);
    }

    invite(group: string, user: string): void {
        const state = this.groups.get(group);
        if (state && !state.members.has(user) && !state.invited.has(user)) this.change({ op: 'invite', group, user });
    }

    /** True when `user` was a member. */
    leave(group: string, user: string): boolean {
        return this.isMember(group, user) && this.change({ op: 'leave', group, user });
    }

    virtualGroup(name: string): string[] | undefined {
        return this.virtualGroups.get(name);
    }

    setVirtualGroup(name: string, members: string[]): void {
        this.change({ op: 'vgroup', name, members: [...new Set(members)] });
    }

    /** Applies a change (made here, or replayed from another instance or a store). */
    apply(change: FactChange): void {
        switch (change.op) {
            case 'block':
                setOf(this.blocks, change.blocker).add(change.blocked);
                break;
            case 'unblock':
                this.blocks.get(change.blocker)?.delete(change.blocked);
                break;
            case 'request': {
                const pending = setOf(this.requests, change.to);
                if (pending.size >= MAX_PENDING_REQUESTS) pending.delete(pending.values().next().value as string);
                pending.add(change.from);
                break;
            }
            case 'answer':
                this.requests.get(change.responder)?.delete(change.asker);
                if (change.accepted) {
                    setOf(this.friends, change.responder).add(change.asker);
                    setOf(this.friends, change.asker).add(change.responder);
                }
                break;
            case 'create':
                if (!this.groups.has(change.group)) {
                    this.groups.set(change.group, { members: new Set([change.user]), invited: new Set() });
                    setOf(this.memberships, change.user).add(change.group);
                }
                break;
            case 'join': {
                const state = this.groups.get(change.group);
                if (!state) break;
                state.invited.delete(change.user);
                state.members.add(change.user);
                setOf(this.memberships, change.user).add(change.group);
                break;
            }
            case 'invite':
                this.groups.get(change.group)?.invited.add(change.user);
                break;
            case 'leave':
                this.groups.get(change.group)?.members.delete(change.user);
                this.memberships.get(change.user)?.delete(change.group);
                break;
            case 'vgroup':
                this.virtualGroups.set(change.name, change.members);
                break;
        }
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
            virtualGroups: Object.fromEntries(this.virtualGroups),
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
        for (const [g, s] of Object.entries(state.groups ?? {})) {
            this.groups.set(g, { members: new Set(s.members), invited: new Set(s.invited) });
            // The per-user index the groups-per-user limit counts, which is not saved.
            for (const member of s.members) setOf(this.memberships, member).add(g);
        }
        for (const [name, members] of Object.entries(state.virtualGroups ?? {})) this.virtualGroups.set(name, members);
    }

    /** Applies a change made here and tells whoever listens; always true (so callers can return it). */
    private change(change: FactChange): true {
        this.apply(change);
        this.onChange(change);
        return true;
    }
}

/** The set under `key`, created empty when there is none. */
export function setOf<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    return set;
}
