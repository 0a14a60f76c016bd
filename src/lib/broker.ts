// The embedded MQTT broker: aedes over TCP and, optionally, MQTT over WebSocket. It owns its sockets,
// so close() really frees its ports (a Node-RED redeploy opens the same ports again at once).

import { EventEmitter } from 'events';
import { createServer as createHttpServer, Server as HttpServer } from 'http';
import { AddressInfo, createServer as createTcpServer, Server as TcpServer, Socket } from 'net';
import { timingSafeEqual } from 'crypto';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { Aedes, AuthenticateError, Client } from 'aedes' with { 'resolution-mode': 'import' };
import * as fs from 'fs';
import { BrokerIdentity, BrokerPolicy, PolicyState } from './brokerPolicy';
import { ImsError, parseClientId } from './ids';
import { CodecOptions, ParsedTopic, TopicCodec } from './topics';
import { tuneSocket } from './socketTuning';

export interface BrokerOptions {
    /** TCP port; 0 picks a free one. */
    port: number;
    /** Bind address; loopback unless the user opens it up. */
    host?: string;
    /** MQTT over WebSocket port; none when unset. 0 picks a free one. */
    wsPort?: number;
    wsPath?: string;
    /** When set, every client must log in with this user name and password. */
    username?: string;
    password?: string;
    /** IM accounts and the rules of the seed's layout, enforced; see BrokerPolicy. */
    security?: BrokerSecurity;
    /**
     * A directory for a disk store (LevelDB): persistent sessions with their queued QoS 1 messages,
     * retained messages (presence) and what the policy learned survive a restart. In memory when unset.
     */
    storeDir?: string;
}

export interface BrokerAccount {
    user: string;
    password: string;
    system?: boolean;
    attributes?: Record<string, string>;
}

export interface BrokerSecurity extends CodecOptions {
    accounts: BrokerAccount[];
    /** Cloud MQ semantics: Client IDs must be <known GroupID>@@@<DeviceID>, other parent topics are refused. */
    mqSemantics?: boolean;
    /** GroupIDs a Client ID may use under MQ semantics (default GID_IMS). */
    groupIds?: string[];
}

/** Accounts from the node's credentials; a clear error for JSON that is not a list of accounts. */
export function parseAccounts(text: string | undefined): BrokerAccount[] {
    if (!text || !text.trim()) return [];
    const value: unknown = JSON.parse(text);
    if (!Array.isArray(value)) throw new ImsError('Accounts must be a JSON list', 'IMS_CONFIG');
    return value.map((a, i) => {
        if (!a || typeof a.user !== 'string' || typeof a.password !== 'string') {
            throw new ImsError(`Account ${i + 1} needs "user" and "password" strings`, 'IMS_CONFIG');
        }
        return { user: a.user, password: a.password, system: a.system === true, attributes: a.attributes ?? {} };
    });
}

/** A publish or subscription the broker refused, for the node's output. */
export interface Refusal {
    user: string;
    clientId: string;
    action: 'connect' | 'publish' | 'subscribe';
    topic: string;
    reason: string;
}

/** Where a refused publish goes: acknowledged (MQTT 3.1.1 has no refusal for it) and delivered to nobody. */
const DROPPED = '$IMS/dropped';
/**
 * What this broker adds to plain MQTT, for clients to learn rather than assume: a retained message
 * on this topic (the only $IMS topic a client may subscribe), e.g. {"v":1,"virtualGroups":true}.
 * Other brokers have no message here, so a client that hears nothing knows it is on a plain broker.
 */
export const CAPABILITIES_TOPIC = '$IMS/capabilities';
export interface BrokerCapabilities {
    v: 1;
    broker: 'ims-broker';
    /** One publish on P/<me>/Greet/<name> reaches every member's inbox. */
    virtualGroups: boolean;
    /** A system push on P/System/<value> also reaches users with that attribute value. */
    attributePush: boolean;
    /** The IM rules are enforced (accounts, senders, subscriptions, blocks, groups). */
    secured: boolean;
}
type ImsClient = Client & { ims?: BrokerIdentity; imsEmptyId?: boolean };

