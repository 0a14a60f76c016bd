// History in cluster mode: every instance keeps it in the cluster's Redis, so a device asking any
// instance gets the same conversation in the same order. Per log:
//   ims:history:e:<log>   a sorted set of entries (JSON), scored by seq: a page is one range read
//   ims:history:n:<log>   the last seq given (INCR: instances never give one twice)
//   ims:history:i:<log>   a hash, message id → seq (edits, recalls, read marks)
//   ims:history:p:<owner> a set of the owner's 1:1 peers
//   ims:history:r:<owner> a hash, conversation → read mark
//   ims:history:format    HISTORY_STORE_FORMAT
// Only cluster mode loads ioredis (an optional dependency), as cluster.ts does.

import type { Envelope } from '../envelope';
import type { HistoryEntry } from '../history';
import { HISTORY_STORE_FORMAT } from './historyLevel';
import type { HistoryBounds, HistoryStore, RangeQuery } from './historyStore';

/** The ioredis commands used here. */
interface RedisHistoryClient {
    get(key: string): Promise<string | null>;
    set(key: string, value: string): Promise<unknown>;
    incr(key: string): Promise<number>;
    zadd(key: string, score: number, member: string): Promise<unknown>;
    zcard(key: string): Promise<number>;
    zrangebyscore(key: string, min: string, max: string, limit: 'LIMIT', offset: number, count: number): Promise<string[]>;
    zrevrangebyscore(key: string, max: string, min: string, limit: 'LIMIT', offset: number, count: number): Promise<string[]>;
    zremrangebyscore(key: string, min: number | string, max: number | string): Promise<number>;
    hset(key: string, field: string, value: string): Promise<number>;
    hget(key: string, field: string): Promise<string | null>;
    hdel(key: string, ...fields: string[]): Promise<number>;
    sadd(key: string, member: string): Promise<number>;
    smembers(key: string): Promise<string[]>;
    quit(): Promise<unknown>;
    on(event: 'error', listener: (error: Error) => void): unknown;
}

const PREFIX = 'ims:history';
const key = (kind: string, name: string): string => `${PREFIX}:${kind}:${name}`;
/** Aged entries removed per append at most: a long-idle conversation is trimmed over several. */
const AGE_TRIM_BATCH = 100;

export class RedisHistoryStore implements HistoryStore {
    private constructor(private readonly redis: RedisHistoryClient) {}

    static async open(url: string, onError: (error: Error) => void): Promise<RedisHistoryStore> {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const Redis = require('ioredis') as new (url: string, options?: object) => RedisHistoryClient;
        const redis = new Redis(url, { maxRetriesPerRequest: 3 });
        redis.on('error', onError);
        const format = Number((await redis.get(`${PREFIX}:format`)) ?? HISTORY_STORE_FORMAT);
        if (format > HISTORY_STORE_FORMAT) {
            await redis.quit();
            throw new Error(`The cluster's history has format ${format}; this version reads up to ${HISTORY_STORE_FORMAT}`);
        }
        await redis.set(`${PREFIX}:format`, String(HISTORY_STORE_FORMAT));
        return new RedisHistoryStore(redis);
    }

    async append(log: string, at: number, message: Envelope, bounds: HistoryBounds): Promise<HistoryEntry> {
        const r = this.redis;
        const entry: HistoryEntry = { seq: await r.incr(key('n', log)), at, message };
        await Promise.all([r.zadd(key('e', log), entry.seq, JSON.stringify(entry)), r.hset(key('i', log), message.id, String(entry.seq))]);
        if (log.startsWith('u/')) {
            const [, owner, peer] = log.split('/');
            await r.sadd(key('p', owner), peer);
        }
        const over = (await r.zcard(key('e', log))) - bounds.perConversation;
        const oldest = await r.zrangebyscore(
            key('e', log),
            '-inf',
            '+inf',
            'LIMIT',
            0,
            Math.max(over, Number.isFinite(bounds.maxAgeMs) ? AGE_TRIM_BATCH : 0),
        );
        const gone = oldest.map((text) => JSON.parse(text) as HistoryEntry).filter((old, i) => i < over || at - old.at > bounds.maxAgeMs);
        if (gone.length > 0) {
            await r.zremrangebyscore(key('e', log), '-inf', gone[gone.length - 1].seq);
            await r.hdel(key('i', log), ...gone.map((old) => old.message.id));
        }
        return entry;
    }

    async find(log: string, messageId: string): Promise<HistoryEntry | undefined> {
        const seq = await this.redis.hget(key('i', log), messageId);
        if (seq === null) return undefined;
        const [text] = await this.redis.zrangebyscore(key('e', log), seq, seq, 'LIMIT', 0, 1);
        return text === undefined ? undefined : (JSON.parse(text) as HistoryEntry);
    }

    async replace(log: string, entry: HistoryEntry): Promise<void> {
        await this.redis.zremrangebyscore(key('e', log), entry.seq, entry.seq);
        await this.redis.zadd(key('e', log), entry.seq, JSON.stringify(entry));
    }

    async range(log: string, query: RangeQuery, minAt: number): Promise<HistoryEntry[]> {
        const rows =
            query.before !== undefined
                ? (
                      await this.redis.zrevrangebyscore(key('e', log), `(${query.before}`, `(${query.after ?? 0}`, 'LIMIT', 0, query.limit)
                  ).reverse()
                : await this.redis.zrangebyscore(key('e', log), `(${query.after ?? 0}`, '+inf', 'LIMIT', 0, query.limit);
        return rows.map((text) => JSON.parse(text) as HistoryEntry).filter((entry) => entry.at >= minAt);
    }

    async lastSeq(log: string): Promise<number> {
        return Number((await this.redis.get(key('n', log))) ?? 0);
    }

    peersOf(owner: string): Promise<string[]> {
        return this.redis.smembers(key('p', owner));
    }

    async mark(owner: string, conversation: string): Promise<number> {
        return Number((await this.redis.hget(key('r', owner), conversation)) ?? 0);
    }

    async setMark(owner: string, conversation: string, seq: number): Promise<void> {
        await this.redis.hset(key('r', owner), conversation, String(seq));
    }

    async close(): Promise<void> {
        await this.redis.quit().catch(() => undefined);
    }
}
