// The disk store's LevelDB, as aedes's level persistence sees it, with its writes batched. For a
// persistent session aedes stores every QoS 1 message and then updates and deletes it (enqueue, update
// on delivery, clear on PUBACK): three to five LevelDB calls per message, each a trip to the thread
// pool, so the broker spent its time waiting on the store. Here every write lands in memory at once
// and reads see it there; the writes of one event-loop turn (and of every turn while a batch is on its
// way) go to disk as one `db.batch`, batches in the order they were cut. Within a batch only the last
// write of each key is kept, so a message enqueued and acknowledged inside one window costs one delete
// per key instead of five calls. A write is kept in memory until its batch is on disk, so a failed
// batch is retried (its keys' later writes come after it) and nothing is read back stale meanwhile.
//
// What a SIGKILL can lose: the writes not yet on disk, that is the batch being written and the writes
// made since it was cut (a few milliseconds of traffic; `pendingWrites` counts them). What reached
// LevelDB stays, as before: LevelDB writes without fsync, so a process kill loses nothing it wrote.

/** A LevelDB key range as aedes's level persistence passes it. */
export interface KeyRange {
    gt?: string;
    gte?: string;
    lt?: string;
    lte?: string;
}

export type WriteOp = { type: 'put'; key: string; value: Buffer } | { type: 'del'; key: string };

/** The part of classic-level this module writes through. */
export interface LevelDisk {
    get(key: string, options: { valueEncoding: 'buffer' }): Promise<Buffer | undefined>;
    batch(ops: WriteOp[], options: { valueEncoding: 'buffer' }): Promise<void>;
    clear(range: KeyRange): Promise<void>;
    values(options: KeyRange & { valueEncoding: 'buffer' }): AsyncIterable<Buffer>;
    iterator(options: KeyRange & { valueEncoding: 'buffer' }): AsyncIterable<[string, Buffer]>;
    close(): Promise<void>;
}

/** A chained batch, as `db.batch()` without arguments returns it. */
export interface ChainedBatch {
    put(key: string, value: Buffer): ChainedBatch;
    del(key: string): ChainedBatch;
    write(): Promise<void>;
}

const BUFFER = { valueEncoding: 'buffer' } as const;
/** The delay before a failed batch is tried again. */
const RETRY_MS = 1000;

/** How many keys written lately each of the two generations of the read cache holds. */
const RECENT_KEYS = 5000;

/** A key's latest write while it is not yet on disk: its value, or null for a delete. */
interface Unwritten {
    value: Buffer | null;
}

type Segment = { kind: 'batch'; writes: Map<string, Unwritten> } | { kind: 'clear'; range: KeyRange };

