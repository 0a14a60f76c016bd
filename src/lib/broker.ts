// The embedded MQTT broker: aedes over TCP and, optionally, MQTT over WebSocket, with the IM rules
// enforced when security is on. This file composes the parts under broker/: the sockets (listeners),
// who may connect (authentication), what each may publish, subscribe and read (authorization, with the
// rules in policy), what the broker adds to routing (serverDelivery), one copy at the highest QoS
// (highestQos), the disk store, the limits, and the one adapter for aedes's internals.

import { EventEmitter } from 'events';
import type { Aedes, Client } from 'aedes' with { 'resolution-mode': 'import' };
import type { IncomingMessage } from 'http';
import type { Duplex } from 'stream';
import { ImsError } from './ids';
import { CodecOptions, TopicCodec } from './topics';
import {
    boundOutgoingQueue,
    ClientInternals,
    dropWill,
    inspectPackets,
    internalsOf,
    limitPacketSize,
    persistenceOf,
} from './broker/aedesAdapter';
import { installAuthentication } from './broker/authentication';
import { installAuthorization } from './broker/authorization';
import { ClientBindings } from './broker/bindings';
import type { BrokerAccount, BrokerContext, Refusal, SecuredContext } from './broker/context';
import { DiskStore, STATE_FORMAT } from './broker/diskStore';
import { PolicyFacts } from './broker/facts';
import { deliverAtHighestQos } from './broker/highestQos';
import { BrokerLimits, orUnlimited, resolveLimits } from './broker/limits';
import { Listeners } from './broker/listeners';
import { LoginThrottle } from './broker/loginThrottle';
import { isPasswordHash, PasswordCheck } from './broker/passwords';
import { BrokerPolicy, CAPABILITIES_TOPIC } from './broker/policy';
import { GroupRosters } from './broker/rosters';
import { RedisCluster } from './broker/cluster';
import { SharedSubscriptions } from './broker/sharedSubscriptions';
import { guardPersistence } from './broker/persistenceGuards';
import { OfflineQuota } from './broker/offlineQuota';
import { createHistory } from './broker/historySetup';
import type { HistoryService } from './broker/history';
import { identityOf, ServerDelivery } from './broker/serverDelivery';

export type { BrokerAccount, Refusal } from './broker/context';
export { hashPassword, isPasswordHash } from './broker/passwords';
export type { BrokerLimits } from './broker/limits';
export { DEFAULT_LIMITS } from './broker/limits';
export { CAPABILITIES_TOPIC } from './broker/policy';
export { topicMatches } from './broker/highestQos';

export interface BrokerOptions {
    /** TCP port; 0 picks a free one. */
    port: number;
    /** Bind address; loopback unless the user opens it up. */
    host?: string;
    /** MQTT over WebSocket port; none when unset. 0 picks a free one. */
    wsPort?: number;
    wsPath?: string;
    /** When set (and security is off), every client must log in with this user name and password. */
    username?: string;
    password?: string;
    /** IM accounts and the rules of the seed's layout, enforced; see BrokerPolicy. */
    security?: BrokerSecurity;
    /**
     * A directory for a disk store (LevelDB): persistent sessions with their queued QoS 1 messages,
     * retained messages (presence) and what the policy learned survive a restart. In memory when unset.
     */
    storeDir?: string;
    /**
     * Cluster mode: a Redis URL (redis://host:port). Instances with the same Redis share messages,
     * sessions, retained messages and everything the policy knows (docs/SCALING.md); storeDir is not used.
     */
    redisUrl?: string;
    /** What one client or address may cost; see DEFAULT_LIMITS. */
    limits?: Partial<BrokerLimits>;
    /**
     * aedes's heartbeat (default 60 s). The wills of sessions a crashed broker left in the store are
     * published 4 heartbeats after a restart; tests shorten it.
     */
    heartbeatIntervalMs?: number;
}

