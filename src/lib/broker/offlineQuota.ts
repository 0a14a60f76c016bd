// A persistent session that is away gets its QoS 1 messages queued in the store until it comes back.
// Unbounded, one sender could fill the disk (or Redis) through one offline user: the red team stored
// 31 MB that way. Two quotas bound it: per session, and per sender within a session, so a flooding
// sender fills only its own share and everyone else's messages to that user still get through.
//
// Counted where aedes queues for sessions that are away (the persistence's outgoingEnqueueCombi) and
// released when a queued message is acknowledged or cleared (outgoingClearMessageId returns it). A
// message delivered to a session that is online is cleared without having been counted here, so
// releases stop at zero: the count can only fall short of the store, never refuse too early. The
// counts live in memory, so after a restart a session can hold up to one more quota of what was
// queued before it.

export interface QueuedPacket {
    topic: string;
}

interface SessionCount {
    total: number;
    bySender: Map<string, number>;
}

export interface OfflineQuotaOptions {
    /** Messages queued for one session that is away (0: no limit). */
    perSession: number;
    /** Of those, messages from one sender (0: no limit). */
    perSender: number;
    /** The sender a topic names (its sender level); undefined for topics without one. */
    senderOf(topic: string): string | undefined;
    /** A message not queued for `clientId` because a quota was full. */
    refused(clientId: string, sender: string, topic: string, reason: string): void;
}

/** Messages from topics without a sender level (system pushes, presence) share one account here. */
const NO_SENDER = '';

export class OfflineQuota {
    private readonly sessions = new Map<string, SessionCount>();

    constructor(private readonly options: OfflineQuotaOptions) {}

    /** How many messages are counted as queued for a session (for tests and the node's status). */
    queued(clientId: string, sender?: string): number {
        const session = this.sessions.get(clientId);
        if (!session) return 0;
        return sender === undefined ? session.total : (session.bySender.get(sender) ?? 0);
    }

    /** Wraps a persistence's offline enqueue and its clear, in place. */
    install(persistence: object): void {
        const methods = persistence as Record<string, unknown>;
        const enqueue = methods.outgoingEnqueueCombi as
            ((subs: { clientId: string }[], packet: QueuedPacket) => Promise<unknown>) | undefined;
        const clear = methods.outgoingClearMessageId as ((client: { id: string }, packet: object) => Promise<unknown>) | undefined;
        if (typeof enqueue !== 'function' || typeof clear !== 'function') {
            throw new Error('The persistence has no outgoingEnqueueCombi/outgoingClearMessageId: the offline quota cannot be kept');
        }
        methods.outgoingEnqueueCombi = (subs: { clientId: string }[], packet: QueuedPacket): Promise<unknown> => {
            const admitted = Array.isArray(subs) ? subs.filter((sub) => this.admit(sub.clientId, packet.topic)) : subs;
            return enqueue.call(persistence, admitted, packet);
        };
        methods.outgoingClearMessageId = async (client: { id: string }, packet: object): Promise<unknown> => {
            const cleared = await clear.call(persistence, client, packet);
            const topic = (cleared as Partial<QueuedPacket> | undefined)?.topic;
            if (typeof topic === 'string') this.release(client.id, topic);
            return cleared;
        };
    }

    /** Counts one message for a session that is away, or refuses it when a quota is full. */
    admit(clientId: string, topic: string): boolean {
        const sender = this.options.senderOf(topic) ?? NO_SENDER;
        let session = this.sessions.get(clientId);
        if (!session) this.sessions.set(clientId, (session = { total: 0, bySender: new Map() }));
        const fromSender = session.bySender.get(sender) ?? 0;
        const { perSession, perSender } = this.options;
        if (perSession > 0 && session.total >= perSession) {
            this.options.refused(clientId, sender, topic, `${clientId} is away with ${session.total} messages queued (the limit)`);
            return false;
        }
        if (perSender > 0 && sender !== NO_SENDER && fromSender >= perSender) {
            this.options.refused(
                clientId,
                sender,
                topic,
                `${clientId} is away with ${fromSender} messages from ${sender} queued (the limit)`,
            );
            return false;
        }
        session.total++;
        session.bySender.set(sender, fromSender + 1);
        return true;
    }

    release(clientId: string, topic: string): void {
        const session = this.sessions.get(clientId);
        if (!session) return;
        const sender = this.options.senderOf(topic) ?? NO_SENDER;
        const fromSender = session.bySender.get(sender) ?? 0;
        if (fromSender <= 0) return; // delivered while online: never counted
        if (fromSender === 1) session.bySender.delete(sender);
        else session.bySender.set(sender, fromSender - 1);
        session.total--;
        if (session.total <= 0) this.sessions.delete(clientId);
    }

    /** The session is gone (a clean login with its ID, or the device was removed): nothing is queued any more. */
    forget(clientId: string): void {
        this.sessions.delete(clientId);
    }
}
