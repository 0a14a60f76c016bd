/**
 * Where MQTT.js keeps this account's QoS 1 and 2 publishes until the broker acknowledges them, and
 * re-sends them from after a reconnect. Same contract as MQTT.js's in-memory Store (put, get and del
 * by message ID, createStream in the order the packets were put, close forgets them); the storage
 * differs.
 *
 * MQTT.js's Store keeps the packets in one long-lived Map that empties and refills with every
 * acknowledgement. Under a steady stream of QoS 1 publishes that made V8 promote every stored packet
 * out of the young generation: at 5 000 publishes a second, 250 KB survived each scavenge and each
 * paused the process for about 3 ms; with a plain object as the table, under 1 KB and 0.6 ms. Those
 * pauses were most of the relay's p99 latency (docs/PERFORMANCE.md).
 */

import { Readable } from 'stream';
import type { IStore } from 'mqtt';

type Packet = Parameters<IStore['put']>[0];
type PacketCallback = Parameters<IStore['get']>[1];
type DoneCallback = Parameters<IStore['put']>[1];

interface Entry {
    packet: Packet;
    /** Insertion order: message IDs wrap at 65 535, so they cannot order a re-send. */
    order: number;
}

export class OutgoingStore implements IStore {
    private entries: Record<number, Entry> = Object.create(null);
    private nextOrder = 0;

    put(packet: Packet, cb?: DoneCallback): this {
        const id = (packet as { messageId?: number }).messageId as number;
        this.entries[id] = { packet, order: this.nextOrder++ };
        cb?.();
        return this;
    }

    get(packet: { messageId?: number }, cb: PacketCallback): this {
        const entry = this.entries[packet.messageId as number];
        if (entry) cb(undefined, entry.packet);
        else cb?.(new Error('missing packet'));
        return this;
    }

    del(packet: { messageId?: number }, cb: PacketCallback): this {
        const id = packet.messageId as number;
        const entry = this.entries[id];
        if (entry) {
            delete this.entries[id];
            cb(undefined, entry.packet);
        } else {
            cb?.(new Error('missing packet'));
        }
        return this;
    }

    /** The stored packets, oldest first. */
    createStream(): ReturnType<IStore['createStream']> {
        const packets = Object.values(this.entries)
            .sort((a, b) => a.order - b.order)
            .map((entry) => entry.packet);
        return Readable.from(packets, { objectMode: true }) as unknown as ReturnType<IStore['createStream']>;
    }

    /** Forgets every packet, as MQTT.js's store does when it closes (its default `clean` option). */
    close(cb?: DoneCallback): void {
        this.entries = Object.create(null);
        cb?.();
    }

    get size(): number {
        return Object.keys(this.entries).length;
    }
}
