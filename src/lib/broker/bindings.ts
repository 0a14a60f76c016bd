// Which user owns each Client ID. With security on, a Client ID belongs to the first user that logs in
// with it: another user presenting it is refused (CONNACK 0x02), so nobody can take over someone
// else's persistent session or kick its device off. Persistent sessions keep their binding across
// restarts (saved with the policy's facts); a clean session's binding lasts while it is connected.
// The same table answers "which devices does this user have", for blocks that must reach offline sessions.

import { setOf } from './facts';

export const BINDINGS_FORMAT = 1;

export interface BindingsState {
    v?: number;
    /** Client ID → user, for persistent sessions. */
    clients?: Record<string, string>;
}

export type BindResult = { ok: true } | { ok: false; reason: string };

export class ClientBindings {
    private readonly owner = new Map<string, string>();
    private readonly persistent = new Set<string>();
    private readonly byUser = new Map<string, Set<string>>();
    /** Open connections per Client ID: a taken-over connection closing must not free its successor's ID. */
    private readonly live = new Map<string, number>();

    onChange: () => void = () => undefined;

    constructor(protected readonly maxDevicesPerUser: number) {}

    /** Binds for one connection; a shared store (a cluster) overrides this to ask every instance's authority first. */
    async claim(clientId: string, user: string, persistent: boolean): Promise<BindResult> {
        return this.bind(clientId, user, persistent);
    }

    ownerOf(clientId: string): string | undefined {
        return this.owner.get(clientId);
    }

    devicesOf(user: string): string[] {
        return [...(this.byUser.get(user) ?? [])];
    }

    /** Binds `clientId` to `user` for one connection (call release when it closes); persistent sessions keep it after. */
    bind(clientId: string, user: string, persistent: boolean): BindResult {
        const owner = this.owner.get(clientId);
        if (owner !== undefined && owner !== user) return { ok: false, reason: `Client ID ${clientId} belongs to another user` };
        if (owner === undefined) {
            const devices = this.byUser.get(user);
            if (devices && devices.size >= this.maxDevicesPerUser) {
                return { ok: false, reason: `${user} already has ${devices.size} devices (the limit); remove one first` };
            }
            this.owner.set(clientId, user);
            setOf(this.byUser, user).add(clientId);
        }
        if (persistent && !this.persistent.has(clientId)) {
            this.persistent.add(clientId);
            this.onChange();
        } else if (!persistent && this.persistent.delete(clientId)) {
            this.onChange(); // a clean session ends what a persistent one had kept
        }
        this.live.set(clientId, (this.live.get(clientId) ?? 0) + 1);
        return { ok: true };
    }

    /** A bound connection closed: a clean session's Client ID is free again once no connection holds it. */
    release(clientId: string): void {
        const left = (this.live.get(clientId) ?? 1) - 1;
        if (left > 0) {
            this.live.set(clientId, left);
            return;
        }
        this.live.delete(clientId);
        if (!this.persistent.has(clientId)) this.forget(clientId);
    }

    /** Frees a Client ID whatever its kind (the owner removed the device, or the account was removed). */
    forget(clientId: string): void {
        const owner = this.owner.get(clientId);
        if (owner === undefined) return;
        this.owner.delete(clientId);
        this.byUser.get(owner)?.delete(clientId);
        if (this.byUser.get(owner)?.size === 0) this.byUser.delete(owner);
        if (this.persistent.delete(clientId)) this.onChange();
        this.forgotten(clientId, owner);
    }

    /** Told when a binding ends, for a shared store to forget it too. */
    protected forgotten(_clientId: string, _owner: string): void {
        return undefined;
    }

    toJSON(): BindingsState {
        const clients: Record<string, string> = {};
        for (const clientId of this.persistent) clients[clientId] = this.owner.get(clientId) as string;
        return { v: BINDINGS_FORMAT, clients };
    }

    load(state: BindingsState | undefined): void {
        for (const [clientId, user] of Object.entries(state?.clients ?? {})) {
            this.owner.set(clientId, user);
            this.persistent.add(clientId);
            setOf(this.byUser, user).add(clientId);
        }
    }
}
