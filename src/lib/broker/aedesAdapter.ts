// Every reach into aedes's internals, in one place. aedes documents hooks (authenticate, authorize*,
// preConnect) and events, but not the parts this broker also needs: the table of connected clients,
// the persistence, a client's delivery functions, subscriptions, socket, parser and will. Each such
// reach is typed here, and `adapterProblems` checks them on a live client: test/aedes-adapter.test.js
// fails when an aedes upgrade moves one of them, instead of the broker silently losing a defence.

import type { Duplex, Readable } from 'stream';
import type { Aedes, Client } from 'aedes' with { 'resolution-mode': 'import' };

type Deliver = (packet: DeliveredPacket, cb: () => void) => void;

export interface DeliveredPacket {
    topic: string;
    qos: number;
    brokerId?: string;
    brokerCounter?: number;
    payload?: Buffer | string;
    retain?: boolean;
}

interface Subscription {
    qos?: number;
}

interface PacketParser {
    packet: { length: number };
    prependListener(event: 'packet', listener: (packet: ParsedPacket) => void): unknown;
    _parseLength(): boolean;
    _emitError(error: Error): void;
}

/** A packet as the parser hands it to aedes. */
export interface ParsedPacket {
    cmd: string;
    subscriptions?: { topic: string; qos: number }[];
}

interface WillPacket {
    topic: string;
    payload: Buffer | string;
    qos: number;
    retain: boolean;
}

/** What this broker uses of an aedes client beyond its documented API. */
export interface ClientInternals {
    id: string;
    clean: boolean;
    closed: boolean;
    connected: boolean;
    conn: Duplex & { remoteAddress?: string; writableLength: number };
    req?: { socket?: { remoteAddress?: string } };
    subscriptions: Record<string, Subscription>;
    deliver0: Deliver;
    deliverQoS: Deliver;
    waitForDrain(callback: (error: Error | null, client?: unknown) => void): void;
    _parser: PacketParser;
    /** The will of a connection being authenticated (aedes stores `will` only after authentication). */
    _will: WillPacket | null;
    /** The will aedes publishes when the connection ends without DISCONNECT. */
    will: WillPacket | null;
    /** The last broker counter delivered per broker id: aedes's own duplicate check. */
    duplicates: Record<string, number>;
    publish(packet: object, done: (error?: Error) => void): void;
    unsubscribe(topics: string[], done: () => void): void;
    close(done?: () => void): void;
}

interface Persistence {
    removeSubscriptions(client: { id: string }, topics: string[]): Promise<unknown>;
}

/**
 * aedes-persistence-level's async store over a LevelDB handle. It documents only "a level instance";
 * the disk store hands it a batching facade (batchedPersistence.ts) that has exactly the methods
 * below, so a version that calls another one must fail the adapter's test, not the broker at run time.
 */
export const LEVEL_METHODS_USED = ['get', 'put', 'del', 'batch', 'clear', 'values', 'close'] as const;

/** A packet as aedes's persistences store it (an aedes-packet, or a PUBREL in place of a QoS 2 one). */
export interface StoredPacket {
    cmd?: string;
    topic?: string;
    payload?: Buffer | string;
    qos?: number;
    brokerId?: string;
    brokerCounter?: number;
    messageId?: number;
    clientId?: string;
    [field: string]: unknown;
}

export interface PersistenceClient {
    id: string;
}

export interface StoredSubscription {
    topic: string;
    qos: number;
    [field: string]: unknown;
}

