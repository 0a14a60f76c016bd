// Which user owns each Client ID. With security on, a Client ID belongs to the first user that logs in
// with it: another user presenting it is refused (CONNACK 0x02), so nobody can take over someone
// else's persistent session, kick its device off, or read the p2p messages sent to it. Persistent
// sessions keep their binding for good (until the device is removed); a clean session's binding is
// kept for a while after it disconnects (a device that comes and goes keeps its ID), then forgotten.
// Both are saved with the policy's facts. The device limit counts persistent sessions and connected
// devices, not clean ones that went away. The same table answers "which devices does this user have",
// for blocks that must reach offline sessions.

import { setOf } from './facts';

export const BINDINGS_FORMAT = 1;

export interface BindingsState {
    v?: number;
    /** Client ID → user, for persistent sessions. */
    clients?: Record<string, string>;
    /** Client ID → [user, last seen (ms)], for clean sessions that disconnected. */
    recent?: Record<string, [string, number]>;
}

export type BindResult = { ok: true } | { ok: false; reason: string };

/** How long a clean session's Client ID stays its user's after it disconnects. */
export const CLEAN_BINDING_TTL_MS = 30 * 24 * 3600 * 1000;
/** Remembered clean IDs at most (the oldest are forgotten first). */
const MAX_RECENT = 100000;

export class ClientBindings {
    private readonly owner = new Map<string, string>();
    private readonly persistent = new Set<string>();
    private readonly byUser = new Map<string, Set<string>>();
    /** Open connections per Client ID: a taken-over connection closing must not free its successor's ID. */
    private readonly live = new Map<string, number>();
    /** Clean sessions' IDs that disconnected, with when: in insertion order, oldest first. */
    private readonly recent = new Map<string, number>();

    onChange: () => void = () => undefined;

    constructor(
        protected readonly maxDevicesPerUser: number,
        protected readonly now: () => number = Date.now,
        protected readonly cleanTtlMs: number = CLEAN_BINDING_TTL_MS,
    ) {}

    /** Binds for one connection; a shared store (a cluster) overrides this to ask every instance's authority first. */
    async claim(clientId: string, user: string, persistent: boolean): Promise<BindResult> {
        return this.bind(clientId, user, persistent);
    }

    ownerOf(clientId: string): string | undefined {
        this.expire(clientId);
        return this.owner.get(clientId);
    }

    isPersistent(clientId: string): boolean {
        return this.persistent.has(clientId);
    }

    /** True while a connection holds the ID. */
    isLive(clientId: string): boolean {
        return this.live.has(clientId);
    }

    /** Clean sessions' IDs that a connection holds now. */
    liveCleanIds(): string[] {
        return [...this.live.keys()].filter((clientId) => !this.persistent.has(clientId));
    }

    devicesOf(user: string): string[] {
        return [...(this.byUser.get(user) ?? [])];
    }

    /** Binds `clientId` to `user` for one connection (call release when it closes). */
    bind(clientId: string, user: string, persistent: boolean): BindResult {
        const owner = this.ownerOf(clientId);
        if (owner !== undefined && owner !== user) return { ok: false, reason: `Client ID ${clientId} belongs to another user` };
        if (!this.persistent.has(clientId) && !this.live.has(clientId)) {
            const counted = this.countedDevices(user);
            if (counted >= this.maxDevicesPerUser) {
                return { ok: false, reason: `${user} already has ${counted} devices (the limit); remove one first` };
            }
        }
        let changed = this.recent.delete(clientId);
        if (owner === undefined) {
            this.owner.set(clientId, user);
            setOf(this.byUser, user).add(clientId);
            changed = true;
        }
        if (persistent && !this.persistent.has(clientId)) {
            this.persistent.add(clientId);
            changed = true;
        } else if (!persistent && this.persistent.delete(clientId)) changed = true; // a clean session ends what a persistent one had kept
        if (changed) this.onChange();
        this.live.set(clientId, (this.live.get(clientId) ?? 0) + 1);
        return { ok: true };
    }

    /** A bound connection closed: a clean session's ID is remembered for a while once no connection holds it. */
    release(clientId: string): void {
        const left = (this.live.get(clientId) ?? 1) - 1;
        if (left > 0) {
            this.live.set(clientId, left);
            return;
        }
        this.live.delete(clientId);
        if (this.persistent.has(clientId) || !this.owner.has(clientId)) return;
        this.recent.set(clientId, this.now());
        if (this.recent.size > MAX_RECENT) this.drop(this.recent.keys().next().value as string, true);
        this.onChange();
    }

    /** Frees a Client ID whatever its kind (the owner removed the device, or the account was removed). */
    forget(clientId: string): void {
        this.drop(clientId, false);
    }

    private drop(clientId: string, expired: boolean): void {
        const owner = this.owner.get(clientId);
        if (owner === undefined) return;
        this.owner.delete(clientId);
        this.recent.delete(clientId);
        this.byUser.get(owner)?.delete(clientId);
        if (this.byUser.get(owner)?.size === 0) this.byUser.delete(owner);
        this.persistent.delete(clientId);
        this.onChange();
        this.forgotten(clientId, owner, expired);
    }

    /** Told when a binding ends (removed, or a clean ID unseen for the TTL), for a shared store to forget it too. */
    protected forgotten(_clientId: string, _owner: string, _expired: boolean): void {
        return undefined;
    }

    toJSON(): BindingsState {
        const clients: Record<string, string> = {};
        for (const clientId of this.persistent) clients[clientId] = this.owner.get(clientId) as string;
        const recent: Record<string, [string, number]> = {};
        for (const [clientId, seen] of this.recent) recent[clientId] = [this.owner.get(clientId) as string, seen];
        return { v: BINDINGS_FORMAT, clients, recent };
    }

    load(state: BindingsState | undefined): void {
        const add = (clientId: string, user: string): void => {
            this.owner.set(clientId, user);
            setOf(this.byUser, user).add(clientId);
        };
        for (const [clientId, user] of Object.entries(state?.clients ?? {})) {
            add(clientId, user);
            this.persistent.add(clientId);
        }
        for (const [clientId, [user, seen]] of Object.entries(state?.recent ?? {})) {
            add(clientId, user);
            this.recent.set(clientId, seen);
        }
    }

    /** Persistent sessions and connected devices of `user`: what the device limit counts. */
    private countedDevices(user: string): number {
        let count = 0;
        for (const clientId of this.byUser.get(user) ?? []) if (this.persistent.has(clientId) || this.live.has(clientId)) count++;
        return count;
    }

    /** Forgets a clean session's ID that has not been seen for the TTL. */
    private expire(clientId: string): void {
        const seen = this.recent.get(clientId);
        if (seen !== undefined && this.now() - seen > this.cleanTtlMs) this.drop(clientId, true);
    }
}