export const DEFAULT_HOST = '127.0.0.1';
const LISTEN_RETRIES = 10;
const LISTEN_RETRY_MS = 200;

export declare interface EmbeddedBroker {
    on(event: 'clients', listener: (count: number) => void): this;
    on(event: 'refused', listener: (refusal: Refusal) => void): this;
    on(event: 'virtualGroup', listener: (expansion: { sender: string; name: string; members: number }) => void): this;
    on(event: 'clientError', listener: (clientId: string, error: Error) => void): this;
}

export class EmbeddedBroker extends EventEmitter {
    private readonly sockets = new Set<Socket>();
    private tcp: TcpServer | undefined;
    private http: HttpServer | undefined;
    private wss: WebSocketServer | undefined;
    readonly policy: BrokerPolicy | undefined;
    readonly codec: TopicCodec;
    private readonly accounts = new Map<string, BrokerAccount>();
    /** Virtual groups given by the flow: name → members. */
    private readonly virtualGroups = new Map<string, string[]>();
    /** user → Client IDs it logged in with, to reach its offline sessions too. */
    private readonly devices = new Map<string, Set<string>>();

    private store: DiskStore | undefined;

    private constructor(
        readonly aedes: Aedes,
        readonly options: BrokerOptions,
    ) {
        super();
        const security = options.security;
        this.codec = new TopicCodec(security ?? {});
        if (security) {
            this.policy = new BrokerPolicy(this.codec, { mqSemantics: security.mqSemantics });
            for (const account of security.accounts) this.setAccount(account);
        }
    }

    static async start(options: BrokerOptions): Promise<EmbeddedBroker> {
        // aedes is ESM only; a dynamic import() loads it from this CommonJS build.
        const { Aedes } = await import('aedes');
        const store = options.storeDir ? await DiskStore.open(options.storeDir) : undefined;
        const aedes = await Aedes.createBroker(store ? { persistence: store.persistence as never } : {});
        const broker = new EmbeddedBroker(aedes, options);
        broker.store = store;
        if (store && broker.policy) {
            const policy = broker.policy;
            policy.load(await store.loadPolicy());
            policy.onChange = () => store.savePolicy(() => policy.toJSON());
        }
        broker.installHooks();
        await broker.announceCapabilities();
        try {
            await broker.listen();
        } catch (error) {
            await broker.close();
            throw error;
        }
        return broker;
    }

    readonly capabilities: BrokerCapabilities = { v: 1, broker: 'ims-broker', virtualGroups: true, attributePush: true, secured: false };

    /** Retains what this broker offers on CAPABILITIES_TOPIC (rewritten at every start: a stored one may be stale). */
    private announceCapabilities(): Promise<void> {
        (this as { capabilities: BrokerCapabilities }).capabilities = { ...this.capabilities, secured: this.policy !== undefined };
        const payload = Buffer.from(JSON.stringify(this.capabilities));
        return new Promise((resolve, reject) => {
            this.aedes.publish(
                { cmd: 'publish', topic: CAPABILITIES_TOPIC, payload, qos: 0, retain: true, dup: false } as never,
                (error?: Error) => (error ? reject(error) : resolve()),
            );
        });
    }

    /** Names a virtual group (from the flow): one publish on P/<sender>/Greet/<name> reaches them all. */
    setVirtualGroup(name: string, members: string[]): void {
        this.virtualGroups.set(name, [...new Set(members)]);
    }

    /** Adds or replaces an account (from the node's settings or the flow). */
    setAccount(account: BrokerAccount): void {
        this.accounts.set(account.user, account);
    }

    get port(): number {
        return (this.tcp?.address() as AddressInfo | null)?.port ?? 0;
    }

    get wsPort(): number | undefined {
        return (this.http?.address() as AddressInfo | null)?.port;
    }

    get clientCount(): number {
        return this.aedes.connectedClients;
    }

