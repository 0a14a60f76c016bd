// Drops a message whose (sender, id) was seen recently: QoS 1 may deliver a message twice, and a
// persistent session may replay one after a reconnect.

/**
 * Remembers the last `capacity` pairs at least, and at most twice that, in two generations: when the
 * current one is full it becomes the previous one and the one before is dropped whole. Forgetting a
 * generation at once costs nothing per message, where evicting the oldest entry one by one cost an
 * iterator for every message a busy account received.
 */
export class DuplicateFilter {
    private current = new Set<string>();
    private previous = new Set<string>();

    constructor(private readonly capacity = 5000) {}

    /** True the first time a (sender, id) pair is offered; false for a repeat while it is remembered. */
    accept(from: string, id: string): boolean {
        const key = `${from}\u0000${id}`;
        if (this.current.has(key) || this.previous.has(key)) return false;
        this.current.add(key);
        if (this.current.size >= this.capacity) {
            this.previous = this.current;
            this.current = new Set();
        }
        return true;
    }
}
