// Scenario 4 (greetings: one inbox publish per friend, paced) and scenario 5 (regional system push on
// P/System/<region>, which users subscribe for their own region).

import { Envelope, ImsMessage } from '../envelope';
import { assertId, ImsError } from '../ids';
import { PacedResult, sendPaced } from '../pacing';
import { OWNERS, SessionContext } from './context';

export const DEFAULT_GREETINGS_PER_SECOND = 20;

export class Broadcast {
    /** `virtualGroups`: the broker (ims-broker) expands one publish to every member's inbox. */
    constructor(
        private readonly s: SessionContext,
        private readonly configuredRegion: string | undefined,
        private readonly virtualGroups = false,
    ) {}

    /** The region in force: one set at run time wins over the configured one. */
    get region(): string | undefined {
        return this.s.state.region ?? this.configuredRegion;
    }

    /** Greets each of `recipients` (every friend when none are given) in its inbox, paced. */
    async greet(
        text: string | undefined,
        data: Record<string, unknown> | undefined,
        recipients: string[] | undefined,
        perSecond: number = DEFAULT_GREETINGS_PER_SECOND,
        onProgress?: (done: number, total: number) => void,
    ): Promise<PacedResult<string>> {
        const list = recipients ?? this.s.state.list('friends');
        if (list.length === 0) throw new ImsError(`${this.s.userId} has nobody to greet: no friends and no list given`, 'IMS_NO_RECIPIENT');
        for (const user of list) assertId('user', user, this.s.codec.rules);
        const members = [...new Set(list)];
        if (this.virtualGroups) {
            // One publish; the broker delivers it to each member's inbox as P/<member>/Inbox/Chat/<me>.
            await this.s.publish(this.s.codec.virtualGroup(this.s.userId, recipients ? 'list' : 'friends'), {
                type: 'greeting',
                text,
                data: { ...data, members },
            });
            onProgress?.(members.length, members.length);
            return { ok: members, failed: [] };
        }
        return sendPaced(
            [...new Set(list)],
            perSecond,
            (to) => this.s.publish(this.s.codec.chat(to, this.s.userId), { type: 'greeting', to, text, data }),
            onProgress,
        );
    }

    /** A system push to every user of `region`. */
    push(region: string, text?: string, data?: Record<string, unknown>): Promise<Envelope> {
        return this.s.publish(this.s.codec.system(region), { type: 'system', text, data });
    }

    /** Moves this account to another region: the old region's pushes stop, the new one's arrive. */
    async setRegion(region: string): Promise<void> {
        assertId('region', region, this.s.codec.rules);
        const old = this.region;
        if (old === region) return;
        this.s.state.region = region;
        await this.s.hold(OWNERS.region, [this.s.codec.system(region)]);
        if (old) await this.s.release(OWNERS.region, [this.s.codec.system(old)]);
    }

    topics(): string[] {
        return this.region ? [this.s.codec.system(this.region)] : [];
    }

    /** Only the current region's pushes: a persistent session may still hold an old region's topic. */
    receive(message: ImsMessage): boolean {
        return message.region !== undefined && message.region === this.region;
    }
}
