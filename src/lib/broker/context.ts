// What the broker's parts share: the aedes instance, the rules, what the policy knows, the limits,
// and one way to report a refusal.

import type { Aedes } from 'aedes' with { 'resolution-mode': 'import' };
import type { TopicCodec } from '../topics';
import type { ClientBindings } from './bindings';
import type { BrokerLimits } from './limits';
import type { HistoryService } from './history';
import type { ClientInternals } from './aedesAdapter';
import type { LoginThrottle } from './loginThrottle';
import type { PasswordCheck } from './passwords';
import type { BrokerPolicy } from './policy';
import type { ServerDelivery } from './serverDelivery';

export interface BrokerAccount {
    user: string;
    /** A salted hash of the password (passwords.ts); what the node's settings keep. */
    passwordHash?: string;
    /** The password itself: flows saved before hashes, and accounts added from a flow. */
    password?: string;
    system?: boolean;
    attributes?: Record<string, string>;
}

/** A connection, publish, subscription, will or delivery the broker refused, for the node's output. */
export interface Refusal {
    user: string;
    clientId: string;
    action: 'connect' | 'publish' | 'subscribe' | 'will' | 'limit' | 'store';
    topic: string;
    reason: string;
    /** How many refusals of this user were held back before this one (at most 20 per 10 s are reported). */
    suppressed?: number;
}

/** The security part, present only when the IM rules are enforced. */
export interface SecuredContext {
    policy: BrokerPolicy;
    bindings: ClientBindings;
    /** Every open connection of each user, whatever its Client ID (an account change ends them all). */
    live: Map<string, Set<ClientInternals>>;
    throttle: LoginThrottle;
    accounts: Map<string, BrokerAccount>;
    passwords: PasswordCheck;
    mqSemantics: boolean;
    groupIds: string[];
}

export interface BrokerContext {
    aedes: Aedes;
    /** Subscriptions beyond a SUBSCRIBE packet's allowance (filtersPerSubscribe): refused. */
    excessFilters: WeakSet<object>;
    codec: TopicCodec;
    limits: BrokerLimits;
    delivery: ServerDelivery;
    secured: SecuredContext | undefined;
    /** The history service, when the broker keeps history (secured, historyPerConversation > 0). */
    history?: HistoryService;
    /** The single user name and password of an open broker, if set. */
    login: { username?: string; password?: string };
    refuse(refusal: Refusal): void;
    /** Removes these subscriptions from every device of `user`, connected or not. */
    unsubscribeUser(user: string, topics: string[]): void;
    virtualGroupExpanded(expansion: { sender: string; name: string; members: number }): void;
}