export interface BrokerSecurity extends CodecOptions {
    accounts: BrokerAccount[];
    /** Cloud MQ semantics: Client IDs must be <known GroupID>@@@<DeviceID>, other parent topics are refused. */
    mqSemantics?: boolean;
    /** GroupIDs a Client ID may use under MQ semantics (default GID_IMS). */
    groupIds?: string[];
}

/** What this broker adds to plain MQTT, retained on CAPABILITIES_TOPIC for clients to learn. */
export interface BrokerCapabilities {
    v: 1;
    broker: 'ims-broker';
    /** One publish on P/<me>/Greet/<name> reaches every member's inbox. */
    virtualGroups: boolean;
    /** A system push on P/System/<value> also reaches users with that attribute value. */
    attributePush: boolean;
    /** The IM rules are enforced (accounts, senders, subscriptions, blocks, groups). */
    secured: boolean;
    /** Each user's messages are kept and served on P/<me>/History/# (docs/PROTOCOL.md). */
    history: boolean;
}

/**
 * Accounts from the node's credentials; a clear error for JSON that is not a list of accounts. Each
 * has a `passwordHash` (what the dialog saves) or, as flows saved before hashes did, a `password`.
 */
export function parseAccounts(text: string | undefined): BrokerAccount[] {
    if (!text || !text.trim()) return [];
    const value: unknown = JSON.parse(text);
    if (!Array.isArray(value)) throw new ImsError('Accounts must be a JSON list', 'IMS_CONFIG');
    return value.map((a, i) => {
        const hashed = a && isPasswordHash(a.passwordHash);
        if (!a || typeof a.user !== 'string' || (!hashed && typeof a.password !== 'string')) {
            throw new ImsError(`Account ${i + 1} needs a "user" string and a "password" string or "passwordHash"`, 'IMS_CONFIG');
        }
        const secret = hashed ? { passwordHash: a.passwordHash as string } : { password: a.password as string };
        return { user: a.user, ...secret, system: a.system === true, attributes: a.attributes ?? {} };
    });
}

export const DEFAULT_HOST = '127.0.0.1';

export declare interface EmbeddedBroker {
    on(event: 'clients', listener: (count: number) => void): this;
    on(event: 'refused', listener: (refusal: Refusal) => void): this;
    on(event: 'virtualGroup', listener: (expansion: { sender: string; name: string; members: number }) => void): this;
    on(event: 'clientError', listener: (clientId: string, error: Error) => void): this;
    /** The disk store failed to save what the broker learned (a block, a binding...). */
    on(event: 'storeError', listener: (error: Error) => void): this;
    /** A save succeeded again after a storeError. */
    on(event: 'storeRecovered', listener: () => void): this;
}

export class EmbeddedBroker extends EventEmitter {
    readonly codec: TopicCodec;
    readonly policy: BrokerPolicy | undefined;
    readonly limits: BrokerLimits;
    readonly capabilities: BrokerCapabilities;
    private readonly secured: SecuredContext | undefined;
    /** Virtual groups given by the flow on an open broker (a secured one keeps them with its facts): name → members. */
    private readonly virtualGroups = new Map<string, string[]>();
    private readonly sockets: Listeners;
    private store: DiskStore | undefined;
    /** Filters past a SUBSCRIBE's allowance, refused by authorizeSubscribe. */
    private readonly excessFilters = new WeakSet<object>();
    /** Refusals sent per user in the current window, and how many were held back. */
    private readonly refusalWindow = new Map<string, { count: number; held: number; since: number }>();
    private serverDelivery: ServerDelivery | undefined;
    /** Bounds what is queued for persistent sessions that are away (src/lib/broker/offlineQuota.ts). */
    readonly offlineQuota: OfflineQuota;
    /** Each user's messages, when kept (secured, historyPerConversation > 0). */
    history: HistoryService | undefined;