    async close(): Promise<void> {
        const closing: Promise<unknown>[] = [];
        if (this.wss) closing.push(new Promise((resolve) => this.wss?.close(resolve)));
        for (const server of [this.tcp, this.http]) {
            if (server?.listening) closing.push(new Promise((resolve) => server.close(resolve)));
        }
        for (const socket of this.sockets) socket.destroy();
        closing.push(new Promise<void>((resolve) => this.aedes.close(() => resolve())));
        await Promise.all(closing);
        // aedes leaves its persistence open; LevelDB locks its directory until it is closed.
        await this.store?.close();
    }

    private async listen(): Promise<void> {
        const host = this.options.host || DEFAULT_HOST;
        const tcp = createTcpServer((socket) => this.aedes.handle(socket));
        this.tcp = tcp;
        this.track(tcp);
        await listenWithRetry(tcp, this.options.port, host);
        if (this.options.wsPort !== undefined) {
            const http = createHttpServer();
            this.http = http;
            this.track(http);
            this.wss = new WebSocketServer({ server: http, path: this.options.wsPath || '/mqtt' });
            this.wss.on('connection', (ws, req) => this.aedes.handle(createWebSocketStream(ws) as never, req as never));
            await listenWithRetry(http, this.options.wsPort, host);
        }
        this.aedes.on('client', (client) => deliverAtHighestQos(client as unknown as DeliveringClient));
        const report = (): void => {
            this.emit('clients', this.aedes.connectedClients);
        };
        this.aedes.on('clientReady', report);
        this.aedes.on('clientDisconnect', report);
        this.aedes.on('clientError', (client, error) => this.emit('clientError', client?.id ?? '', error));
    }

    private installHooks(): void {
        const aedes = this.aedes;
        // MQTT 3.1.1 [MQTT-3.1.3-8]: a zero-length Client ID with clean session off gets CONNACK 0x02;
        // aedes would invent an ID. preConnect sees the raw packet, authenticate answers with the code.
        aedes.preConnect = (client, packet, done) => {
            (client as ImsClient).imsEmptyId = !packet.clientId && !packet.clean;
            done(null, true);
        };
        aedes.authenticate = (client, username, password, done) => {
            const c = client as ImsClient;
            const fail = (returnCode: 2 | 4 | 5, message: string): void => {
                this.emit('refused', {
                    user: username ?? '',
                    clientId: c.imsEmptyId ? '' : client.id,
                    action: 'connect',
                    topic: '',
                    reason: message,
                });
                done(Object.assign(new Error(message), { returnCode }) as AuthenticateError, false);
            };
            if (c.imsEmptyId) return fail(2, 'a zero-length Client ID needs clean session');
            const secret = password?.toString('utf8') ?? '';
            if (!this.policy) {
                const open = !this.options.username && !this.options.password;
                if (open || (sameSecret(username ?? '', this.options.username ?? '') && sameSecret(secret, this.options.password ?? '')))
                    return done(null, true);
                return fail(4, 'Bad user name or password');
            }
            const account = username ? this.accounts.get(username) : undefined;
            if (!account || !sameSecret(secret, account.password)) return fail(4, 'Bad user name or password');
            if (this.options.security?.mqSemantics) {
                const groupIds = this.options.security.groupIds ?? ['GID_IMS'];
                let mqGroupId: string;
                try {
                    mqGroupId = parseClientId(client.id, this.policy.codec.rules).mqGroupId;
                } catch (error) {
                    return fail(2, (error as Error).message);
                }
                if (!groupIds.includes(mqGroupId)) return fail(2, `GroupID ${mqGroupId} is not known to this broker`);
            }
            c.ims = { user: account.user, clientId: client.id, system: account.system === true, attributes: { ...account.attributes } };
            this.deviceSet(account.user).add(client.id);
            return done(null, true);
        };
        aedes.authorizeSubscribe = (client, sub, done) => {
            const identity = (client as ImsClient).ims;
            if (sub.topic === CAPABILITIES_TOPIC) return done(null, { ...sub, qos: 0 });
            if (!this.policy || sub.topic.startsWith('$IMS')) return done(null, sub.topic.startsWith('$IMS') ? null : sub);
            if (!identity) return done(null, null);
            const decision = this.policy.canSubscribe(identity, sub.topic);
            if (decision.ok) return done(null, sub);
            this.emit('refused', {
                user: identity.user,
                clientId: identity.clientId,
                action: 'subscribe',
                topic: sub.topic,
                reason: decision.reason,
            });
            return done(null, null); // SUBACK 0x80, the connection stays up
        };
        aedes.authorizePublish = (client, packet, done) => {
            if (packet.topic.startsWith('$SYS') || packet.topic.startsWith('$IMS')) return done(new Error(`${packet.topic} is reserved`));
            const identity = (client as ImsClient | null)?.ims;
            // Parsed once here, for the policy and the broker's own deliveries alike.
            const parsed = this.codec.parse(packet.topic);
            const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(String(packet.payload ?? ''));
            if (!this.policy || !client) {
                // An open broker (or a stored will after a restart): no identity to check; the layout's extras still apply.
                if (client) this.serverSideDelivery(packet, undefined, parsed, payload);
                return done(null);
            }
            if (!identity) return done(new Error('not logged in'));
            const decision = this.policy.canPublish(identity, packet.topic, payload, parsed);
            if (!decision.ok) {
                this.emit('refused', {
                    user: identity.user,
                    clientId: identity.clientId,
                    action: 'publish',
                    topic: packet.topic,
                    reason: decision.reason,
                });
                packet.topic = DROPPED;
                packet.retain = false;
                return done(null);
            }
            const effect = this.policy.observe(identity, packet.topic, payload, parsed);
            if (effect.unsubscribe) this.unsubscribeUser(effect.unsubscribe.user, effect.unsubscribe.topics);
            if (this.options.security?.mqSemantics) this.deliverP2p(packet, payload, parsed);
            this.serverSideDelivery(packet, identity, parsed, payload);
            return done(null);
        };
    }

