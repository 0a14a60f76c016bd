// The disk store as aedes sees it: aedes's own in-memory persistence, with every change also written to
// aedes-persistence-level (over the batched LevelDB) a short window later. aedes reads and writes
// memory only, so no message is encoded or looked up on disk on its way. For a persistent session aedes
// stores each QoS 1 message, updates it on delivery and clears it on PUBACK, usually within a few
// milliseconds: those changes (the messages of sessions that are online, and QoS 2 packets received)
// wait in a journal for one to two windows, and a message enqueued and cleared meanwhile never reaches
// the level persistence at all; of several updates of one message only the last is written. Every
// other change (a message queued for a session that is away, subscriptions, wills, retained messages)
// is rare or cannot be cleared soon: it is written at the end of its turn, ahead of the waiting
// traffic (it touches other keys; taking the traffic along would write what is about to be cleared). What is left is applied, in the order it happened, through the level
// persistence's own methods, so the on-disk format is the level persistence's and old stores load.
//
// At open, everything on disk is read into memory through the level persistence's read methods; memory
// then holds exactly what the store holds, as aedes's memory persistence always did.
//
// What a SIGKILL can lose: the journal (the delivery traffic of the last one to two windows, the other
// changes of the current turn) and the level store's writes not yet in LevelDB (batchedPersistence.ts);
// `pendingWrites` counts both.

import type { Readable } from 'stream';
import {
    isConnectedTo,
    restoreWill,
    type AedesPersistence,
    type PersistenceClient,
    type StoredPacket,
    type StoredSessions,
    type StoredSubscription,
} from './aedesAdapter';

/** How long a change waits in the journal, at least (and at most twice that) before it is written. */
export const JOURNAL_WINDOW_MS = 20;

/** An outgoing message in the journal, for as long as its enqueue is not yet written. */
interface Pending {
    /** Cleared before its enqueue was written: none of its changes are. */
    cancelled: boolean;
}

interface Change {
    /** Skipped when applied: superseded by a later change, cancelled, or refused by memory. */
    skip: boolean;
    /**
     * An urgent change's call resolves once it is handed to the level store, as it did when aedes
     * wrote there directly: aedes answers (CONNACK, SUBACK, the PUBACK of a message queued for a
     * session that is away) only after that, so the answer means "in the next LevelDB batch".
     */
    handed?: Promise<void>;
    onHanded?: () => void;
    /** The outgoing message the change belongs to, while its enqueue is unwritten. */
    pending?: Pending;
    /** Key of the coalescing map this change is registered in, to unregister it when it is taken. */
    coalesce?: { map: Map<string, Change | Pending>; key: string; value: Change | Pending };
    apply: (level: AedesPersistence) => Promise<unknown>;
}

export interface JournalOptions {
    windowMs?: number;
    /** The sessions on disk (their Client IDs), read at setup. */
    storedSessions: () => Promise<StoredSessions>;
}

function copy(packet: StoredPacket): StoredPacket {
    return { ...packet };
}

function outgoingKey(clientId: string, packet: StoredPacket): string | undefined {
    if (packet.brokerId === undefined || packet.brokerCounter === undefined) return undefined;
    return `${clientId}\0${packet.brokerId}\0${packet.brokerCounter}`;
}

async function drain(stream: Readable): Promise<StoredPacket[]> {
    const items: StoredPacket[] = [];
    for await (const item of stream) items.push(item as StoredPacket);
    return items;
}

export class JournaledPersistence implements AedesPersistence {
    /** The delivery traffic of the current window, and of the one before (written at the next tick). */
    private current: Change[] = [];
    private previous: Change[] = [];
    /**
     * The other changes of this turn, written at its end. They touch other keys than the traffic that
     * waits (subscriptions, wills, retained messages, messages of sessions that are away), so they can
     * overtake it: taking the traffic with them would write what is about to be cleared.
     */
    private prompt: Change[] = [];
    /** Outgoing messages whose enqueue is still in the journal, by client, broker and counter. */
    private readonly pendingOutgoing = new Map<string, Change | Pending>();
    /** The last unwritten update of each outgoing message, and the last retained message of each topic. */
    private readonly lastUpdate = new Map<string, Change | Pending>();
    private readonly lastRetained = new Map<string, Change | Pending>();
    private readonly lastIncoming = new Map<string, Change | Pending>();
    private timer: NodeJS.Timeout | undefined;
    private urgentScheduled = false;
    private applying: Promise<void> = Promise.resolve();
    private closed = false;
    private failing = false;
    private setupBroker: { id: string } | undefined;
    private readonly windowMs: number;
    /** Told when a change cannot be applied to the level store (it and memory then differ). */
    onError: (error: Error) => void = () => undefined;
    onRecovered: () => void = () => undefined;
    /** Changes applied to the level store, for tests and the bench. */
    changesWritten = 0;

