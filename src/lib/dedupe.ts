// Drops a message whose (sender, id) was seen recently: QoS 1 may deliver a message twice, and a
// persistent session may replay one after a reconnect.

export class DuplicateFilter {
    private readonly seen = new Set<string>();

    constructor(private readonly capacity = 10000) {}

    /** True the first time a (sender, id) pair is offered; false for a repeat while it is remembered. */
    accept(from: string, id: string): boolean {
        const key = `${from}\u0000${id}`;
        if (this.seen.has(key)) return false;
        this.seen.add(key);
        if (this.seen.size > this.capacity) {
            // A Set iterates in insertion order, so the first entry is the oldest.
            this.seen.delete(this.seen.values().next().value as string);
        }
        return true;
    }
}
