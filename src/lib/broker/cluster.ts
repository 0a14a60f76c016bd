// Cluster mode: several broker instances share one Redis (docs/SCALING.md). Messages cross instances
// through mqemitter-redis, sessions, queued and retained messages live in aedes-persistence-redis,
// and what the policy knows is shared two ways: every change of the facts is appended to a log in
// Redis (a new instance replays it) and sent on the same emitter as the messages, right before the
// message that caused it is routed. One Redis connection carries both from each instance, so every
// other instance learns a block before it delivers a later message of the same publisher.
// Client ID bindings are claimed atomically in Redis (HSETNX), so two instances never bind one ID to
// two users. The Redis packages are optional dependencies: only cluster mode loads them.
// Neither grows for ever: the log is folded into a snapshot once it is long (whichever instance sees it
// first, guarded by WATCH so two never fold the same entries), and a clean session's Client ID is
// released in Redis once it has not been seen for the same time a single broker keeps it.

import { createHash, randomUUID } from 'crypto';
import { FactChange, FactsState, PolicyFacts } from './facts';
import { BindResult, CLEAN_BINDING_TTL_MS, ClientBindings } from './bindings';

const FACTS_TOPIC = '$IMS/facts';
const KEYS = Object.freeze({
    log: 'ims:facts:log',
    snapshot: 'ims:facts:snapshot',
    recent: 'ims:bindings:recent',
    bindings: 'ims:bindings',
    persistent: 'ims:bindings:persistent',
    share: 'ims:share',
});

/** The few ioredis commands used here. */
interface RedisClient {
    rpush(key: string, value: string): Promise<number>;
    hset(key: string, field: string, value: string): Promise<number>;
    set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<'OK' | null>;
    lrange(key: string, start: number, stop: number): Promise<string[]>;
    hsetnx(key: string, field: string, value: string): Promise<number>;
    hget(key: string, field: string): Promise<string | null>;
    hgetall(key: string): Promise<Record<string, string>>;
    hdel(key: string, field: string): Promise<number>;
    sadd(key: string, member: string): Promise<number>;
    srem(key: string, member: string): Promise<number>;
    smembers(key: string): Promise<string[]>;
    zadd(key: string, score: number, member: string): Promise<number | string>;
    zrem(key: string, member: string): Promise<number>;
    zrangebyscore(key: string, min: number | string, max: number | string): Promise<string[]>;
    eval(script: string, keys: number, ...args: (string | number)[]): Promise<unknown>;
    get(key: string): Promise<string | null>;
    watch(key: string): Promise<unknown>;
    unwatch(): Promise<unknown>;
    multi(): RedisTransaction;
    duplicate(): RedisClient;
    quit(): Promise<unknown>;
    disconnect(): void;
    on(event: 'error', listener: (error: Error) => void): unknown;
}

/** A MULTI … EXEC block; exec resolves to null when a WATCHed key changed. */
interface RedisTransaction {
    get(key: string): RedisTransaction;
    lrange(key: string, start: number, stop: number): RedisTransaction;
    set(key: string, value: string): RedisTransaction;
    ltrim(key: string, start: number, stop: number): RedisTransaction;
    exec(): Promise<[Error | null, unknown][] | null>;
}

interface Emitter {
    on(topic: string, listener: (packet: { payload: Buffer | string }, done: () => void) => void, done?: () => void): unknown;
    emit(packet: { topic: string; payload: Buffer; qos: number; retain: boolean }, done?: (error?: Error) => void): unknown;
    close(done: () => void): unknown;
}

/** How long another instance waits before claiming a message that hashes to a live peer. */
const SHARE_FALLBACK_MS = 250;
/** An instance stays listed as having members this long after its last refresh. */
const SHARER_TTL_MS = 6000;

/** Rendezvous (highest random weight) hashing: each instance's score for a message. */
function rendezvous(instance: string, messageKey: string): number {
    return createHash('sha1').update(`${instance}|${messageKey}`).digest().readUInt32BE(0);
}