    constructor(
        private readonly memory: AedesPersistence,
        private readonly level: AedesPersistence,
        private readonly options: JournalOptions,
    ) {
        this.windowMs = options.windowMs ?? JOURNAL_WINDOW_MS;
    }

    /** Changes not yet handed to the level store. */
    get journalLength(): number {
        return this.current.length + this.previous.length + this.prompt.length;
    }

    /** The broker given to setup (aedes-persistence's conformance suite reads it). */
    get broker(): { id: string } | undefined {
        return this.setupBroker;
    }

    async setup(broker: { id: string }): Promise<void> {
        this.setupBroker = broker;
        await this.memory.setup(broker);
        await this.level.setup(broker);
        await this.load();
    }

    /** Reads what is on disk into memory, without journaling it. */
    private async load(): Promise<void> {
        const { clientIds, incoming } = await this.options.storedSessions();
        for (const id of clientIds) {
            const client = { id };
            const subs = await this.level.subscriptionsByClient(client);
            if (subs.length > 0) await this.memory.addSubscriptions(client, subs);
            for (const packet of await drain(this.level.outgoingStream(client))) {
                await this.memory.outgoingEnqueue({ clientId: id }, packet);
                // aedes-packet drops the packet ID of a QoS 1 or 2 message; a delivered one keeps it.
                if (packet.messageId !== undefined && packet.messageId !== null) await this.memory.outgoingUpdate(client, packet);
            }
        }
        for (const { clientId, messageId } of incoming) {
            const packet = await this.level.incomingGetPacket({ id: clientId }, { messageId });
            await this.memory.incomingStorePacket({ id: clientId }, { ...packet, messageId });
        }
        for (const will of await drain(this.level.streamWill())) await restoreWill(this.memory, will);
        for (const packet of await drain(this.level.createRetainedStream('#'))) await this.memory.storeRetained(packet);
    }

