// MQTT 3.1.1 [MQTT-3.3.5-1]: overlapping subscriptions deliver one copy at the highest QoS among them
// (capped by the published QoS). aedes drops the second copy but keeps the QoS of whichever
// subscription's delivery ran first, and binds that delivery function when the subscription is made
// (or restored from a persistent session), so each client's delivery functions are wrapped before it
// subscribes anything. The highest QoS comes from a trie of the client's filters: its cost grows with
// the topic's levels, not with how many unrelated subscriptions the client has.

import { ClientInternals, DeliveredPacket, isDuplicateCopy, wrapDelivery } from './aedesAdapter';

/** Topic filters with their QoS, matched against topics level by level. */
export class FilterQosIndex {
    private readonly root = new TrieNode();

    set(filter: string, qos: number): void {
        let node = this.root;
        for (const level of filter.split('/')) {
            let child = node.children.get(level);
            if (!child) node.children.set(level, (child = new TrieNode()));
            node = child;
        }
        node.qos = qos;
    }

    delete(filter: string): void {
        const path: [TrieNode, string][] = [];
        let node: TrieNode | undefined = this.root;
        for (const level of filter.split('/')) {
            const child: TrieNode | undefined = node.children.get(level);
            if (!child) return;
            path.push([node, level]);
            node = child;
        }
        node.qos = -1;
        // Prune branches left with neither a filter nor children.
        for (let i = path.length - 1; i >= 0; i--) {
            const [parent, level] = path[i];
            const child = parent.children.get(level) as TrieNode;
            if (child.qos >= 0 || child.children.size > 0) break;
            parent.children.delete(level);
        }
    }

    /** The highest QoS of the filters matching `topic`, or -1 when none does. */
    highest(topic: string): number {
        const levels = topic.split('/');
        return walk(this.root, levels, 0, topic.charCodeAt(0) === 36 /* '$' */);
    }
}

class TrieNode {
    qos = -1;
    readonly children = new Map<string, TrieNode>();
}

function walk(node: TrieNode, levels: string[], i: number, dollar: boolean): number {
    let best = -1;
    // '#' matches the parent level too ("a/#" matches "a"), but wildcards never match a leading '$' level.
    const hash = i === 0 && dollar ? undefined : node.children.get('#');
    if (hash && hash.qos > best) best = hash.qos;
    if (i === levels.length) return Math.max(best, node.qos);
    const exact = node.children.get(levels[i]);
    if (exact) best = Math.max(best, walk(exact, levels, i + 1, dollar));
    const plus = i === 0 && dollar ? undefined : node.children.get('+');
    if (plus) best = Math.max(best, walk(plus, levels, i + 1, dollar));
    return best;
}

/** Wraps the client's delivery so each message goes out once, at the highest QoS its subscriptions grant. */
export function deliverAtHighestQos(client: ClientInternals): void {
    const index = new FilterQosIndex();
    const raw = client.subscriptions;
    for (const [filter, sub] of Object.entries(raw)) index.set(filter, sub.qos ?? 0);
    const highest = (topic: string): number => Math.max(0, index.highest(topic));
    wrapDelivery(client, (deliver0, deliverQoS) => (packet: DeliveredPacket, cb: () => void): void => {
        if (packet.qos === 0) return deliver0.call(client, packet, cb);
        if (isDuplicateCopy(client, packet)) return void setImmediate(cb);
        const qos = Math.min(packet.qos, highest(packet.topic));
        if (qos === 0) deliver0.call(client, packet, cb);
        else deliverQoS.call(client, qos === packet.qos ? packet : { ...packet, qos }, cb);
    });
    // deliverQoS then downgrades by the subscription stored under the exact topic, if any; reading it
    // through this view gives the highest QoS that matches instead, so an overlapping exact
    // subscription at a lower QoS cannot pull the copy down. The view also keeps the index current.
    client.subscriptions = new Proxy(raw, {
        get(target, key, receiver) {
            const sub = Reflect.get(target, key, receiver) as { qos?: number } | undefined;
            if (!sub || typeof key !== 'string' || key.includes('+') || key.includes('#')) return sub;
            const qos = highest(key);
            return qos > (sub.qos ?? 0) ? Object.assign(Object.create(Object.getPrototypeOf(sub)), sub, { qos }) : sub;
        },
        set(target, key, value: { qos?: number }) {
            if (typeof key === 'string') index.set(key, value?.qos ?? 0);
            return Reflect.set(target, key, value);
        },
        deleteProperty(target, key) {
            if (typeof key === 'string') index.delete(key);
            return Reflect.deleteProperty(target, key);
        },
    });
}

/** Does an MQTT topic filter (with + and #) match a topic? */
export function topicMatches(filter: string, topic: string): boolean {
    const index = new FilterQosIndex();
    index.set(filter, 0);
    return index.highest(topic) === 0;
}
