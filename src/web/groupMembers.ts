// Who is in each group, from the secured broker's retained member lists ($IMS/groups/<group>,
// src/lib/groupRoster.ts), for the groups this account is in. On a broker that keeps none (plain MQTT,
// learned from $IMS/capabilities) nothing is subscribed, and the client goes by the members it has
// seen join or speak.

import { decodeRoster, groupOfRosterTopic, rosterTopic } from '../lib/groupRoster';
import type { ImsSession } from '../lib/session';

const OWNER = 'web:group-members';

export class GroupMembers {
    private readonly rosters = new Map<string, string[]>();

    constructor(
        private readonly session: ImsSession,
        private readonly changed: () => void,
    ) {
        session.connection.on('message', (topic: string, payload: Buffer) => this.receive(topic, payload));
    }

    /** The broker's list for `group`, or undefined when it has sent none. */
    of(group: string): string[] | undefined {
        return this.rosters.get(group);
    }

    /** Reads the lists of every group this account is in (at sign-in, and after a create or a join). */
    async watch(groups: readonly string[] = this.session.state.list('groups')): Promise<void> {
        if (groups.length === 0 || !(await this.session.capabilities()).secured) return;
        // Optional: a broker that refuses it (no member yet, or no such topic) is no error.
        await this.session.connection.subscribe(OWNER, groups.map(rosterTopic), 0, { optional: true }).catch(() => undefined);
    }

    async forget(group: string): Promise<void> {
        this.rosters.delete(group);
        await this.session.connection.unsubscribe(OWNER, [rosterTopic(group)]).catch(() => undefined);
    }

    private receive(topic: string, payload: Buffer): void {
        const group = groupOfRosterTopic(topic);
        if (group === undefined) return;
        const roster = payload.length > 0 ? decodeRoster(payload) : undefined;
        if (roster && roster.group === group) this.rosters.set(group, roster.members);
        else this.rosters.delete(group);
        this.changed();
    }
}
