// Scenario 3: group chat on P/<group>/<member>; members subscribe P/<group>/#. Invitations go to the
// invitee's inbox (P/<to>/Inbox/Group/Invite/<from>) with the group in data.group.

import { Envelope, ImsMessage } from '../envelope';
import { assertId, idProblem, ImsError } from '../ids';
import { OWNERS, SessionContext } from './context';

export class Groups {
    constructor(private readonly s: SessionContext) {}

    /** Creating and joining both make this account a member; joining also tells the group. */
    async create(group: string): Promise<void> {
        await this.enter(group);
    }

    async join(group: string): Promise<Envelope> {
        await this.enter(group);
        return this.s.publish(this.s.codec.groupMessage(group, this.s.userId), { type: 'group.join', data: { group } });
    }

    async leave(group: string): Promise<Envelope> {
        this.checkMember(group);
        const sent = await this.s.publish(this.s.codec.groupMessage(group, this.s.userId), { type: 'group.leave', data: { group } });
        this.s.state.remove('groups', group);
        await this.s.release(OWNERS.group, [this.s.codec.groupFilter(group)]);
        return sent;
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
        return message.group !== undefined && this.s.state.has('groups', message.group);
    }

    private async enter(group: string): Promise<void> {
        assertId('group', group, this.s.codec.rules);
        this.s.state.add('groups', group);
        await this.s.hold(OWNERS.group, [this.s.codec.groupFilter(group)]);
    }

    private checkMember(group: string): void {
        assertId('group', group, this.s.codec.rules);
        if (!this.s.state.has('groups', group)) {
            throw new ImsError(`${this.s.userId} is not a member of ${group}`, 'IMS_NOT_MEMBER');
        }
    }
}
