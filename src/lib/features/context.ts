// What a feature (friends, moments, groups, broadcast, presence) may use of its session.

import type { AccountState } from '../accountState';
import type { Capabilities } from '../capabilities';
import type { QoS } from '../connection';
import type { Envelope, NewMessage } from '../envelope';
import type { TopicCodec } from '../topics';

export interface SessionContext {
    readonly userId: string;
    readonly codec: TopicCodec;
    readonly state: AccountState;
    publish(topic: string, fields: Omit<NewMessage, 'from'>, options?: { retain?: boolean; qos?: QoS }): Promise<Envelope>;
    hold(owner: string, topics: string[]): Promise<void>;
    release(owner: string, topics: string[]): Promise<void>;
    /** What the broker offers (virtual groups...), learned at login; plain MQTT when it says nothing. */
    capabilities(): Promise<Capabilities>;
}

/** Subscription owners, one per feature, so one feature letting go never drops another's topic. */
export const OWNERS = Object.freeze({
    session: 'ims:session',
    follow: 'ims:follow',
    group: 'ims:group',
    region: 'ims:region',
    presence: 'ims:presence',
    capabilities: 'ims:capabilities',
});