    /**
     * What this broker adds to the seed's layout, beyond routing: a virtual group publish is expanded
     * into each member's inbox, and a system push also reaches the users whose attributes match.
     */
    private serverSideDelivery(
        packet: { topic: string; qos: number; retain: boolean },
        identity: BrokerIdentity | undefined,
        parsed: ParsedTopic | null,
        payload: Buffer,
    ): void {
        if (!parsed) return;
        if (parsed.kind === 'vgroup' && parsed.from && parsed.group) {
            this.expandVirtualGroup(identity?.user ?? parsed.from, parsed.group, payload, packet.qos);
            packet.topic = DROPPED; // members get it in their inboxes; the list itself goes nowhere
            packet.retain = false;
        }
        if (parsed.kind === 'system' && parsed.region) this.pushByAttribute(packet.topic, parsed.region, payload, packet.qos);
    }

    /** One greeting, delivered as P/<member>/Inbox/Chat/<sender> to each member, as if sent one by one. */
    private expandVirtualGroup(sender: string, name: string, payload: Buffer, qos: number): void {
        let body: Record<string, unknown> | undefined;
        try {
            body = payload.length && payload[0] === 0x7b ? JSON.parse(payload.toString('utf8')) : undefined;
        } catch {
            body = undefined;
        }
        const data = body && typeof body.data === 'object' && body.data !== null ? (body.data as Record<string, unknown>) : undefined;
        const listed = Array.isArray(data?.members)
            ? (data?.members as unknown[]).filter((m): m is string => typeof m === 'string')
            : undefined;
        const members = listed ?? this.virtualGroups.get(name) ?? (name === 'friends' ? (this.policy?.friendsOf(sender) ?? []) : []);
        if (data) delete data.members;
        const delivered = body ? Buffer.from(JSON.stringify(body)) : payload;
        let count = 0;
        for (const member of new Set(members)) {
            let topic: string;
            try {
                topic = this.codec.chat(member, sender);
            } catch {
                continue; // not a valid user ID: nobody to deliver to
            }
            count++;
            this.aedes.publish(
                { cmd: 'publish', topic, payload: delivered, qos: Math.min(qos, 1), retain: false, dup: false } as never,
                () => undefined,
            );
        }
        this.emit('virtualGroup', { sender, name, members: count });
    }