interface LoggedChange {
    id: string;
    origin: string;
    change: FactChange;
}

/** The facts folded from the head of the log, and the IDs of the last entries folded. */
interface FactsSnapshot {
    v: number;
    state: FactsState;
    /** An instance that starts while entries are folded skips these when they also reach it live. */
    ids: string[];
}

const SNAPSHOT_FORMAT = 1;
/** Folded-entry IDs kept in the snapshot: far more than can arrive while an instance starts. */
const SNAPSHOT_IDS = 5000;

export interface ClusterOptions {
    /** The log is folded into the snapshot once it has this many entries. */
    compactAt?: number;
    /** How long a clean session's Client ID stays claimed after its last connection closed. */
    cleanBindingTtlMs?: number;
    /** How often the expired clean Client IDs are released. */
    sweepEveryMs?: number;
}

/** Reads the snapshot and the log in one transaction, so no entry is in both or in neither. */
async function readFacts(redis: RedisClient): Promise<{ snapshot: FactsSnapshot | undefined; log: string[] }> {
    const replies = await redis.multi().get(KEYS.snapshot).lrange(KEYS.log, 0, -1).exec();
    if (!replies) throw new Error('Redis did not run the read of the facts');
    for (const [error] of replies) if (error) throw error;
    return { snapshot: parseSnapshot(replies[0][1] as string | null), log: replies[1][1] as string[] };
}

function parseSnapshot(text: string | null): FactsSnapshot | undefined {
    const snapshot = text ? (JSON.parse(text) as FactsSnapshot) : undefined;
    if (snapshot && snapshot.v > SNAPSHOT_FORMAT) {
        throw new Error(`The cluster's facts snapshot has format ${snapshot.v}; this version reads up to ${SNAPSHOT_FORMAT}`);
    }
    return snapshot;
}

/**
 * Released atomically, one ID at a time, only if it is still expired: an ID that logged in again since
 * the sweep read the list has left the sorted set (or has a newer score) and keeps its claim.
 */
const RELEASE_EXPIRED = `
local released = 0
for i = 2, #ARGV do
    local seen = redis.call('ZSCORE', KEYS[1], ARGV[i])
    if seen and tonumber(seen) <= tonumber(ARGV[1]) then
        redis.call('ZREM', KEYS[1], ARGV[i])
        redis.call('HDEL', KEYS[2], ARGV[i])
        released = released + 1
    end
end
return released`;

export class RedisCluster {
    /** This instance, to skip its own changes when they come back. */
    readonly instanceId = randomUUID();
    onError: (error: Error) => void = () => undefined;
    private loadedIds: Set<string> | undefined = new Set();
    private buffered: LoggedChange[] | undefined = [];
    private facts: PolicyFacts | undefined;
    /** Shared-subscription groups with members here: the timer that keeps this instance listed. */
    private readonly sharing = new Map<string, NodeJS.Timeout>();
    private readonly sharers = new Map<string, { at: number; instances: string[] }>();

    private compacting = false;
    private closed = false;
    private persistenceConnection: { disconnect(): void } | undefined;
    private sweeper: NodeJS.Timeout | undefined;
    private readonly compactAt: number;
    readonly cleanBindingTtlMs: number;

    private constructor(
        readonly url: string,
        private readonly redis: RedisClient,
        readonly emitter: Emitter,
        readonly persistence: { destroy(): Promise<void> },
        private readonly options: ClusterOptions,
    ) {
        redis.on('error', (error) => this.onError(error));
        this.compactAt = options.compactAt ?? 10000;
        this.cleanBindingTtlMs = options.cleanBindingTtlMs ?? CLEAN_BINDING_TTL_MS;
    }