    private constructor(
        readonly aedes: Aedes,
        readonly options: BrokerOptions,
        private readonly cluster?: RedisCluster,
    ) {
        super();
        const security = options.security;
        this.codec = new TopicCodec(security ?? {});
        this.limits = resolveLimits(options.limits);
        this.offlineQuota = new OfflineQuota({
            perSession: this.limits.queuedPerSession,
            perSender: this.limits.queuedPerSender,
            senderOf: (topic) => this.codec.parse(topic)?.from,
            // Reported as the sender's refusal: it is the sender whose message was not kept.
            refused: (clientId, sender, topic, reason) => this.refuse({ user: sender, clientId, action: 'limit', topic, reason }),
        });
        if (security) {
            const facts = new PolicyFacts();
            const accounts = new Map(security.accounts.map((a) => [a.user, a]));
            this.policy = new BrokerPolicy(this.codec, facts, {
                mqSemantics: security.mqSemantics,
                isAccount: (user) => accounts.has(user),
                groupsPerUser: orUnlimited(this.limits.groupsPerUser),
            });
            this.secured = {
                policy: this.policy,
                bindings: cluster
                    ? cluster.bindings(orUnlimited(this.limits.devicesPerUser))
                    : new ClientBindings(orUnlimited(this.limits.devicesPerUser)),
                throttle: new LoginThrottle({
                    perUser: orUnlimited(this.limits.failedLoginsPerUser),
                    perAddress: orUnlimited(this.limits.failedLoginsPerAddress),
                    maxDelayMs: 60000,
                }),
                accounts,
                passwords: new PasswordCheck(),
                live: new Map(),
                mqSemantics: security.mqSemantics === true,
                groupIds: security.groupIds ?? ['GID_IMS'],
            };
        }
        this.capabilities = {
            v: 1,
            broker: 'ims-broker',
            virtualGroups: true,
            attributePush: true,
            secured: security !== undefined,
            history: security !== undefined && this.limits.historyPerConversation > 0,
        };
        this.sockets = new Listeners(
            {
                port: options.port,
                host: options.host || DEFAULT_HOST,
                wsPort: options.wsPort,
                wsPath: options.wsPath,
                maxPacketBytes: orUnlimited(this.limits.maxPacketBytes),
                connectionsPerAddress: this.limits.connectionsPerAddress,
            },
            (stream, req) => this.accept(stream, req),
            (address, reason) => this.refuse({ user: '', clientId: '', action: 'limit', topic: address, reason }),
        );
    }

    static async start(options: BrokerOptions): Promise<EmbeddedBroker> {
        // aedes is ESM only; a dynamic import() loads it from this CommonJS build.
        const { Aedes } = await import('aedes');
        const cluster = options.redisUrl ? await RedisCluster.open(options.redisUrl) : undefined;
        const store = options.storeDir && !cluster ? await DiskStore.open(options.storeDir) : undefined;
        const limits = resolveLimits(options.limits);
        const persistence = cluster?.persistence ?? store?.persistence;
        const aedes = await Aedes.createBroker({
            ...(persistence ? { persistence: persistence as never } : {}),
            ...(cluster ? { mq: cluster.emitter as never } : {}),
            connectTimeout: limits.connectTimeoutMs,
            // Sessions of many follows and groups: deliver everything queued, not aedes's first 1 000.
            maxSessionDelivery: 100000,
            ...(options.heartbeatIntervalMs ? { heartbeatInterval: options.heartbeatIntervalMs } : {}),
        } as never);
        const broker = new EmbeddedBroker(aedes, options, cluster);
        broker.offlineQuota.install(persistenceOf(aedes));
        guardPersistence(
            persistenceOf(aedes),
            (error) => broker.emit('storeError', error),
            () => broker.closing,
        );
        try {
            if (cluster) await broker.attachCluster(cluster);
            if (store) await broker.attachStore(store);
            if (broker.capabilities.history) broker.history = await broker.startHistory(store);
            broker.installHooks();
            await broker.serverDelivery?.listen(broker.secured?.mqSemantics === true);
            await broker.announceCapabilities();
            await broker.keepGroupRosters();
            await broker.sockets.listen();
        } catch (error) {
            await broker.close();
            throw error;
        }
        return broker;
    }