    /** A system push on P/System/<value> reaches connected users with an attribute of that value, subscribed or not. */
    private pushByAttribute(topic: string, value: string, payload: Buffer, qos: number): void {
        const clients = (this.aedes as unknown as { clients: Record<string, ImsClient & { subscriptions: Record<string, unknown> }> })
            .clients;
        for (const client of Object.values(clients)) {
            const attributes = client.ims?.attributes;
            if (!attributes || !Object.values(attributes).includes(value) || client.subscriptions[topic]) continue;
            client.publish({ cmd: 'publish', topic, payload, qos: Math.min(qos, 1), retain: false, dup: false } as never, () => undefined);
        }
    }

    /**
     * MQ semantics: P/p2p/<clientId> reaches that device without a subscription of its own. A device
     * that did subscribe gets it through the subscription instead, so never twice.
     */
    private deliverP2p(packet: { topic: string; qos: number }, payload: Buffer, parsed: ParsedTopic | null): void {
        if (parsed?.kind !== 'p2p' || !parsed.clientId) return;
        const clients = (this.aedes as unknown as { clients: Record<string, ImsClient & { subscriptions: Record<string, unknown> }> })
            .clients;
        const target = clients[parsed.clientId];
        if (!target || target.subscriptions[packet.topic]) return;
        target.publish(
            { cmd: 'publish', topic: packet.topic, payload, qos: Math.min(packet.qos, 1), retain: false, dup: false } as never,
            () => undefined,
        );
    }

    /** Removes a user's subscriptions on every device, connected or not (a block). */
    private unsubscribeUser(user: string, topics: string[]): void {
        const clients = (this.aedes as unknown as { clients: Record<string, ImsClient> }).clients;
        for (const clientId of this.devices.get(user) ?? []) {
            const client = clients[clientId];
            if (client) {
                client.unsubscribe(topics as never, () => undefined);
            } else {
                const persistence = (
                    this.aedes as unknown as { persistence: { removeSubscriptions(c: { id: string }, t: string[]): Promise<unknown> } }
                ).persistence;
                Promise.resolve(persistence.removeSubscriptions({ id: clientId }, topics)).catch(() => undefined);
            }
        }
    }

    private deviceSet(user: string): Set<string> {
        let set = this.devices.get(user);
        if (!set) this.devices.set(user, (set = new Set()));
        return set;
    }

    /** Keeps every socket so close() can end them, and tunes it for many small packets. */
    private track(server: TcpServer | HttpServer): void {
        server.on('connection', (socket: Socket) => {
            tuneSocket(socket);
            this.sockets.add(socket);
            socket.once('close', () => this.sockets.delete(socket));
        });
    }
}

interface DeliveringClient {
    subscriptions: Record<string, { qos?: number }>;
    deliver0(packet: { topic: string; qos: number }, cb: () => void): void;
    deliverQoS(packet: { topic: string; qos: number }, cb: () => void): void;
}

/**
 * MQTT 3.1.1 [MQTT-3.3.5-1]: overlapping subscriptions deliver one copy at the highest QoS among
 * them (capped by the published QoS). aedes drops the second copy but keeps the QoS of whichever
 * subscription's delivery ran first, and binds that delivery function at SUBSCRIBE time; so each
 * client's delivery functions are wrapped as it connects, before it subscribes anything.
 */