    static async open(url: string, options: ClusterOptions = {}): Promise<RedisCluster> {
        const load = <T>(name: string): T => {
            try {
                // eslint-disable-next-line @typescript-eslint/no-require-imports
                return require(name) as T;
            } catch (error) {
                throw new Error(`Cluster mode needs the optional package ${name} (npm install ${name}): ${(error as Error).message}`, {
                    cause: error,
                });
            }
        };
        const Redis = load<new (url: string, options?: object) => RedisClient>('ioredis');
        const mqemitterRedis = load<(options: object) => Emitter>('mqemitter-redis');
        const RedisPersistence = load<new (options: object) => { destroy(): Promise<void> }>('aedes-persistence-redis/asyncPersistence.js');
        const redis = new Redis(url, { maxRetriesPerRequest: 3 });
        const emitter = mqemitterRedis({ connectionString: url });
        // Deliver a whole offline queue at login, not the first 1 000 (aedes-persistence-redis's default).
        const persistenceConnection = new Redis(url);
        const persistence = new RedisPersistence({ conn: persistenceConnection, maxSessionDelivery: 100000 });
        const cluster = new RedisCluster(url, redis, emitter, persistence, options);
        cluster.persistenceConnection = persistenceConnection;
        return cluster;
    }

    /**
     * Shares the facts: listens to changes made elsewhere first, then replays the log, then applies what
     * arrived meanwhile (skipping what the log had), and from then on applies changes as they come.
     */
    async attachFacts(facts: PolicyFacts): Promise<void> {
        this.facts = facts;
        await new Promise<void>((resolve) => this.emitter.on(FACTS_TOPIC, (packet, done) => this.receive(packet.payload, done), resolve));
        const { snapshot, log } = await readFacts(this.redis);
        if (snapshot) {
            facts.load(snapshot.state);
            for (const id of snapshot.ids) this.loadedIds?.add(id);
        }
        for (const line of log) {
            const entry = JSON.parse(line) as LoggedChange;
            this.loadedIds?.add(entry.id);
            facts.apply(entry.change);
        }
        for (const entry of this.buffered ?? []) if (!this.loadedIds?.has(entry.id)) facts.apply(entry.change);
        this.buffered = undefined;
        this.loadedIds = undefined;
        facts.onChange = (change) => this.share(change);
    }

    /** A change made here: into the log, and out on the emitter before the message that caused it is routed. */
    private share(change: FactChange): void {
        const entry: LoggedChange = { id: randomUUID(), origin: this.instanceId, change };
        const line = JSON.stringify(entry);
        this.emitter.emit(
            { topic: FACTS_TOPIC, payload: Buffer.from(line), qos: 0, retain: false },
            (error) => error && this.onError(error),
        );
        this.redis
            .rpush(KEYS.log, line)
            .then((length) => {
                if (length >= this.compactAt) return this.compact();
            })
            .catch((error: Error) => this.onError(error));
    }

    /**
     * Folds the head of the log into the snapshot: replays snapshot and log into fresh facts (not this
     * instance's own, which may not have every entry yet), then writes the snapshot and drops exactly
     * the entries read. Entries appended meanwhile stay in the log. WATCH on the snapshot makes a second
     * instance folding at the same moment fail and leave it to the first. Resolves to whether it folded.
     */
    async compact(): Promise<boolean> {
        if (this.compacting || this.closed) return false;
        this.compacting = true;
        const redis = this.redis.duplicate();
        // Its own connection (WATCH holds per connection); errors reach the broker like the main one's.
        redis.on('error', (error) => {
            if (!this.closed) this.onError(error);
        });
        try {
            await redis.watch(KEYS.snapshot);
            // Plain reads: if another instance folds in between, the snapshot changed and EXEC refuses.
            const snapshot = parseSnapshot(await redis.get(KEYS.snapshot));
            const log = await redis.lrange(KEYS.log, 0, -1);
            if (log.length === 0) return false;
            const folded = new PolicyFacts();
            folded.load(snapshot?.state);
            const ids = snapshot?.ids ?? [];
            for (const line of log) {
                const entry = JSON.parse(line) as LoggedChange;
                folded.apply(entry.change);
                ids.push(entry.id);
            }
            const next: FactsSnapshot = { v: SNAPSHOT_FORMAT, state: folded.toJSON(), ids: ids.slice(-SNAPSHOT_IDS) };
            const done = await redis.multi().set(KEYS.snapshot, JSON.stringify(next)).ltrim(KEYS.log, log.length, -1).exec();
            return done !== null;
        } finally {
            this.compacting = false;
            await redis.quit().catch(() => undefined);
        }
    }