    /** Names a virtual group (from the flow): one publish on P/<sender>/Greet/<name> reaches them all. */
    setVirtualGroup(name: string, members: string[]): void {
        if (this.secured) this.secured.policy.facts.setVirtualGroup(name, members);
        else this.virtualGroups.set(name, [...new Set(members)]);
    }

    /**
     * Adds or replaces an account (from the node's settings or the flow). A changed password, system
     * flag or attributes ends the account's open connections: they were admitted with the old rights.
     */
    setAccount(account: BrokerAccount): void {
        const secured = this.requireSecured();
        const before = secured.accounts.get(account.user);
        secured.accounts.set(account.user, account);
        if (before && !sameAccount(before, account)) this.disconnectUser(account.user);
    }

    /** Removes an account and ends its open connections. */
    removeAccount(user: string): boolean {
        const secured = this.requireSecured();
        const removed = secured.accounts.delete(user);
        if (removed) this.disconnectUser(user);
        return removed;
    }

    /** Frees a device's Client ID (its user no longer has it), so its user's device count drops and anyone may bind it. */
    removeDevice(clientId: string): boolean {
        const bindings = this.requireSecured().bindings;
        const owner = bindings.ownerOf(clientId);
        if (owner === undefined) return false;
        for (const client of this.liveConnections(owner)) if (client.id === clientId) client.close();
        bindings.forget(clientId);
        this.offlineQuota.forget(clientId);
        return true;
    }

    /** B unblocks A: A may follow B again. */
    unblock(blocker: string, blocked: string): void {
        this.requireSecured().policy.facts.unblock(blocker, blocked);
    }

    get port(): number {
        return this.sockets.port;
    }

    get wsPort(): number | undefined {
        return this.sockets.wsPort;
    }

    get clientCount(): number {
        return this.aedes.connectedClients;
    }

    /** True once close() began: the store's late errors are expected then. */
    private closing = false;

    async close(): Promise<void> {
        this.closing = true;
        const closing: Promise<unknown>[] = [this.sockets.close()];
        closing.push(new Promise<void>((resolve) => this.aedes.close(() => resolve())));
        await Promise.all(closing);
        await this.history?.close();
        // aedes leaves its persistence open; LevelDB locks its directory until it is closed.
        await this.store?.close();
        if (this.cluster) {
            await this.cluster.persistence.destroy().catch(() => undefined);
            await this.cluster.close();
        }
    }

    private requireSecured(): SecuredContext {
        if (!this.secured) throw new ImsError('The broker does not enforce the IM rules: it has no accounts', 'IMS_CONFIG');
        return this.secured;
    }

    private async attachCluster(cluster: RedisCluster): Promise<void> {
        cluster.onError = (error) => {
            this.emit('storeError', error);
            this.refuse({ user: '', clientId: '', action: 'store', topic: '', reason: `Redis: ${error.message}` });
        };
        const secured = this.secured;
        if (!secured) return;
        await cluster.loadBindings(secured.bindings);
        await cluster.attachFacts(secured.policy.facts);
    }

    private async attachStore(store: DiskStore): Promise<void> {
        this.store = store;
        store.onError = (error) => {
            this.emit('storeError', error);
            this.refuse({
                user: '',
                clientId: '',
                action: 'store',
                topic: '',
                reason: `the disk store could not save the broker's state: ${error.message}`,
            });
        };
        store.onRecovered = () => this.emit('storeRecovered');
        const secured = this.secured;
        if (!secured) return;
        const state = await store.loadState();
        secured.policy.facts.load(state?.facts);
        secured.bindings.load(state?.bindings);
        const save = (): void =>
            store.saveState(() => ({ v: STATE_FORMAT, facts: secured.policy.facts.toJSON(), bindings: secured.bindings.toJSON() }));
        secured.policy.facts.onChange = save;
        secured.bindings.onChange = save;
    }

