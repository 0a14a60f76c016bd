// Scenario 3: group chat on P/<group>/<member>; members subscribe P/<group>/#. Invitations go to the
// invitee's inbox (P/<to>/Inbox/Group/Invite/<from>) with the group in data.group.

import { Envelope, ImsMessage } from '../envelope';
import { assertId, idProblem, ImsError } from '../ids';
import { OWNERS, SessionContext } from './context';

export class Groups {
    /** Groups entered and not yet answered by the broker: their messages are delivered, nothing is recorded yet. */
    private readonly pending = new Set<string>();

    constructor(private readonly s: SessionContext) {}

    /** Creating and joining both make this account a member; joining also tells the group. */
    async create(group: string): Promise<void> {
        await this.enter(group);
    }

    /** Joins and tells the group; undefined (nothing sent) for a group this account is in: a no-op. */
    async join(group: string): Promise<Envelope | undefined> {
        assertId('group', group, this.s.codec.rules);
        if (this.s.state.has('groups', group)) return undefined;
        await this.enter(group);
        return this.s.publish(this.s.codec.groupMessage(group, this.s.userId), { type: 'group.join', data: { group } });
    }

    /** Delivery stops at once (not when the broker acknowledges the leave); then the group is told. */
    async leave(group: string): Promise<Envelope> {
        this.checkMember(group);
        this.s.state.remove('groups', group);
        try {
            return await this.s.publish(this.s.codec.groupMessage(group, this.s.userId), { type: 'group.leave', data: { group } });
        } finally {
            await this.s.release(OWNERS.group, [this.s.codec.groupFilter(group)]);
        }
    }

    /** The broker refused `topic`: if it was a group's, the membership is forgotten. True when it was one. */
    refused(topic: string): boolean {
        const group = this.s.state.list('groups').find((g) => this.s.codec.groupFilter(g) === topic);
        if (group === undefined) return false;
        this.s.state.remove('groups', group);
        return true;
    }

    /** One invitation per user; returns what was sent. */
    async invite(group: string, users: string[]): Promise<Envelope[]> {
        this.checkMember(group);
        if (users.length === 0) throw new ImsError('Nobody to invite: give one or more user IDs', 'IMS_NO_RECIPIENT');
        for (const user of users) assertId('user', user, this.s.codec.rules);
        const sent: Envelope[] = [];
        for (const user of users) {
            sent.push(
                await this.s.publish(this.s.codec.groupInvite(user, this.s.userId), { type: 'group.invite', to: user, data: { group } }),
            );
        }
        return sent;
    }

    say(group: string, text?: string, data?: Record<string, unknown>): Promise<Envelope> {
        this.checkMember(group);
        return this.s.publish(this.s.codec.groupMessage(group, this.s.userId), { type: 'group.message', text, data });
    }

    topics(): string[] {
        return this.s.state.list('groups').map((group) => this.s.codec.groupFilter(group));
    }

    /**
     * Checks an invitation's group (and sets message.group from it); false for traffic of a group this
     * account has left.
     */
    receive(message: ImsMessage): boolean {
        if (message.type === 'group.invite') {
            const group = message.data?.group;
            const problem = idProblem('group', group, this.s.codec.rules);
            if (problem) throw new ImsError(`Malformed invitation from ${message.from}: ${problem}`, 'IMS_MALFORMED');
            message.group = group as string;
            return true;
        }
        return message.group !== undefined && (this.s.state.has('groups', message.group) || this.pending.has(message.group));
    }

    /** Membership is recorded once the broker grants the group's subscription; a refusal records nothing. */
    private async enter(group: string): Promise<void> {
        assertId('group', group, this.s.codec.rules);
        this.pending.add(group);
        try {
            await this.s.hold(OWNERS.group, [this.s.codec.groupFilter(group)]);
            if (this.pending.has(group)) this.s.state.add('groups', group);
        } finally {
            this.pending.delete(group);
        }
    }

    /** A member, or about to be one (its SUBACK on the way): it may speak and invite already. */
    private checkMember(group: string): void {
        assertId('group', group, this.s.codec.rules);
        if (!this.s.state.has('groups', group) && !this.pending.has(group)) {
            throw new ImsError(`${this.s.userId} is not a member of ${group}`, 'IMS_NOT_MEMBER');
        }
    }
}
