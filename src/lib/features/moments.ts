// Scenario 2: moments on P/<user>; followers subscribe it. Blocking sends P/<blocked>/Inbox/Update/<me>/Unsub,
// and the blocked account unfollows on receipt and will not follow again.

import { Envelope, ImsMessage } from '../envelope';
import { assertId, ImsError } from '../ids';
import { OWNERS, SessionContext } from './context';

export class Moments {
    /** Follows sent and not yet answered: their posts are delivered, but nothing is recorded until the SUBACK. */
    private readonly pending = new Set<string>();

    constructor(private readonly s: SessionContext) {}

    post(text?: string, data?: Record<string, unknown>): Promise<Envelope> {
        return this.s.publish(this.s.codec.moments(this.s.userId), { type: 'moment', text, data });
    }

    /** False when `user` was already followed: following again is a no-op. */
    async follow(user: string): Promise<boolean> {
        this.checkPeer(user);
        if (this.s.state.has('blockedBy', user)) {
            throw new ImsError(`${user} has blocked ${this.s.userId}: their moments cannot be followed`, 'IMS_BLOCKED');
        }
        if (this.s.state.has('following', user)) return false;
        // Recorded (and saved, and held at every login) only once the broker grants the subscription.
        this.pending.add(user);
        try {
            await this.s.hold(OWNERS.follow, [this.s.codec.moments(user)]);
            if (this.pending.has(user)) this.s.state.add('following', user);
        } finally {
            this.pending.delete(user);
        }
        return true;
    }

    /** The broker refused `topic`: if it was a follow, it is forgotten. True when it was one. */
    refused(topic: string): boolean {
        const user = this.s.state.list('following').find((u) => this.s.codec.moments(u) === topic);
        if (user === undefined) return false;
        this.s.state.remove('following', user);
        return true;
    }

    async unfollow(user: string): Promise<void> {
        this.checkPeer(user);
        this.pending.delete(user);
        this.s.state.remove('following', user);
        await this.s.release(OWNERS.follow, [this.s.codec.moments(user)]);
    }

    block(user: string): Promise<Envelope> {
        this.checkPeer(user);
        this.s.state.add('blocked', user);
        return this.s.publish(this.s.codec.unsub(user, this.s.userId), { type: 'unsub', to: user });
    }

    /**
     * Lifts a block. The blocked user is told on the block notice's own topic, with `data.lifted`, and
     * forgets it was blocked; a broker that enforces blocks learns from the same notice that they may
     * follow again (only the blocker can send it: the topic's last level is the sender).
     */
    unblock(user: string): Promise<Envelope> {
        this.checkPeer(user);
        this.s.state.remove('blocked', user);
        return this.s.publish(this.s.codec.unsub(user, this.s.userId), { type: 'unsub', to: user, data: { lifted: true } });
    }

    /** The topics to hold at login. */
    topics(): string[] {
        return this.s.state.list('following').map((user) => this.s.codec.moments(user));
    }

    /** False for a post that should not be delivered (from someone no longer followed). */
    async receive(message: ImsMessage): Promise<boolean> {
        if (message.type === 'unsub' && message.data?.lifted === true) {
            this.s.state.remove('blockedBy', message.from);
            return true;
        }
        if (message.type === 'unsub') {
            this.s.state.add('blockedBy', message.from);
            // A follow still waiting for its SUBACK is cancelled too.
            if (this.s.state.has('following', message.from) || this.pending.has(message.from)) await this.unfollow(message.from);
            return true;
        }
        return this.s.state.has('following', message.from) || this.pending.has(message.from);
    }

    private checkPeer(user: string): void {
        assertId('user', user, this.s.codec.rules);
        if (user === this.s.userId) throw new ImsError(`${user} cannot follow or block itself`, 'IMS_SELF');
    }
}
