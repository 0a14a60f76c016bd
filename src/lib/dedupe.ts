// Drops a message whose (sender, id) was seen recently: QoS 1 may deliver a message twice, and a
// persistent session may replay one after a reconnect.

/**
 * Remembers the last `capacity` pairs at least, and at most twice that, in two generations: when the
 * current one is full it becomes the previous one and the one before is dropped whole.
 *
 * A pair is kept as a 53-bit hash in a typed-array table (open addressing, linear probing), not as a
 * string in a Set. Every message's key used to stay alive for seconds by design, so V8 copied it out
 * of the young generation at each scavenge: about 120 bytes per received message, most of what a busy
 * account's scavenges had to promote (docs/PERFORMANCE.md). Two different pairs share a hash with a
 * probability of about 2^-53 per remembered pair (one in 10^12 messages for 10 000 remembered).
 * Tables start small and grow with the traffic, so an idle account costs about a kilobyte.
 */
export class DuplicateFilter {
    private current: Float64Array = new Float64Array(INITIAL_SLOTS);
    private previous: Float64Array = new Float64Array(INITIAL_SLOTS);
    private currentCount = 0;
    private previousCount = 0;

    constructor(private readonly capacity = 5000) {}

    /** True the first time a (sender, id) pair is offered; false for a repeat while it is remembered. */
    accept(from: string, id: string): boolean {
        const key = keyOf(from, id);
        if (contains(this.current, key) || contains(this.previous, key)) return false;
        if (2 * (this.currentCount + 1) > this.current.length) this.current = grown(this.current);
        insert(this.current, key);
        if (++this.currentCount >= this.capacity) {
            const reuse = this.previous.length === this.current.length ? this.previous.fill(0) : new Float64Array(this.current.length);
            this.previous = this.current;
            this.previousCount = this.currentCount;
            this.current = reuse;
            this.currentCount = 0;
        }
        return true;
    }

    /** How many pairs are remembered now. */
    get size(): number {
        return this.currentCount + this.previousCount;
    }
}

const INITIAL_SLOTS = 64;
/** A key's low 21 bits pick its first slot (tables stay far below 2^21 slots). */
const SLOT_BITS = 2097152;

/**
 * The pair's 53-bit key, never 0 (0 marks an empty slot): 32 bits of an FNV-1a hash and 21 of a second
 * one with another seed and multiplier, both over `from`, its length and `id` in one pass, each
 * finished with MurmurHash3's fmix32. The length (above any char code) keeps ("AB", "C") apart from ("A", "BC").
 */
function keyOf(from: string, id: string): number {
    let h1 = 0x811c9dc5;
    let h2 = 0x3c6ef372;
    for (let i = 0; i < from.length; i++) {
        const c = from.charCodeAt(i);
        h1 = Math.imul(h1 ^ c, 0x01000193);
        h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    }
    h1 = Math.imul(h1 ^ (0x10000 + from.length), 0x01000193);
    h2 = Math.imul(h2 ^ (0x10000 + from.length), 0x5bd1e995);
    for (let i = 0; i < id.length; i++) {
        const c = id.charCodeAt(i);
        h1 = Math.imul(h1 ^ c, 0x01000193);
        h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    }
    return (fmix32(h1) >>> 0) * SLOT_BITS + (fmix32(h2) >>> 11) || 1;
}

function fmix32(h: number): number {
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 16);
}

function contains(table: Float64Array, key: number): boolean {
    const mask = table.length - 1;
    for (let i = (key % SLOT_BITS) & mask; table[i] !== 0; i = (i + 1) & mask) {
        if (table[i] === key) return true;
    }
    return false;
}

function insert(table: Float64Array, key: number): void {
    const mask = table.length - 1;
    let i = (key % SLOT_BITS) & mask;
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = key;
}

/** Twice the slots, every key re-placed. */
function grown(table: Float64Array): Float64Array {
    const next = new Float64Array(table.length * 2);
    for (const key of table) if (key !== 0) insert(next, key);
    return next;
}
