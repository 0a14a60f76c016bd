// MQTT shared subscriptions ($share/<group>/<filter>), which aedes does not implement: each message
// matching the filter goes to one member of the group, so several instances of one bot answer each
// message once. A group belongs to one user (two users choosing the same name never split each
// other's messages); on an open broker, to everyone, as MQTT 5 has it. In a cluster each instance
// with members claims every message in Redis (SET NX) and only the instance that wins delivers it
// (RedisCluster.claim spreads the wins evenly).
// aedes keeps the `$share/...` filter as an ordinary subscription (it matches nothing by itself, and a
// persistent session restores it); this module reads the clients' subscriptions to know the members.

import type { Aedes, Client } from 'aedes' with { 'resolution-mode': 'import' };
import { ClientInternals, EmittedMessage, emitterOf, internalsOf } from './aedesAdapter';
import { parseShared } from './policy';
import { identityOf } from './serverDelivery';

/** Decides, once across a cluster, which instance delivers a message to a group. */
export interface ShareCoordinator {
    claim(group: string, messageKey: string): Promise<boolean>;
    /** This instance has (or no longer has) members of a group. */
    shareActive(group: string, active: boolean): void;
}

interface Group {
    key: string;
    filter: string;
    members: ClientInternals[];
    next: number;
    listener: (message: EmittedMessage, done: () => void) => void;
}

export class SharedSubscriptions {
    private readonly groups = new Map<string, Group>();
    /** Each client's memberships, by group key. */
    private readonly joined = new Map<ClientInternals, Set<string>>();

    constructor(
        private readonly aedes: Aedes,
        private readonly cluster: ShareCoordinator | undefined,
    ) {}

    install(): void {
        const refresh = (client: Client | null): void => {
            if (client) this.refresh(internalsOf(client));
        };
        this.aedes.on('clientReady', refresh);
        this.aedes.on('subscribe', (_subs, client) => refresh(client));
        this.aedes.on('unsubscribe', (_subs, client) => refresh(client));
        this.aedes.on('clientDisconnect', (client) => this.leaveAll(internalsOf(client)));
    }

    /** Members of this instance, per group key (for tests and status). */
    membersOf(key: string): number {
        return this.groups.get(key)?.members.length ?? 0;
    }

    private refresh(client: ClientInternals): void {
        const owner = identityOf(client)?.user ?? '';
        const wanted = new Map<string, string>();
        for (const filter of Object.keys(client.subscriptions)) {
            const shared = parseShared(filter);
            if (shared) wanted.set(`${owner}\u0000${shared.group}\u0000${shared.filter}`, shared.filter);
        }
        const current = this.joined.get(client) ?? new Set<string>();
        for (const key of current) if (!wanted.has(key)) this.leave(client, key);
        for (const [key, filter] of wanted) if (!current.has(key)) this.join(client, key, filter);
    }

    private join(client: ClientInternals, key: string, filter: string): void {
        let group = this.groups.get(key);
        if (!group) {
            const created: Group = { key, filter, members: [], next: 0, listener: (message, done) => this.route(created, message, done) };
            group = created;
            this.groups.set(key, group);
            emitterOf(this.aedes).on(filter, group.listener);
            this.cluster?.shareActive(key, true);
        }
        group.members.push(client);
        let memberships = this.joined.get(client);
        if (!memberships) this.joined.set(client, (memberships = new Set()));
        memberships.add(key);
    }

    private leave(client: ClientInternals, key: string): void {
        this.joined.get(client)?.delete(key);
        const group = this.groups.get(key);
        if (!group) return;
        group.members = group.members.filter((member) => member !== client);
        if (group.members.length > 0) return;
        this.groups.delete(key);
        emitterOf(this.aedes).removeListener(group.filter, group.listener);
        this.cluster?.shareActive(key, false);
    }

    private leaveAll(client: ClientInternals): void {
        for (const key of [...(this.joined.get(client) ?? [])]) this.leave(client, key);
        this.joined.delete(client);
    }

    private route(group: Group, message: EmittedMessage, done: () => void): void {
        done();
        if (message.topic.startsWith('$')) return;
        const deliver = (): void => {
            const members = group.members.filter((m) => m.connected && !m.closed);
            if (members.length === 0) return;
            const member = members[group.next++ % members.length];
            const sub = Object.entries(member.subscriptions).find(([filter]) => parseShared(filter) && filter.endsWith(`/${group.filter}`));
            const qos = Math.min(message.qos ?? 0, sub?.[1].qos ?? 0);
            member.publish(
                { cmd: 'publish', topic: message.topic, payload: message.payload, qos, retain: false, dup: false },
                () => undefined,
            );
        };
        if (!this.cluster) return deliver();
        const messageKey = `${message.brokerId ?? ''}:${message.brokerCounter ?? ''}`;
        this.cluster.claim(group.key, messageKey).then(
            (won) => won && deliver(),
            () => undefined,
        );
    }
}
