// Reference-counted subscriptions: many owners (nodes, the session) may want the same topic, and the
// broker holds one subscription for all of them until the last owner lets go.

export interface TopicEntry {
    qos: 0 | 1 | 2;
    owners: Set<string>;
}

export class SubscriptionTable {
    private readonly topics = new Map<string, TopicEntry>();

    /** Adds an owner; true when the broker needs a (new or upgraded) SUBSCRIBE for this topic. */
    add(owner: string, topic: string, qos: 0 | 1 | 2): boolean {
        const entry = this.topics.get(topic);
        if (!entry) {
            this.topics.set(topic, { qos, owners: new Set([owner]) });
            return true;
        }
        entry.owners.add(owner);
        if (qos > entry.qos) {
            entry.qos = qos;
            return true;
        }
        return false;
    }

    /** Removes an owner; true when nobody holds the topic any more, so the broker should UNSUBSCRIBE. */
    remove(owner: string, topic: string): boolean {
        const entry = this.topics.get(topic);
        if (!entry || !entry.owners.delete(owner)) return false;
        if (entry.owners.size > 0) return false;
        this.topics.delete(topic);
        return true;
    }

    /** Removes an owner everywhere; returns the topics nobody holds any more. */
    removeOwner(owner: string): string[] {
        const freed: string[] = [];
        for (const topic of [...this.topics.keys()]) {
            if (this.remove(owner, topic)) freed.push(topic);
        }
        return freed;
    }

    /** Forgets a topic for every owner (the broker refused it). */
    drop(topic: string): void {
        this.topics.delete(topic);
    }

    has(topic: string): boolean {
        return this.topics.has(topic);
    }

    get size(): number {
        return this.topics.size;
    }

    /** topic → QoS, as MQTT.js takes it for one batched SUBSCRIBE. */
    all(): Record<string, { qos: 0 | 1 | 2 }> {
        const map: Record<string, { qos: 0 | 1 | 2 }> = {};
        for (const [topic, entry] of this.topics) map[topic] = { qos: entry.qos };
        return map;
    }

    topicsOf(owner: string): string[] {
        return [...this.topics].filter(([, entry]) => entry.owners.has(owner)).map(([topic]) => topic);
    }
}
