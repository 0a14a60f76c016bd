// Presence (beyond the seed): a retained online/offline envelope on P/<user>/Presence, with the MQTT will
// as "offline" so a lost connection is reported by the broker. Friends' presence is watched.

import { createEnvelope, encodeEnvelope, ImsMessage } from '../envelope';
import { OWNERS, SessionContext } from './context';

export type PresenceStatus = 'online' | 'offline';

export class Presence {
    /** Last status seen of each watched user; only changes are delivered. */
    private readonly known = new Map<string, string>();

    constructor(
        private readonly s: SessionContext,
        readonly enabled: boolean,
    ) {}

    /** The MQTT will: a retained "offline" the broker publishes when the connection dies. */
    will(): { topic: string; payload: Buffer; qos: 1; retain: true } | undefined {
        if (!this.enabled) return undefined;
        const envelope = createEnvelope({ type: 'presence', from: this.s.userId, data: { status: 'offline' } });
        return { topic: this.s.codec.presence(this.s.userId), payload: encodeEnvelope(envelope), qos: 1, retain: true };
    }

    async announce(status: PresenceStatus): Promise<void> {
        if (!this.enabled) return;
        await this.s.publish(this.s.codec.presence(this.s.userId), { type: 'presence', data: { status } }, { retain: true, qos: 1 });
    }

    async watch(user: string, watching: boolean): Promise<void> {
        if (!this.enabled) return;
        const topic = [this.s.codec.presence(user)];
        if (watching) {
            await this.s.hold(OWNERS.presence, topic);
        } else {
            this.known.delete(user);
            await this.s.release(OWNERS.presence, topic);
        }
    }

    topics(): string[] {
        return this.enabled ? this.s.state.list('friends').map((user) => this.s.codec.presence(user)) : [];
    }

    /**
     * True when a friend's status changed (a retained repeat after a reconnect is not news). Others'
     * presence is ignored: a persistent session may still hold a subscription the account let go.
     */
    receive(message: ImsMessage): boolean {
        const status = message.data?.status;
        if (status !== 'online' && status !== 'offline') return false;
        if (!this.s.state.has('friends', message.from)) return false;
        if (this.known.get(message.from) === status) return false;
        this.known.set(message.from, status);
        return true;
    }
}