/** The async persistence interface of aedes 1.x, as aedes-persistence and aedes-persistence-level implement it. */
export interface AedesPersistence {
    setup(broker: { id: string }): Promise<void>;
    storeRetained(packet: StoredPacket): Promise<void>;
    createRetainedStreamCombi(patterns: string[]): Readable;
    createRetainedStream(pattern: string): Readable;
    addSubscriptions(client: PersistenceClient, subs: StoredSubscription[]): Promise<void>;
    removeSubscriptions(client: PersistenceClient, topics: string[]): Promise<void>;
    subscriptionsByClient(client: PersistenceClient): Promise<StoredSubscription[]>;
    countOffline(): Promise<{ subsCount: number; clientsCount: number }>;
    subscriptionsByTopic(pattern: string): Promise<unknown[]>;
    cleanSubscriptions(client: PersistenceClient): Promise<void>;
    outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void>;
    outgoingEnqueueCombi(subs: { clientId: string }[], packet: StoredPacket): Promise<unknown>;
    outgoingUpdate(client: PersistenceClient, packet: StoredPacket): Promise<void>;
    outgoingClearMessageId(client: PersistenceClient, packet: { messageId?: number }): Promise<StoredPacket | undefined>;
    outgoingStream(client: PersistenceClient): Readable;
    incomingStorePacket(client: PersistenceClient, packet: StoredPacket): Promise<void>;
    incomingGetPacket(client: PersistenceClient, packet: { messageId?: number }): Promise<StoredPacket>;
    incomingDelPacket(client: PersistenceClient, packet: { messageId?: number }): Promise<void>;
    cleanIncoming(client: PersistenceClient): Promise<void>;
    putWill(client: PersistenceClient, packet: StoredPacket): Promise<void>;
    getWill(client: PersistenceClient): Promise<StoredPacket | undefined>;
    delWill(client: PersistenceClient): Promise<StoredPacket | undefined>;
    streamWill(brokers?: Record<string, unknown>): Readable;
    getClientList(topic: string): Readable;
    destroy(): Promise<void>;
}

export function levelPersistence(db: object): AedesPersistence {
    // The async store aedes 1.x needs (the package's main export wraps it in callbacks).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const AsyncLevelPersistence = require('aedes-persistence-level/asyncPersistence.js') as new (db: object) => AedesPersistence;
    return new AsyncLevelPersistence(db);
}

/** aedes's own in-memory persistence (the one it uses when given none): the disk store's working copy. */
export function memoryPersistence(): AedesPersistence {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const MemoryPersistence = require('aedes-persistence/asyncPersistence.js') as new () => AedesPersistence;
    return new MemoryPersistence();
}

/**
 * Stores a will read back from disk in the memory persistence under the broker that took it.
 * aedes-persistence's putWill stamps the current broker's id on the packet (and keeps the very
 * object); a will left by a broker that crashed must keep the old id, so that aedes publishes it.
 */
export async function restoreWill(memory: AedesPersistence, will: StoredPacket): Promise<void> {
    const brokerId = will.brokerId;
    await memory.putWill({ id: String(will.clientId) }, will);
    will.brokerId = brokerId;
}

/** The sessions aedes-persistence-level holds: the Client IDs in its keys, and the QoS 2 packets received. */
export interface StoredSessions {
    clientIds: Set<string>;
    incoming: { clientId: string; messageId: number }[];
}

/** The keys of a LevelDB range, in order, as classic-level lists them. */
export type KeyIterable = (range: { gte: string; lt: string }) => AsyncIterable<string>;

/**
 * Reads the Client IDs out of aedes-persistence-level's keys. Its API reads a session by Client ID
 * but cannot list them; its keys are `subscriptions:<id>:<topic>`, `outgoing:<id>:<broker>:<counter>`
 * and `incoming:<id>:<padded messageId>`, the ID URI-encoded (so it holds no ':').
 */
export async function storedSessions(keys: KeyIterable): Promise<StoredSessions> {
    const sessions: StoredSessions = { clientIds: new Set(), incoming: [] };
    for (const prefix of ['subscriptions:', 'outgoing:', 'incoming:']) {
        for await (const key of keys({ gte: prefix, lt: `${prefix.slice(0, -1)};` })) {
            const rest = key.slice(prefix.length);
            const end = rest.indexOf(':');
            if (end < 0) continue;
            const clientId = decodeURIComponent(rest.slice(0, end));
            sessions.clientIds.add(clientId);
            if (prefix === 'incoming:') sessions.incoming.push({ clientId, messageId: Number(rest.slice(end + 1)) });
        }
    }
    return sessions;
}