function deliverAtHighestQos(client: DeliveringClient): void {
    const deliver0 = client.deliver0;
    const deliverQoS = client.deliverQoS;
    const raw = client.subscriptions;
    // The highest QoS per topic, kept until the client's subscriptions change (the Proxy below sees
    // every change), so a client with many subscriptions does not scan them all for every message.
    const cache = new Map<string, number>();
    const highest = (topic: string): number => {
        let qos = cache.get(topic);
        if (qos !== undefined) return qos;
        qos = 0;
        for (const [filter, sub] of Object.entries(raw)) {
            if ((sub.qos ?? 0) > qos && topicMatches(filter, topic)) qos = sub.qos ?? 0;
        }
        if (cache.size >= 1000) cache.clear();
        cache.set(topic, qos);
        return qos;
    };
    const route = (packet: { topic: string; qos: number }, cb: () => void): void => {
        if (packet.qos === 0) return deliver0.call(client, packet, cb);
        const qos = Math.min(packet.qos, highest(packet.topic));
        if (qos === 0) deliver0.call(client, packet, cb);
        else deliverQoS.call(client, qos === packet.qos ? packet : { ...packet, qos }, cb);
    };
    client.deliver0 = route;
    client.deliverQoS = route;
    // deliverQoS then downgrades by the subscription stored under the exact topic, if any; reading it
    // through this view gives the highest QoS that matches instead, so an overlapping exact
    // subscription at a lower QoS cannot pull the copy down.
    client.subscriptions = new Proxy(raw, {
        get(target, key, receiver) {
            const sub = Reflect.get(target, key, receiver) as { qos?: number } | undefined;
            if (!sub || typeof key !== 'string' || key.includes('+') || key.includes('#')) return sub;
            const qos = highest(key);
            return qos > (sub.qos ?? 0) ? Object.assign(Object.create(Object.getPrototypeOf(sub)), sub, { qos }) : sub;
        },
        set(target, key, value) {
            cache.clear();
            return Reflect.set(target, key, value);
        },
        deleteProperty(target, key) {
            cache.clear();
            return Reflect.deleteProperty(target, key);
        },
    });
}

/** Does an MQTT topic filter (with + and #) match a topic? */
export function topicMatches(filter: string, topic: string): boolean {
    const f = filter.split('/');
    const t = topic.split('/');
    for (let i = 0; i < f.length; i++) {
        if (f[i] === '#') return !(i === 0 && t[0].startsWith('$'));
        if (i >= t.length) return false;
        if (f[i] === '+') {
            if (i === 0 && t[0].startsWith('$')) return false;
            continue;
        }
        if (f[i] !== t[i]) return false;
    }
    return f.length === t.length;
}

/** LevelDB on disk: aedes's sessions and retained messages, and the policy's state beside them. */
class DiskStore {
    private saving: Promise<void> = Promise.resolve();
    private savePending = false;

    private constructor(
        readonly persistence: { destroy(): Promise<void> },
        private readonly db: LevelDb,
    ) {}

    static async open(dir: string): Promise<DiskStore> {
        fs.mkdirSync(dir, { recursive: true });
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { ClassicLevel } = require('classic-level') as { ClassicLevel: new (dir: string) => LevelDb };
        // The async store aedes 1.x needs (the package's main export wraps it in callbacks).
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const AsyncLevelPersistence = require('aedes-persistence-level/asyncPersistence.js') as new (db: LevelDb) => {
            destroy(): Promise<void>;
        };
        const db = new ClassicLevel(dir);
        await db.open();
        return new DiskStore(new AsyncLevelPersistence(db), db);
    }

    async loadPolicy(): Promise<PolicyState | undefined> {
        const text = await this.db.get(POLICY_KEY);
        return text ? (JSON.parse(text) as PolicyState) : undefined;
    }

    /** Saves the latest state once per burst of changes, in order. */
    savePolicy(state: () => PolicyState): void {
        if (this.savePending) return;
        this.savePending = true;
        this.saving = this.saving
            .then(async () => {
                this.savePending = false;
                await this.db.put(POLICY_KEY, JSON.stringify(state()));
            })
            .catch(() => undefined);
    }

    async close(): Promise<void> {
        await this.saving;
        await this.persistence.destroy();
    }
}

interface LevelDb {
    open(): Promise<void>;
    get(key: string): Promise<string | undefined>;
    put(key: string, value: string): Promise<void>;
    close(): Promise<void>;
}

/** Beside aedes's own keys; none of them starts with "~". */
const POLICY_KEY = '~ims-policy';

function sameSecret(given: string, expected: string): boolean {
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
}

/** Listens, retrying a few times while a port is still held by a broker that is closing. */
async function listenWithRetry(server: TcpServer | HttpServer, port: number, host: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
        try {
            await new Promise<void>((resolve, reject) => {
                server.once('error', reject);
                server.listen(port, host, () => {
                    server.off('error', reject);
                    resolve();
                });
            });
            return;
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= LISTEN_RETRIES) throw error;
            await new Promise((resolve) => setTimeout(resolve, LISTEN_RETRY_MS));
        }
    }
}
