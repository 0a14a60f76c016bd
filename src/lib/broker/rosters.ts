// Keeps each group's retained member list ($IMS/groups/<group>, src/lib/groupRoster.ts) current: it is
// rewritten when a group is created, joined or left here, and all of them at start (a store may hold
// stale ones). Who may read a roster is the policy's business (members only, checked at every delivery).
// In a cluster only the instance where the change was made publishes; the retained store is shared.

import type { FactChange, PolicyFacts } from './facts';
import { encodeRoster, rosterTopic } from '../groupRoster';

/** Publishes a retained message as the broker itself (aedes.publish: no client, no authorization). */
export type RetainedPublisher = (topic: string, payload: Buffer) => Promise<void>;

export class GroupRosters {
    constructor(
        private readonly facts: PolicyFacts,
        private readonly publish: RetainedPublisher,
        private readonly onError: (error: Error) => void,
    ) {}

    /** Listens to the facts' changes, after whatever listens already (the store, the cluster). */
    attach(): void {
        const previous = this.facts.onChange;
        this.facts.onChange = (change) => {
            previous(change);
            this.changed(change);
        };
    }

    /** Rewrites every group's roster; an empty group's is cleared. */
    async publishAll(): Promise<void> {
        for (const group of this.facts.groupNames()) await this.publishRoster(group);
    }

    private changed(change: FactChange): void {
        if (change.op === 'create' || change.op === 'join' || change.op === 'leave') {
            this.publishRoster(change.group).catch(this.onError);
        }
    }

    private publishRoster(group: string): Promise<void> {
        const members = this.facts.membersOf(group);
        // An empty retained payload removes the retained message: a group nobody is in has no roster.
        const payload = members.length > 0 ? encodeRoster({ group, members }) : Buffer.alloc(0);
        return this.publish(rosterTopic(group), payload);
    }
}