/** LevelDB compares keys as UTF-8 bytes; JavaScript compares UTF-16 units (they differ past U+D7FF). */
export function compareKeys(a: string, b: string): number {
    return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export function inRange(key: string, range: KeyRange): boolean {
    if (range.gt !== undefined && compareKeys(key, range.gt) <= 0) return false;
    if (range.gte !== undefined && compareKeys(key, range.gte) < 0) return false;
    if (range.lt !== undefined && compareKeys(key, range.lt) >= 0) return false;
    if (range.lte !== undefined && compareKeys(key, range.lte) > 0) return false;
    return true;
}

export class BatchedLevel {
    /** Every write not yet confirmed on disk, by key: the current window's and the batches' in flight. */
    private readonly unwritten = new Map<string, Unwritten>();
    /** The writes of the window not yet cut into a batch. */
    private window = new Map<string, Unwritten>();
    /** Cut batches and range clears, written one at a time in this order. */
    private readonly queue: Segment[] = [];
    /** Ranges cleared in memory whose clear has not reached the disk: the disk's keys there are gone. */
    private readonly clearing: KeyRange[] = [];
    /**
     * The last writes already on disk, newest generation first: aedes reads a message back soon after
     * writing it (its delivery, then its PUBACK), often after its batch was written.
     */
    private recent = new Map<string, Buffer | null>();
    private older = new Map<string, Buffer | null>();
    private cutScheduled = false;
    private writing = false;
    private retryTimer: NodeJS.Timeout | undefined;
    private failing = false;
    private closed = false;
    private readonly idleWaiters: (() => void)[] = [];
    /** Told when a batch fails (it is retried); the store reports it as it reports a failed save. */
    onError: (error: Error) => void = () => undefined;
    /** Told when a batch succeeds after a failure. */
    onRecovered: () => void = () => undefined;
    /** Batches written, for tests and the bench. */
    batchesWritten = 0;

    constructor(private readonly disk: LevelDisk) {}

    /** Writes that a SIGKILL now would lose. */
    get pendingWrites(): number {
        return this.unwritten.size;
    }

    // The options aedes's persistence passes (always buffers) are accepted and not needed.
    async get(key: string, _options?: object): Promise<Buffer | undefined> {
        const write = this.unwritten.get(key);
        if (write) return write.value ?? undefined;
        // A key is in at most one generation; null there means deleted on disk.
        if (this.recent.has(key)) return this.recent.get(key) ?? undefined;
        if (this.older.has(key)) return this.older.get(key) ?? undefined;
        if (this.clearedOnDisk(key)) return undefined;
        return this.disk.get(key, BUFFER);
    }

    async put(key: string, value: Buffer, _options?: object): Promise<void> {
        this.write(key, value);
    }

    async del(key: string): Promise<void> {
        this.write(key, null);
    }

    batch(): ChainedBatch;
    batch(ops: WriteOp[], options?: object): Promise<void>;
    batch(ops?: WriteOp[]): ChainedBatch | Promise<void> {
        if (ops) {
            for (const op of ops) this.write(op.key, op.type === 'put' ? op.value : null);
            return Promise.resolve();
        }
        const collected: WriteOp[] = [];
        const chained: ChainedBatch = {
            put: (key, value) => (collected.push({ type: 'put', key, value }), chained),
            del: (key) => (collected.push({ type: 'del', key }), chained),
            write: () => this.batch(collected),
        };
        return chained;
    }

    /** Removes a range: at once in memory, on disk after the batches before it. */
    async clear(options: KeyRange): Promise<void> {
        const range = rangeOf(options);
        this.assertOpen();
        for (const [key, write] of this.unwritten) if (inRange(key, range) && write.value !== null) this.write(key, null);
        for (const cache of [this.recent, this.older]) for (const key of cache.keys()) if (inRange(key, range)) cache.delete(key);
        this.cut();
        this.clearing.push(range);
        this.queue.push({ kind: 'clear', range });
        this.drain();
    }

    /** The values of a range in key order, the unwritten writes laid over the disk's. */
    async *values(options: KeyRange & object): AsyncGenerator<Buffer> {
        const range = rangeOf(options);
        // Taken in the same turn as the disk iterator's snapshot: a write is either here or in it.
        const overlay = [...this.unwritten].filter(([key]) => inRange(key, range));
        const cleared = this.clearing.filter((r) => overlaps(r, range));
        if (overlay.length === 0 && cleared.length === 0) {
            yield* this.disk.values({ ...range, ...BUFFER });
            return;
        }
        const merged = new Map<string, Buffer>();
        for await (const [key, value] of this.disk.iterator({ ...range, ...BUFFER })) {
            if (!cleared.some((r) => inRange(key, r))) merged.set(key, value);
        }
        for (const [key, write] of overlay) {
            if (write.value === null) merged.delete(key);
            else merged.set(key, write.value);
        }
        for (const key of [...merged.keys()].sort(compareKeys)) yield merged.get(key) as Buffer;
    }

    /** Resolves once everything written so far is on disk (or the store is failing). */
    flush(): Promise<void> {
        this.cut();
        this.drain();
        if (!this.writing && this.queue.length === 0) return Promise.resolve();
        return new Promise((resolve) => this.idleWaiters.push(resolve));
    }

    /** Writes what is pending, then closes the database. A batch that still fails is lost, and said so. */
    async close(): Promise<void> {
        if (this.closed) return;
        await this.flush();
        this.closed = true;
        clearTimeout(this.retryTimer);
        await this.disk.close();
    }

    private write(key: string, value: Buffer | null): void {
        this.assertOpen();
        const write: Unwritten = { value };
        this.unwritten.set(key, write);
        this.window.set(key, write);
        if (!this.cutScheduled) {
            this.cutScheduled = true;
            setImmediate(() => {
                this.cutScheduled = false;
                if (!this.writing) {
                    this.cut();
                    this.drain();
                }
            });
        }
    }

    private assertOpen(): void {
        if (this.closed) throw new Error('The disk store is closed');
    }

    /** Ends the window: its writes become the next batch. */
    private cut(): void {
        if (this.window.size === 0) return;
        this.queue.push({ kind: 'batch', writes: this.window });
        this.window = new Map();
    }

    private drain(): void {
        if (this.writing || this.retryTimer) return;
        const segment = this.queue[0];
        if (!segment) {
            this.idleWaiters.splice(0).forEach((resolve) => resolve());
            return;
        }
        this.writing = true;
        this.writeSegment(segment).then(
            () => {
                this.queue.shift();
                this.settle(segment);
                this.writing = false;
                if (this.failing) {
                    this.failing = false;
                    this.onRecovered();
                }
                // Whatever came meanwhile goes in the next batch, at once.
                this.cut();
                this.drain();
            },
            (error: Error) => {
                this.writing = false;
                this.failing = true;
                this.onError(error);
                // Those waiting for a flush are told now: the writes stay in memory and are retried.
                this.idleWaiters.splice(0).forEach((resolve) => resolve());
                if (this.closed) return;
                this.retryTimer = setTimeout(() => {
                    this.retryTimer = undefined;
                    this.drain();
                }, RETRY_MS);
                this.retryTimer.unref();
            },
        );
    }

    private writeSegment(segment: Segment): Promise<void> {
        if (segment.kind === 'clear') return this.disk.clear(segment.range);
        const ops: WriteOp[] = [];
        for (const [key, { value }] of segment.writes) ops.push(value === null ? { type: 'del', key } : { type: 'put', key, value });
        return this.disk.batch(ops, BUFFER);
    }

    /** Forgets the writes now on disk, unless a key was written again since. */
    private settle(segment: Segment): void {
        this.batchesWritten++;
        if (segment.kind === 'clear') {
            this.clearing.splice(this.clearing.indexOf(segment.range), 1);
            return;
        }
        for (const [key, write] of segment.writes) {
            if (this.unwritten.get(key) !== write) continue;
            this.unwritten.delete(key);
            this.remember(key, write.value);
        }
    }

    /** Keeps a key's value as it is now on disk; the older generation is dropped whole when the newer fills. */
    private remember(key: string, value: Buffer | null): void {
        this.older.delete(key);
        this.recent.set(key, value);
        if (this.recent.size < RECENT_KEYS) return;
        this.older = this.recent;
        this.recent = new Map();
    }

    private clearedOnDisk(key: string): boolean {
        return this.clearing.length > 0 && this.clearing.some((range) => inRange(key, range));
    }
}

/** Only the bounds that are set: LevelDB reads a bound given as undefined as a bound. */
function rangeOf(options: KeyRange): KeyRange {
    const range: KeyRange = {};
    for (const bound of ['gt', 'gte', 'lt', 'lte'] as const) if (options[bound] !== undefined) range[bound] = options[bound];
    return range;
}

function overlaps(a: KeyRange, b: KeyRange): boolean {
    const aLow = a.gte ?? a.gt;
    const bLow = b.gte ?? b.gt;
    const aHigh = a.lt ?? a.lte;
    const bHigh = b.lt ?? b.lte;
    if (aHigh !== undefined && bLow !== undefined && compareKeys(aHigh, bLow) < 0) return false;
    if (bHigh !== undefined && aLow !== undefined && compareKeys(bHigh, aLow) < 0) return false;
    return true;
}
