// Scenario 4 (greetings: one inbox publish per friend, paced) and scenario 5 (regional system push on
// P/System/<region>, which users subscribe for their own region).

import { Envelope, ImsMessage } from '../envelope';
import { assertId, ImsError } from '../ids';
import { PacedResult, sendPaced } from '../pacing';
import { OWNERS, SessionContext } from './context';

export const DEFAULT_GREETINGS_PER_SECOND = 20;

export class Broadcast {
    /** A region being moved to, until the broker grants its topic: its pushes are delivered already. */
    private pendingRegion: string | undefined;

    constructor(
        private readonly s: SessionContext,
        private readonly configuredRegion: string | undefined,
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
        if ((await this.s.capabilities()).virtualGroups) {
            // One publish, only where the broker announced virtual groups: it delivers the greeting to
            // each member's inbox as P/<member>/Inbox/Chat/<me>. Elsewhere it would reach nobody.
            try {
                await this.s.publish(this.s.codec.virtualGroup(this.s.userId, recipients ? 'list' : 'friends'), {
                    type: 'greeting',
                    text,
                    data: { ...data, members },
                });
            } catch (error) {
                return { ok: [], failed: members.map((item) => ({ item, error: error as Error })) };
            } finally {
                onProgress?.(members.length, members.length);
            }
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
        // The new region counts once the broker grants its topic; until then both regions' pushes arrive.
        this.pendingRegion = region;
        try {
            await this.s.hold(OWNERS.region, [this.s.codec.system(region)]);
            if (this.pendingRegion === region) this.s.state.region = region;
        } finally {
            if (this.pendingRegion === region) this.pendingRegion = undefined;
        }
        if (old) await this.s.release(OWNERS.region, [this.s.codec.system(old)]);
    }

    /** The broker refused `topic`: if it was the region's, the account has no region any more. */
    refused(topic: string): boolean {
        const region = this.region;
        if (region === undefined || this.s.codec.system(region) !== topic) return false;
        this.s.state.region = undefined;
        return true;
    }

    topics(): string[] {
        return this.region ? [this.s.codec.system(this.region)] : [];
    }

    /** Only the current region's pushes: a persistent session may still hold an old region's topic. */
    receive(message: ImsMessage): boolean {
        return message.region !== undefined && (message.region === this.region || message.region === this.pendingRegion);
    }
}

/**
 * What a greeting's report can truthfully say: `published` (the broker took the publish: MQTT says no
 * more than that, and offers no delivery receipts), `refused` (the broker answered with an MQTT 5 reason
 * code of 0x80 or more) and `failed` (no answer: not connected, timed out).
 */
export function greetingReport(
    published: string[],
    failures: { item: string; error: Error & { code?: unknown } }[],
): { published: string[]; refused: { user: string; error: string }[]; failed: { user: string; error: string }[] } {
    const refusal = (error: Error & { code?: unknown }): boolean => typeof error.code === 'number' && error.code >= 0x80;
    const entry = ({ item, error }: { item: string; error: Error }): { user: string; error: string } => ({
        user: item,
        error: error.message,
    });
    return {
        published: [...published].sort(),
        refused: failures.filter((f) => refusal(f.error)).map(entry),
        failed: failures.filter((f) => !refusal(f.error)).map(entry),
    };
}
