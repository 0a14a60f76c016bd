// Scenario 1: friend requests and answers through inboxes (GFReq / GFResp). A friendship starts when
// the one who was asked accepts; an answer nobody asked for is refused.

import { Envelope, ImsMessage } from '../envelope';
import { assertId, ImsError } from '../ids';
import { SessionContext } from './context';

export class Friends {
    constructor(
        private readonly s: SessionContext,
        private readonly onFriendsChanged: (user: string, added: boolean) => Promise<void>,
    ) {}

    /** Asks `to`; undefined (nothing sent) when `to` is already a friend: asking again is a no-op. */
    async request(to: string, text?: string): Promise<Envelope | undefined> {
        this.checkPeer(to);
        if (this.s.state.has('friends', to)) return undefined;
        this.s.state.add('requestsOut', to);
        return this.s.publish(this.s.codec.friendRequest(to, this.s.userId), { type: 'friend.request', to, text });
    }

    /**
     * Answers `to`'s request. Accepting someone who is already a friend with nothing pending sends
     * nothing (undefined), so several auto-accepting nodes answer once.
     */
    async respond(to: string, accepted: boolean, text?: string): Promise<Envelope | undefined> {
        this.checkPeer(to);
        const pending = this.s.state.remove('requestsIn', to);
        if (accepted && !pending && this.s.state.has('friends', to)) return undefined;
        if (accepted && this.s.state.add('friends', to)) await this.onFriendsChanged(to, true);
        return this.s.publish(this.s.codec.friendResponse(to, this.s.userId), { type: 'friend.response', to, text, data: { accepted } });
    }

    async remove(user: string): Promise<void> {
        this.checkPeer(user);
        this.s.state.remove('requestsOut', user);
        this.s.state.remove('requestsIn', user);
        if (this.s.state.remove('friends', user)) await this.onFriendsChanged(user, false);
    }

    /** Updates the lists for a received request or answer; throws for an answer that was never asked for. */
    async receive(message: ImsMessage): Promise<void> {
        if (message.type === 'friend.request') {
            this.s.state.add('requestsIn', message.from);
            return;
        }
        if (!this.s.state.remove('requestsOut', message.from)) {
            throw new ImsError(`Friend response from ${message.from}, who was never asked by ${this.s.userId}`, 'IMS_UNEXPECTED');
        }
        if (message.data?.accepted === true && this.s.state.add('friends', message.from)) {
            await this.onFriendsChanged(message.from, true);
        }
    }

    private checkPeer(user: string): void {
        assertId('user', user, this.s.codec.rules);
        if (user === this.s.userId) throw new ImsError(`${user} cannot befriend itself`, 'IMS_SELF');
    }
}