    private receive(payload: Buffer | string, done: () => void): void {
        try {
            const entry = JSON.parse(payload.toString()) as LoggedChange;
            if (entry.origin === this.instanceId) return;
            if (this.buffered) this.buffered.push(entry);
            else this.facts?.apply(entry.change);
        } catch (error) {
            this.onError(error as Error);
        } finally {
            done();
        }
    }

    /**
     * Which instance delivers a shared-subscription group's message: every instance with members claims
     * it (SET NX, so exactly one wins). The instances with members are listed in Redis, and the one the
     * message hashes to (rendezvous hashing) claims at once, the others after a moment, in case it died:
     * the load spreads evenly, and a dead instance costs a short delay, not lost messages.
     */
    async claim(group: string, messageKey: string): Promise<boolean> {
        const sharers = await this.sharersOf(group);
        const owner = sharers.reduce<[string, number]>(
            (best, instance) => {
                const score = rendezvous(instance, messageKey);
                return score > best[1] ? [instance, score] : best;
            },
            ['', -1],
        )[0];
        if (owner !== this.instanceId && sharers.includes(owner)) await new Promise((resolve) => setTimeout(resolve, SHARE_FALLBACK_MS));
        const key = `${KEYS.share}:${encodeURIComponent(group)}:${messageKey}`;
        return (await this.redis.set(key, this.instanceId, 'PX', 60000, 'NX')) === 'OK';
    }

    /** This instance has (or no longer has) members of a shared-subscription group. */
    shareActive(group: string, active: boolean): void {
        const key = `${KEYS.share}:members:${encodeURIComponent(group)}`;
        const refresh = (): void => {
            this.redis.hset(key, this.instanceId, String(Date.now() + SHARER_TTL_MS)).catch((error: Error) => this.onError(error));
        };
        clearInterval(this.sharing.get(group));
        this.sharing.delete(group);
        this.sharers.delete(group);
        if (active) {
            refresh();
            const timer = setInterval(refresh, SHARER_TTL_MS / 3);
            timer.unref();
            this.sharing.set(group, timer);
        } else {
            this.redis.hdel(key, this.instanceId).catch((error: Error) => this.onError(error));
        }
    }

    /** The instances with members of a group, read from Redis at most once a second. */
    private async sharersOf(group: string): Promise<string[]> {
        const cached = this.sharers.get(group);
        if (cached && Date.now() - cached.at < 1000) return cached.instances;
        const entries = await this.redis.hgetall(`${KEYS.share}:members:${encodeURIComponent(group)}`);
        const now = Date.now();
        const instances = Object.entries(entries)
            .filter(([, until]) => Number(until) > now)
            .map(([instance]) => instance);
        this.sharers.set(group, { at: now, instances });
        return instances;
    }

    /** Client ID bindings shared through Redis. */
    bindings(maxDevicesPerUser: number): SharedBindings {
        const bindings = new SharedBindings(maxDevicesPerUser, this.redis, (error) => this.onError(error), this.cleanBindingTtlMs);
        const sweep = (): void => {
            bindings.releaseExpired().catch((error: Error) => this.onError(error));
        };
        clearInterval(this.sweeper);
        this.sweeper = setInterval(sweep, this.options.sweepEveryMs ?? 3600 * 1000);
        this.sweeper.unref();
        sweep();
        return bindings;
    }

    async loadBindings(bindings: ClientBindings): Promise<void> {
        const owners = await this.redis.hgetall(KEYS.bindings);
        const persistent = new Set(await this.redis.smembers(KEYS.persistent));
        bindings.load({ clients: Object.fromEntries(Object.entries(owners).filter(([clientId]) => persistent.has(clientId))) });
    }