/**
 * aedes looks every PUBACK up in its store, a clean session's too, although it stores QoS 1 messages
 * only for persistent sessions (outgoingUpdate skips clean ones). On LevelDB that is a disk read per
 * message that finds nothing, and the client's next packets wait for it. A clean session's PUBACK is
 * answered "not stored" at once, as the read would. (A stale entry of an earlier persistent session
 * under the same Client ID is then left for that session, instead of being deleted by a PUBACK for
 * another message that happens to reuse its packet ID.)
 */
export function answerCleanSessionAcks(persistence: AedesPersistence): void {
    const methods = persistence as unknown as Record<string, unknown>;
    const clear = methods.outgoingClearMessageId as (client: { clean?: boolean }, packet: object) => Promise<unknown>;
    methods.outgoingClearMessageId = (client: { clean?: boolean }, packet: object): Promise<unknown> =>
        client.clean === true ? Promise.resolve(undefined) : clear.call(persistence, client, packet);
}

export function internalsOf(client: Client): ClientInternals {
    return client as unknown as ClientInternals;
}

/**
 * Whether a Client ID is connected to this broker, given the broker object aedes hands its
 * persistence at setup (the aedes instance; its `clients` table, as `connectedClients` reads it).
 */
export function isConnectedTo(broker: object | undefined, clientId: string): boolean {
    const clients = (broker as { clients?: Record<string, unknown> } | undefined)?.clients;
    return clients !== undefined && clients[clientId] !== undefined;
}

/** The connected clients by Client ID. */
export function connectedClients(aedes: Aedes): Record<string, ClientInternals> {
    return (aedes as unknown as { clients: Record<string, ClientInternals> }).clients;
}

/** The emitter every published message passes through (mqemitter, or mqemitter-redis in a cluster). */
export interface EmittedMessage {
    topic: string;
    payload: Buffer | string;
    qos?: number;
    /** Which broker took the publish, and its counter there: together, the message's identity. */
    brokerId?: string;
    brokerCounter?: number;
}

export interface MessageEmitter {
    on(filter: string, listener: (message: EmittedMessage, done: () => void) => void, done?: () => void): unknown;
    removeListener(filter: string, listener: (message: EmittedMessage, done: () => void) => void): unknown;
}

export function emitterOf(aedes: Aedes): MessageEmitter {
    return (aedes as unknown as { mq: MessageEmitter }).mq;
}

export function persistenceOf(aedes: Aedes): Persistence {
    return (aedes as unknown as { persistence: Persistence }).persistence;
}

/** The address a connection came from (TCP, or the socket under a WebSocket). */
export function remoteAddressOf(client: ClientInternals): string {
    return client.req?.socket?.remoteAddress ?? client.conn.remoteAddress ?? 'unknown';
}

/**
 * Closes a connection whose next packet declares more than `limit()` bytes as soon as its length is
 * read, before the body is buffered (aedes's parser would hold any length MQTT allows: 256 MiB).
 */
export function limitPacketSize(client: ClientInternals, limit: () => number, onTooLarge: (declared: number) => void): void {
    const parser = client._parser;
    const parseLength = parser._parseLength;
    parser._parseLength = function limitedParseLength(this: PacketParser): boolean {
        const complete = parseLength.call(this);
        if (complete && this.packet.length > limit()) {
            onTooLarge(this.packet.length);
            this._emitError(new Error(`packet of ${this.packet.length} bytes is over the limit`));
            return false;
        }
        return complete;
    };
}

/**
 * aedes waits for a congested socket to drain before it calls a delivery back, so one client that
 * never reads holds the broker's delivery slots and stalls everyone. Here nothing waits: the socket's
 * own buffer is the client's outgoing queue, and a client whose queue passes `maxBytes` is disconnected.
 */