    private startHistory(store: DiskStore | undefined): Promise<HistoryService> {
        const secured = this.requireSecured();
        return createHistory({
            store,
            redisUrl: this.cluster?.url,
            limits: this.limits,
            aedes: this.aedes,
            codec: this.codec,
            facts: secured.policy.facts,
            isAccount: (user) => secured.accounts.has(user),
            ownerOf: (clientId) => secured.bindings.ownerOf(clientId),
            refuse: (refusal) => this.refuse(refusal),
            onError: (error) => {
                this.emit('storeError', error);
                this.refuse({ user: '', clientId: '', action: 'store', topic: '', reason: `history: ${error.message}` });
            },
        });
    }

    private installHooks(): void {
        const context: BrokerContext = {
            aedes: this.aedes,
            excessFilters: this.excessFilters,
            codec: this.codec,
            limits: this.limits,
            delivery: new ServerDelivery(
                this.aedes,
                this.codec,
                {
                    named: (name) => (this.secured ? this.secured.policy.facts.virtualGroup(name) : this.virtualGroups.get(name)),
                    friendsOf: (sender) => {
                        const facts = this.secured?.policy.facts;
                        return facts ? facts.friendsOf(sender).filter((friend) => !facts.isBlocked(sender, friend)) : [];
                    },
                },
                orUnlimited(this.limits.membersPerVirtualGroup),
            ),
            secured: this.secured,
            history: this.history,
            login: { username: this.options.username, password: this.options.password },
            refuse: (refusal) => this.refuse(refusal),
            unsubscribeUser: (user, topics) => this.unsubscribeUser(user, topics),
            virtualGroupExpanded: (expansion) => this.emit('virtualGroup', expansion),
        };
        installAuthentication(context);
        installAuthorization(context);
        new SharedSubscriptions(this.aedes, this.cluster).install();
        this.serverDelivery = context.delivery;
        const report = (): void => {
            this.emit('clients', this.aedes.connectedClients);
        };
        this.aedes.on('clientReady', report);
        this.aedes.on('clientReady', (client) => {
            // A clean login ends the session that was queued for: nothing counts against it any more.
            if (internalsOf(client).clean) this.offlineQuota.forget(client.id);
        });
        this.aedes.on('clientDisconnect', report);
        this.aedes.on('clientError', (client, error) => this.emit('clientError', client?.id ?? '', error));
    }

    /** A new connection: aedes takes it, with this broker's limits and delivery rule in place before any byte is read. */
    private accept(stream: Duplex, req?: IncomingMessage): void {
        const client = internalsOf(this.aedes.handle(stream as never, req as never) as Client);
        const limits = this.limits;
        const refuseLimit = (reason: string): void => {
            const identity = identityOf(client);
            this.refuse({
                user: identity?.user ?? '',
                clientId: identity?.clientId ?? client.id ?? '',
                action: 'limit',
                topic: '',
                reason,
            });
        };
        // More filters in one SUBSCRIBE than allowed: the rest are refused (SUBACK 0x80) without being
        // looked at; ten times more is no client's batching but an attack, and closes the connection.
        inspectPackets(client, (packet) => {
            const subscriptions = packet.cmd === 'subscribe' ? packet.subscriptions : undefined;
            if (!subscriptions || subscriptions.length <= limits.filtersPerSubscribe) return;
            if (subscriptions.length > 10 * limits.filtersPerSubscribe) {
                refuseLimit(`a SUBSCRIBE of ${subscriptions.length} filters (the limit is ${limits.filtersPerSubscribe} a packet)`);
                packet.subscriptions = [];
                client.conn.destroy();
                return;
            }
            for (const sub of subscriptions.slice(limits.filtersPerSubscribe)) this.excessFilters.add(sub);
        });
        limitPacketSize(
            client,
            () => orUnlimited(client.connected ? limits.maxPacketBytes : limits.maxConnectBytes),
            (declared) => refuseLimit(`a packet of ${declared} bytes is over the limit`),
        );
        boundOutgoingQueue(client, orUnlimited(limits.maxQueuedBytes), (queued) =>
            refuseLimit(`${queued} bytes waiting to be written: disconnected as a slow consumer`),
        );
        deliverAtHighestQos(client);
    }

