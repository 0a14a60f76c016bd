// History on the broker's disk store: the same LevelDB as aedes's sessions (diskStore.ts), under keys
// of its own that sort by conversation and sequence, so a page is one range read however long the
// conversation is:
//   ~h/<log>/<seq, 12 digits>   an entry (JSON)
//   ~hi/<log>/<message id>      its sequence number, to apply edits and recalls and read marks
//   ~hm/<log>                   {first, next, firstAt}: the log's bounds
//   ~hr/<owner>/<conversation>  a read-up-to mark
//   ~h-format                   HISTORY_STORE_FORMAT, refused when newer than this code
// IDs never hold "/", so one log's keys never run into another's.

import type { Envelope } from '../envelope';
import type { HistoryEntry } from '../history';
import type { HistoryBounds, HistoryStore, RangeQuery } from './historyStore';

export const HISTORY_STORE_FORMAT = 1;
const FORMAT_KEY = '~h-format';
/** At most this many aged entries go per append: a long-idle conversation is trimmed over several. */
const AGE_TRIM_BATCH = 100;

type BatchOp = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

export interface LevelHistoryDb {
    get(key: string): Promise<string | undefined>;
    put(key: string, value: string): Promise<void>;
    batch(ops: BatchOp[]): Promise<void>;
    iterator(options: { gt?: string; gte?: string; lt?: string; reverse?: boolean; limit?: number }): {
        all(): Promise<[string, string][]>;
    };
    keys(options: { gt?: string; lt?: string; limit?: number }): { all(): Promise<string[]> };
}

interface LogMeta {
    /** seq of the oldest entry kept */
    first: number;
    /** seq the next entry gets */
    next: number;
    /** arrival time of the oldest entry kept */
    firstAt: number;
}

const entryKey = (log: string, seq: number): string => `~h/${log}/${String(seq).padStart(12, '0')}`;
const idKey = (log: string, id: string): string => `~hi/${log}/${id}`;
const metaKey = (log: string): string => `~hm/${log}`;
const markKey = (owner: string, conversation: string): string => `~hr/${owner}/${conversation}`;

export class LevelHistoryStore implements HistoryStore {
    private readonly metas = new Map<string, LogMeta>();

    private constructor(private readonly db: LevelHistoryDb) {}

    static async open(db: LevelHistoryDb): Promise<LevelHistoryStore> {
        const format = Number((await db.get(FORMAT_KEY)) ?? HISTORY_STORE_FORMAT);
        if (format > HISTORY_STORE_FORMAT) {
            throw new Error(`The broker's history has format ${format}; this version reads up to ${HISTORY_STORE_FORMAT}`);
        }
        await db.put(FORMAT_KEY, String(HISTORY_STORE_FORMAT));
        return new LevelHistoryStore(db);
    }

    async append(log: string, at: number, message: Envelope, bounds: HistoryBounds): Promise<HistoryEntry> {
        const meta = (await this.meta(log)) ?? { first: 1, next: 1, firstAt: at };
        const entry: HistoryEntry = { seq: meta.next, at, message };
        const ops: BatchOp[] = [
            { type: 'put', key: entryKey(log, entry.seq), value: JSON.stringify(entry) },
            { type: 'put', key: idKey(log, message.id), value: String(entry.seq) },
        ];
        if (meta.next === meta.first) meta.firstAt = at;
        meta.next++;
        const overCount = meta.next - meta.first - bounds.perConversation;
        const aged = at - meta.firstAt > bounds.maxAgeMs;
        if (overCount > 0 || aged) {
            const old = await this.db
                .iterator({ gte: entryKey(log, meta.first), lt: entryKey(log, entry.seq), limit: Math.max(overCount, AGE_TRIM_BATCH) })
                .all();
            let dropped = 0;
            for (const [key, value] of old) {
                const stored = JSON.parse(value) as HistoryEntry;
                if (dropped >= overCount && at - stored.at <= bounds.maxAgeMs) {
                    meta.firstAt = stored.at;
                    break;
                }
                ops.push({ type: 'del', key }, { type: 'del', key: idKey(log, stored.message.id) });
                dropped++;
            }
            meta.first += dropped;
            if (meta.first === entry.seq) meta.firstAt = at;
        }
        ops.push({ type: 'put', key: metaKey(log), value: JSON.stringify(meta) });
        if (!this.metas.has(log) && this.metas.size >= 100000) this.metas.clear();
        this.metas.set(log, meta);
        await this.db.batch(ops);
        return entry;
    }

    async find(log: string, messageId: string): Promise<HistoryEntry | undefined> {
        const seq = await this.db.get(idKey(log, messageId));
        if (seq === undefined) return undefined;
        const value = await this.db.get(entryKey(log, Number(seq)));
        return value === undefined ? undefined : (JSON.parse(value) as HistoryEntry);
    }

    async replace(log: string, entry: HistoryEntry): Promise<void> {
        await this.db.put(entryKey(log, entry.seq), JSON.stringify(entry));
    }

    async range(log: string, query: RangeQuery, minAt: number): Promise<HistoryEntry[]> {
        const gt = entryKey(log, query.after ?? 0);
        const lt = query.before !== undefined ? entryKey(log, query.before) : `~h/${log}/~`;
        const rows = await this.db.iterator({ gt, lt, limit: query.limit, reverse: query.before !== undefined }).all();
        const entries = rows.map(([, value]) => JSON.parse(value) as HistoryEntry).filter((entry) => entry.at >= minAt);
        return query.before !== undefined ? entries.reverse() : entries;
    }

    async lastSeq(log: string): Promise<number> {
        const meta = await this.meta(log);
        return meta ? meta.next - 1 : 0;
    }

    async peersOf(owner: string): Promise<string[]> {
        const prefix = metaKey(`u/${owner}/`);
        const keys = await this.db.keys({ gt: prefix, lt: `${prefix}\uffff` }).all();
        return keys.map((key) => key.slice(prefix.length));
    }

    async mark(owner: string, conversation: string): Promise<number> {
        return Number((await this.db.get(markKey(owner, conversation))) ?? 0);
    }

    async setMark(owner: string, conversation: string, seq: number): Promise<void> {
        await this.db.put(markKey(owner, conversation), String(seq));
    }

    async close(): Promise<void> {
        this.metas.clear(); // the database itself is the disk store's to close
    }

    private async meta(log: string): Promise<LogMeta | undefined> {
        let meta = this.metas.get(log);
        if (meta) return meta;
        const value = await this.db.get(metaKey(log));
        if (value === undefined) return undefined;
        meta = JSON.parse(value) as LogMeta;
        if (this.metas.size >= 100000) this.metas.clear(); // a cache: the disk has them all
        this.metas.set(log, meta);
        return meta;
    }
}