export function boundOutgoingQueue(client: ClientInternals, maxBytes: number, onOverflow: (queued: number) => void): void {
    client.waitForDrain = function noWait(callback) {
        const queued = client.conn.writableLength;
        if (queued > maxBytes && !client.conn.destroyed) {
            onOverflow(queued);
            client.conn.destroy(new Error(`outgoing queue of ${queued} bytes is over the limit`));
        }
        setImmediate(callback, null, client);
    };
}

/** Sees each packet a client sends before aedes handles it. */
export function inspectPackets(client: ClientInternals, inspect: (packet: ParsedPacket) => void): void {
    client._parser.prependListener('packet', inspect);
}

/** Replaces both delivery functions; must run before the client's subscriptions (restored or new) bind them. */
export function wrapDelivery(client: ClientInternals, wrap: (deliver0: Deliver, deliverQoS: Deliver) => Deliver): void {
    const route = wrap(client.deliver0, client.deliverQoS);
    client.deliver0 = route;
    client.deliverQoS = route;
}

/**
 * True when aedes would drop this copy as a duplicate (a second overlapping subscription). Such a copy
 * must not reach deliverQoS: on a persistent session aedes would clear the stored message it is
 * delivering through the first subscription.
 */
export function isDuplicateCopy(client: ClientInternals, packet: DeliveredPacket): boolean {
    return (
        packet.brokerId !== undefined &&
        packet.brokerCounter !== undefined &&
        (client.duplicates[packet.brokerId] ?? 0) >= packet.brokerCounter
    );
}

/** Drops the will of a connection: before aedes stores it (authentication), or before a close publishes it. */
export function dropWill(client: ClientInternals): void {
    client._will = null;
    client.will = null;
}

/** What this adapter relies on that a given aedes client or broker lacks: empty when all is there. */
export function adapterProblems(aedes: Aedes, client: Client): string[] {
    const c = client as unknown as Record<string, unknown>;
    const problems: string[] = [];
    const expect = (ok: boolean, what: string): void => {
        if (!ok) problems.push(what);
    };
    const broker = aedes as unknown as Record<string, unknown>;
    expect(typeof broker.clients === 'object' && broker.clients !== null, 'aedes.clients');
    expect(typeof (broker.mq as Record<string, unknown> | undefined)?.on === 'function', 'aedes.mq.on');
    expect(typeof (broker.mq as Record<string, unknown> | undefined)?.removeListener === 'function', 'aedes.mq.removeListener');
    const persistence = broker.persistence as Record<string, unknown> | undefined;
    expect(typeof persistence?.removeSubscriptions === 'function', 'aedes.persistence.removeSubscriptions');
    for (const fn of ['deliver0', 'deliverQoS', 'waitForDrain', 'publish', 'unsubscribe', 'close'])
        expect(typeof c[fn] === 'function', `client.${fn}`);
    expect(typeof c.subscriptions === 'object' && c.subscriptions !== null, 'client.subscriptions');
    expect(typeof c.clean === 'boolean', 'client.clean');
    expect(typeof persistence?.outgoingClearMessageId === 'function', 'aedes.persistence.outgoingClearMessageId');
    expect(typeof c.duplicates === 'object' && c.duplicates !== null, 'client.duplicates');
    expect('_will' in c && 'will' in c, 'client._will, client.will');
    expect(typeof (c._parser as Record<string, unknown> | undefined)?.prependListener === 'function', 'client._parser.prependListener');
    const conn = c.conn as Record<string, unknown> | undefined;
    expect(typeof conn?.writableLength === 'number', 'client.conn.writableLength');
    const parser = c._parser as Record<string, unknown> | undefined;
    expect(
        typeof parser?._parseLength === 'function' && typeof parser?._emitError === 'function',
        'client._parser._parseLength/_emitError',
    );
    expect(typeof (parser?.packet as Record<string, unknown> | undefined)?.length === 'number', 'client._parser.packet.length');
    return problems;
}