    /** Retains what this broker offers on CAPABILITIES_TOPIC (rewritten at every start: a stored one may be stale). */
    private announceCapabilities(): Promise<void> {
        return this.publishRetained(CAPABILITIES_TOPIC, Buffer.from(JSON.stringify(this.capabilities)));
    }

    /** A secured broker keeps each group's member list retained for its members (broker/rosters.ts). */
    private async keepGroupRosters(): Promise<void> {
        if (!this.secured) return;
        const rosters = new GroupRosters(
            this.secured.policy.facts,
            (topic, payload) => this.publishRetained(topic, payload),
            (error) => this.emit('storeError', error),
        );
        rosters.attach();
        await rosters.publishAll();
    }

    /** Publishes a retained QoS 0 message as the broker itself. */
    private publishRetained(topic: string, payload: Buffer): Promise<void> {
        return new Promise((resolve, reject) => {
            this.aedes.publish({ cmd: 'publish', topic, payload, qos: 0, retain: true, dup: false } as never, (error?: Error) =>
                error ? reject(error) : resolve(),
            );
        });
    }

    /** Removes a user's subscriptions on every device, connected or not, live and in the stored session. */
    private unsubscribeUser(user: string, topics: string[]): void {
        const persistence = persistenceOf(this.aedes);
        const storeError = (error: Error): boolean => this.emit('storeError', error);
        for (const client of this.liveConnections(user)) {
            client.unsubscribe(topics, () => undefined);
            // A live unsubscribe made by the broker skips the persistence: remove the stored ones too.
            if (!client.clean) persistence.removeSubscriptions({ id: client.id }, topics).catch(storeError);
        }
        const live = new Set(this.liveConnections(user).map((c) => c.id));
        for (const clientId of this.secured?.bindings.devicesOf(user) ?? []) {
            if (!live.has(clientId)) persistence.removeSubscriptions({ id: clientId }, topics).catch(storeError);
        }
    }

    /** Ends every open connection of a user, whatever its Client ID, without publishing their wills. */
    private disconnectUser(user: string): void {
        for (const client of this.liveConnections(user)) {
            // Its will was admitted with the rights the account just lost.
            dropWill(client);
            client.close();
        }
    }

    private liveConnections(user: string): ClientInternals[] {
        return [...(this.secured?.live.get(user) ?? [])];
    }

    /**
     * Reports a refusal on the 'refused' event, trimmed (topics and reasons may be an attacker's
     * megabytes) and at most REFUSALS_PER_WINDOW per user per window; the rest are counted in the next one.
     */
    private refuse(refusal: Refusal): void {
        const now = Date.now();
        let window = this.refusalWindow.get(refusal.user);
        if (!window || now - window.since > REFUSAL_WINDOW_MS) {
            if (this.refusalWindow.size >= 10000) this.refusalWindow.clear();
            window = { count: 0, held: window?.held ?? 0, since: now };
            this.refusalWindow.set(refusal.user, window);
        }
        if (++window.count > REFUSALS_PER_WINDOW) {
            window.held++;
            return;
        }
        const trimmed: Refusal = { ...refusal, topic: trim(refusal.topic, 256), reason: trim(refusal.reason, 512) };
        if (window.held > 0) {
            trimmed.suppressed = window.held;
            window.held = 0;
        }
        this.emit('refused', trimmed);
    }
}

/** At most this many refusals per user per window reach the 'refused' event (and the node's output). */
const REFUSALS_PER_WINDOW = 20;
const REFUSAL_WINDOW_MS = 10000;

function trim(text: string, max: number): string {
    return text.length > max ? `${text.slice(0, max)}…` : text;
}

function sameAccount(a: BrokerAccount, b: BrokerAccount): boolean {
    return (
        a.password === b.password &&
        a.passwordHash === b.passwordHash &&
        (a.system === true) === (b.system === true) &&
        JSON.stringify(a.attributes ?? {}) === JSON.stringify(b.attributes ?? {})
    );
}