    async close(): Promise<void> {
        this.closed = true;
        clearInterval(this.sweeper);
        for (const group of [...this.sharing.keys()]) this.shareActive(group, false);
        await new Promise<void>((resolve) => this.emitter.close(resolve));
        await this.redis.quit().catch(() => undefined);
        // The persistence's destroy() disconnects it, unless it failed first (it unsubscribes from aedes
        // before, which throws for a persistence that never served one): it must not retry for ever.
        this.persistenceConnection?.disconnect();
    }
}

/**
 * The local bindings, with Redis as the authority: a Client ID unknown here is claimed with HSETNX,
 * so whichever instance claims it first for a user wins everywhere.
 */
export class SharedBindings extends ClientBindings {
    constructor(
        maxDevicesPerUser: number,
        private readonly redis: RedisClient,
        private readonly fail: (error: Error) => void,
        cleanTtlMs: number = CLEAN_BINDING_TTL_MS,
        now: () => number = Date.now,
    ) {
        super(maxDevicesPerUser, now, cleanTtlMs);
        this.onChange = () => undefined;
    }

    override async claim(clientId: string, user: string, persistent: boolean): Promise<BindResult> {
        if (this.ownerOf(clientId) === undefined) {
            const claimed = await this.redis.hsetnx(KEYS.bindings, clientId, user);
            const owner = claimed ? user : await this.redis.hget(KEYS.bindings, clientId);
            if (owner !== null && owner !== user) return { ok: false, reason: `Client ID ${clientId} belongs to another user` };
        }
        // The device limit is counted by each instance (its own view of the user's devices).
        const result = this.bind(clientId, user, persistent);
        if (!result.ok) {
            if (this.ownerOf(clientId) === undefined) this.redis.hdel(KEYS.bindings, clientId).catch(this.fail);
            return result;
        }
        if (persistent) {
            this.redis.sadd(KEYS.persistent, clientId).catch(this.fail);
            this.redis.zrem(KEYS.recent, clientId).catch(this.fail);
        } else {
            // Seen now. An instance that dies with the connection open never records its end, so the
            // ID still ages out; a connection that stays is refreshed by every sweep.
            this.redis.zadd(KEYS.recent, this.now(), clientId).catch(this.fail);
        }
        return result;
    }

    override release(clientId: string): void {
        super.release(clientId);
        // Last seen now, as far as this instance knows.
        if (this.ownerOf(clientId) !== undefined && !this.isPersistent(clientId) && !this.isLive(clientId)) {
            this.redis.zadd(KEYS.recent, this.now(), clientId).catch(this.fail);
        }
    }

    /** Releases in Redis the clean Client IDs last seen longer ago than the TTL; resolves to how many. */
    async releaseExpired(): Promise<number> {
        for (const clientId of this.liveCleanIds()) await this.redis.zadd(KEYS.recent, this.now(), clientId);
        const cutoff = this.now() - this.cleanTtlMs;
        const expired = await this.redis.zrangebyscore(KEYS.recent, '-inf', cutoff);
        if (expired.length === 0) return 0;
        const released = Number(await this.redis.eval(RELEASE_EXPIRED, 2, KEYS.recent, KEYS.bindings, cutoff, ...expired));
        // This instance's own record of them expires by the same rule (a no-op where it saw them later).
        for (const clientId of expired) this.ownerOf(clientId);
        return released;
    }

    protected override forgotten(clientId: string, _owner: string, expired: boolean): void {
        if (expired) {
            // Only if no instance has seen it since: another may have a live connection with it.
            const cutoff = this.now() - this.cleanTtlMs;
            this.redis.eval(RELEASE_EXPIRED, 2, KEYS.recent, KEYS.bindings, cutoff, clientId).catch(this.fail);
            return;
        }
        this.redis.hdel(KEYS.bindings, clientId).catch(this.fail);
        this.redis.srem(KEYS.persistent, clientId).catch(this.fail);
        this.redis.zrem(KEYS.recent, clientId).catch(this.fail);
    }
}