    // Reads: memory only.
    createRetainedStreamCombi(patterns: string[]): Readable {
        return this.memory.createRetainedStreamCombi(patterns);
    }
    createRetainedStream(pattern: string): Readable {
        return this.memory.createRetainedStream(pattern);
    }
    subscriptionsByClient(client: PersistenceClient): Promise<StoredSubscription[]> {
        return this.memory.subscriptionsByClient(client);
    }
    countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
        return this.memory.countOffline();
    }
    subscriptionsByTopic(pattern: string): Promise<unknown[]> {
        return this.memory.subscriptionsByTopic(pattern);
    }
    outgoingStream(client: PersistenceClient): Readable {
        return this.memory.outgoingStream(client);
    }
    incomingGetPacket(client: PersistenceClient, packet: { messageId?: number }): Promise<StoredPacket> {
        return this.memory.incomingGetPacket(client, packet);
    }
    getWill(client: PersistenceClient): Promise<StoredPacket | undefined> {
        return this.memory.getWill(client);
    }
    streamWill(brokers?: Record<string, unknown>): Readable {
        return this.memory.streamWill(brokers);
    }
    getClientList(topic: string): Readable {
        return this.memory.getClientList(topic);
    }

    // Writes: memory at once, the level store through the journal.
    storeRetained(packet: StoredPacket): Promise<void> {
        const saved = copy(packet);
        const change = this.record((level) => level.storeRetained(saved), true);
        this.supersede(this.lastRetained, String(packet.topic), change);
        return this.mirror(change, this.memory.storeRetained(packet));
    }

    addSubscriptions(client: PersistenceClient, subs: StoredSubscription[]): Promise<void> {
        const saved = { id: client.id };
        const list = subs.map((sub) => ({ ...sub }));
        return this.mirror(
            this.record((level) => level.addSubscriptions(saved, list), true),
            this.memory.addSubscriptions(client, subs),
        );
    }

    removeSubscriptions(client: PersistenceClient, topics: string[]): Promise<void> {
        const saved = { id: client.id };
        const list = [...topics];
        return this.mirror(
            this.record((level) => level.removeSubscriptions(saved, list), true),
            this.memory.removeSubscriptions(client, topics),
        );
    }

    cleanSubscriptions(client: PersistenceClient): Promise<void> {
        const saved = { id: client.id };
        return this.mirror(
            this.record((level) => level.cleanSubscriptions(saved), true),
            this.memory.cleanSubscriptions(client),
        );
    }

    /** aedes queues here a message it delivers to a persistent session outside its subscriptions' path. */
    async outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void> {
        this.enqueueChange(sub.clientId, copy(packet), false);
        await this.memory.outgoingEnqueue(sub, packet);
    }

    /**
     * aedes queues here every QoS 1 or 2 message for every persistent session subscribed, online or
     * away. A session online acknowledges it soon: it waits with the traffic. For a session away it
     * stays until the session comes back: written at the end of the turn, and aedes's PUBACK to the
     * sender waits until it is handed to the level store, as before the journal.
     */
    async outgoingEnqueueCombi(subs: { clientId: string }[], packet: StoredPacket): Promise<unknown> {
        if (!subs || subs.length === 0) return packet;
        const saved = copy(packet);
        let last: Change | undefined;
        for (const sub of subs) {
            const away = !isConnectedTo(this.setupBroker, sub.clientId);
            const change = this.enqueueChange(sub.clientId, saved, away);
            if (away) last = change;
        }
        const result = await this.memory.outgoingEnqueueCombi(subs, packet);
        await last?.handed;
        return result;
    }

    outgoingUpdate(client: PersistenceClient, packet: StoredPacket): Promise<void> {
        const saved = copy(packet);
        const clientRef = { id: client.id };
        const change = this.record((level) => level.outgoingUpdate(clientRef, saved));
        const key = outgoingKey(client.id, packet);
        if (key !== undefined) {
            const pending = this.pendingOutgoing.get(key) as Pending | undefined;
            if (pending) change.pending = pending;
            this.supersede(this.lastUpdate, key, change);
        }
        return this.mirror(change, this.memory.outgoingUpdate(client, packet));
    }

    async outgoingClearMessageId(client: PersistenceClient, packet: { messageId?: number }): Promise<StoredPacket | undefined> {
        const clientRef = { id: client.id };
        const messageId = packet.messageId;
        const change = this.record((level) => level.outgoingClearMessageId(clientRef, { messageId }));
        let cleared: StoredPacket | undefined;
        try {
            cleared = await this.memory.outgoingClearMessageId(client, packet);
        } catch (error) {
            change.skip = true;
            throw error;
        }
        if (!cleared) {
            change.skip = true; // not in memory, so not on disk either
            return cleared;
        }
        const key = outgoingKey(client.id, cleared);
        const pending = key === undefined ? undefined : (this.pendingOutgoing.get(key) as Pending | undefined);
        if (pending && key !== undefined) {
            // Enqueued and cleared within the window: neither it nor its updates are written.
            pending.cancelled = true;
            change.skip = true;
            this.pendingOutgoing.delete(key);
        }
        return cleared;
    }

    incomingStorePacket(client: PersistenceClient, packet: StoredPacket): Promise<void> {
        const clientRef = { id: client.id };
        const saved = copy(packet);
        const change = this.record((level) => level.incomingStorePacket(clientRef, saved));
        this.supersede(this.lastIncoming, `${client.id}\0${packet.messageId}`, change);
        return this.mirror(change, this.memory.incomingStorePacket(client, packet));
    }

    incomingDelPacket(client: PersistenceClient, packet: { messageId?: number }): Promise<void> {
        const clientRef = { id: client.id };
        const messageId = packet.messageId;
        // A packet stored within the window is not written; the delete still is (an earlier one may be on disk).
        const stored = this.lastIncoming.get(`${client.id}\0${messageId}`) as Change | undefined;
        if (stored) stored.skip = true;
        return this.mirror(
            this.record((level) => level.incomingDelPacket(clientRef, { messageId })),
            this.memory.incomingDelPacket(client, packet),
        );
    }

    cleanIncoming(client: PersistenceClient): Promise<void> {
        const clientRef = { id: client.id };
        return this.mirror(
            // With the traffic: QoS 2 packets received before it must not be written after it.
            this.record((level) => level.cleanIncoming(clientRef)),
            this.memory.cleanIncoming(client),
        );
    }

    putWill(client: PersistenceClient, packet: StoredPacket): Promise<void> {
        const clientRef = { id: client.id };
        const saved = copy(packet);
        return this.mirror(
            this.record((level) => level.putWill(clientRef, saved), true),
            this.memory.putWill(client, packet),
        );
    }

    delWill(client: PersistenceClient): Promise<StoredPacket | undefined> {
        const clientRef = { id: client.id };
        return this.mirror(
            this.record((level) => level.delWill(clientRef), true),
            this.memory.delWill(client),
        );
    }

    /** Hands every change so far to the level store, which writes it in its next batch. */
    async flush(): Promise<void> {
        this.takeAll();
        await this.applying;
    }

    async destroy(): Promise<void> {
        if (this.closed) return;
        await this.flush();
        this.closed = true;
        await this.memory.destroy();
        await this.level.destroy();
    }

    private enqueueChange(clientId: string, packet: StoredPacket, urgent: boolean): Change {
        const pending: Pending = { cancelled: false };
        const change = this.record((level) => level.outgoingEnqueue({ clientId }, packet), urgent);
        change.pending = pending;
        const key = outgoingKey(clientId, packet);
        // The same message queued twice for one session: the second cannot be cancelled alone.
        if (key !== undefined && !this.pendingOutgoing.has(key)) {
            this.pendingOutgoing.set(key, pending);
            change.coalesce = { map: this.pendingOutgoing, key, value: pending };
        }
        return change;
    }

    /** Journals a change: traffic for a window or two, an urgent one until the end of the turn. */
    private record(apply: (level: AedesPersistence) => Promise<unknown>, urgent = false): Change {
        if (this.closed) throw new Error('The disk store is closed');
        const change: Change = { skip: false, apply };
        if (!urgent) {
            this.current.push(change);
            this.timer ??= setInterval(() => this.tick(), this.windowMs).unref();
            return change;
        }
        this.prompt.push(change);
        change.handed = new Promise((resolve) => (change.onHanded = resolve));
        if (!this.urgentScheduled) {
            this.urgentScheduled = true;
            setImmediate(() => {
                this.urgentScheduled = false;
                this.take(this.prompt);
                this.prompt = [];
            });
        }
        return change;
    }

    /** Memory's answer is aedes's; a change memory refused is not written either. */
    private mirror<T>(change: Change, result: Promise<T>): Promise<T> {
        return result.then(
            async (value) => {
                await change.handed;
                return value;
            },
            (error: unknown) => {
                change.skip = true;
                throw error;
            },
        );
    }

    /** Only the latest change of a key is written. */
    private supersede(map: Map<string, Change | Pending>, key: string, change: Change): void {
        const earlier = map.get(key) as Change | undefined;
        if (earlier) earlier.skip = true;
        map.set(key, change);
        change.coalesce = { map, key, value: change };
    }

    /** Writes the changes at least one window old. */
    private tick(): void {
        this.take(this.previous);
        this.previous = this.current;
        this.current = [];
        if (this.previous.length === 0) this.stopTimer();
    }

    private takeAll(): void {
        this.take(this.previous);
        this.take(this.current);
        this.take(this.prompt);
        this.previous = [];
        this.current = [];
        this.prompt = [];
        this.stopTimer();
    }

    private stopTimer(): void {
        clearInterval(this.timer);
        this.timer = undefined;
    }

    /** Applies changes in order, after those taken before; from now on they can no longer be coalesced. */
    private take(changes: Change[]): void {
        if (changes.length === 0) return;
        for (const change of changes) {
            const registered = change.coalesce;
            if (registered && registered.map.get(registered.key) === registered.value) registered.map.delete(registered.key);
        }
        this.applying = this.applying.then(() => this.apply(changes));
    }

    private async apply(changes: Change[]): Promise<void> {
        let failure: Error | undefined;
        for (const change of changes) {
            if (!change.skip && !change.pending?.cancelled) {
                try {
                    await change.apply(this.level);
                    this.changesWritten++;
                } catch (error) {
                    failure ??= error as Error;
                }
            }
            change.onHanded?.();
        }
        if (failure) {
            this.failing = true;
            this.onError(failure);
        } else if (this.failing) {
            this.failing = false;
            this.onRecovered();
        }
    }
}
