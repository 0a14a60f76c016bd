// What the embedded broker allows, on the seed's topic layout. The seed trusts every client; this does
// not: a client publishes only as itself and subscribes only what is its own (inbox, p2p, its region,
// groups it belongs to, moments and presence of users who have not blocked it). It fails closed:
// anything under the parent topic that is not one of these is refused. The policy learns blocks,
// invitations, group membership and friendships from the traffic it authorizes.

import { ParsedTopic, TopicCodec } from './topics';

/** Who a connection is: the account that logged it in and its device. */
export interface BrokerIdentity {
    user: string;
    clientId: string;
    /** System accounts may publish regional pushes (P/System/#). */
    system: boolean;
    /** Attributes registered for the account, e.g. region. */
    attributes: Record<string, string>;
}

export interface PolicyState {
    blocks?: Record<string, string[]>;
    friends?: Record<string, string[]>;
    groups?: Record<string, { members: string[]; invited: string[] }>;
}

export type Decision = { ok: true } | { ok: false; reason: string };

/** What the broker must do after a publish it allowed. */
export interface PolicyEffect {
    /** Remove these subscriptions of every device of `user` (a block). */
    unsubscribe?: { user: string; topics: string[] };
}

const ALLOW: Decision = { ok: true };
const refuse = (reason: string): Decision => ({ ok: false, reason });

interface GroupState {
    members: Set<string>;
    invited: Set<string>;
}

export class BrokerPolicy {
    /** blocker → users it blocked */
    private readonly blocks = new Map<string, Set<string>>();
    private readonly groups = new Map<string, GroupState>();
    private readonly friends = new Map<string, Set<string>>();

    /** Called after the learned state changes, so a store can save it. */
    onChange: () => void = () => undefined;

    constructor(
        readonly codec: TopicCodec,
        private readonly options: { mqSemantics?: boolean } = {},
    ) {}

    /** What the policy learned (blocks, groups, friendships), as plain JSON for a store. */
    toJSON(): PolicyState {
        const lists = (map: Map<string, Set<string>>): Record<string, string[]> =>
            Object.fromEntries([...map].map(([k, v]) => [k, [...v]]));
        return {
            blocks: lists(this.blocks),
            friends: lists(this.friends),
            groups: Object.fromEntries([...this.groups].map(([g, s]) => [g, { members: [...s.members], invited: [...s.invited] }])),
        };
    }

    /** Restores what toJSON saved. */
    load(state: PolicyState | undefined): void {
        if (!state) return;
        const sets = (record: Record<string, string[]> | undefined, map: Map<string, Set<string>>): void => {
            for (const [k, v] of Object.entries(record ?? {})) map.set(k, new Set(v));
        };
        sets(state.blocks, this.blocks);
        sets(state.friends, this.friends);
        for (const [g, s] of Object.entries(state.groups ?? {}))
            this.groups.set(g, { members: new Set(s.members), invited: new Set(s.invited) });
    }

    /** `parsed`: the topic as the caller already parsed it (the broker parses each publish once). */
    canPublish(id: BrokerIdentity, topic: string, payload?: Buffer, parsed: ParsedTopic | null = this.codec.parse(topic)): Decision {
        const P = this.codec.parentTopic;
        const levels = topic.split('/');
        if (levels[0] !== P) {
            return this.options.mqSemantics ? refuse(`"${levels[0]}" is not a parent topic of this broker`) : ALLOW;
        }
        if (!parsed) return refuse(`${topic} is not a topic of the IM layout`);
        switch (parsed.kind) {
            case 'system':
                return id.system ? ALLOW : refuse(`only system accounts publish ${P}/System/#`);
            case 'p2p': {
                const claimed = envelopeSender(payload);
                return claimed === undefined || claimed === id.user
                    ? ALLOW
                    : refuse(`p2p payload claims "${claimed}" but the sender is ${id.user}`);
            }
            case 'group':
                if (parsed.from !== id.user) return refuse(`${id.user} may speak in ${parsed.group} only as ${id.user}`);
                return this.isMember(parsed.group as string, id.user) ? ALLOW : refuse(`${id.user} is not a member of ${parsed.group}`);
            default:
                // Inbox messages, moments and presence: the sender level must be the publisher.
                return parsed.from === id.user ? ALLOW : refuse(`${id.user} may not publish as ${parsed.from}`);
        }
    }

    canSubscribe(id: BrokerIdentity, filter: string): Decision {
        const P = this.codec.parentTopic;
        const levels = filter.split('/');
        const first = levels[0];
        if (first === '#' || first === '+') return refuse(`${filter} would cover every user's inbox`);
        if (first !== P) return this.options.mqSemantics ? refuse(`"${first}" is not a parent topic of this broker`) : ALLOW;
        const [, second, ...rest] = levels;
        if (second === undefined || second === '#' || second === '+') return refuse(`${filter} would cover every user's inbox`);
        if (second === 'p2p') {
            return rest.length === 1 && rest[0] === id.clientId
                ? ALLOW
                : refuse(`a device subscribes only its own p2p topic ${P}/p2p/${id.clientId}`);
        }
        if (second === 'System') {
            if (id.system) return ALLOW;
            const region = id.attributes.region;
            return rest.length === 1 && region !== undefined && rest[0] === region
                ? ALLOW
                : refuse(
                      `${id.user} subscribes only its region's system topic${region ? ` ${P}/System/${region}` : ' (no region registered)'}`,
                  );
        }
        if (this.isGroupId(second)) return this.subscribeGroup(id, second, rest);
        if (!this.isUserId(second)) return refuse(`${filter} is not a topic of the IM layout`);
        if (second === id.user) return ALLOW; // its own namespace: inbox, moments, presence
        if (rest.length === 0 || (rest.length === 1 && rest[0] === 'Presence')) {
            return this.blocks.get(second)?.has(id.user) ? refuse(`${second} has blocked ${id.user}`) : ALLOW;
        }
        return refuse(`${id.user} may not subscribe ${filter}: it reaches ${second}'s inbox`);
    }

    /** Learns from a publish that was allowed; returns what the broker must do about it. */
    observe(id: BrokerIdentity, topic: string, payload?: Buffer, parsed: ParsedTopic | null = this.codec.parse(topic)): PolicyEffect {
        if (!parsed) return {};
        const P = this.codec.parentTopic;
        if (parsed.kind === 'unsub' && parsed.to) {
            this.setOf(this.blocks, id.user).add(parsed.to);
            this.onChange();
            return { unsubscribe: { user: parsed.to, topics: [`${P}/${id.user}`, `${P}/${id.user}/Presence`] } };
        }
        // Only these carry something to learn in their payload; a chat is never parsed here.
        if (parsed.kind !== 'group.invite' && parsed.kind !== 'group' && parsed.kind !== 'friend.response') return {};
        const body = envelope(payload);
        if (parsed.kind === 'group.invite' && parsed.to && typeof body?.data?.group === 'string' && this.isGroupId(body.data.group)) {
            const group = this.groups.get(body.data.group);
            if (group?.members.has(id.user)) {
                group.invited.add(parsed.to);
                this.onChange();
            }
        }
        if (parsed.kind === 'group' && body?.type === 'group.leave' && this.groups.get(parsed.group as string)?.members.delete(id.user))
            this.onChange();
        if (parsed.kind === 'friend.response' && parsed.to && body?.data?.accepted === true) {
            this.setOf(this.friends, id.user).add(parsed.to);
            this.setOf(this.friends, parsed.to).add(id.user);
            this.onChange();
        }
        return {};
    }

    /** B unblocks A: A may follow B again. */
    unblock(blocker: string, blocked: string): void {
        if (this.blocks.get(blocker)?.delete(blocked)) this.onChange();
    }

    friendsOf(user: string): string[] {
        return [...(this.friends.get(user) ?? [])].sort();
    }

    isMember(group: string, user: string): boolean {
        return this.groups.get(group)?.members.has(user) ?? false;
    }

    /** A group's topics: the first subscriber creates it; after that, members and the invited. */
    private subscribeGroup(id: BrokerIdentity, group: string, rest: string[]): Decision {
        const P = this.codec.parentTopic;
        if (!(rest.length === 1 && (rest[0] === '#' || rest[0] === '+' || this.isUserId(rest[0])))) {
            return refuse(`subscribe ${P}/${group}/# to follow ${group}`);
        }
        let state = this.groups.get(group);
        if (!state) {
            state = { members: new Set([id.user]), invited: new Set() };
            this.groups.set(group, state);
            this.onChange();
        }
        if (state.invited.delete(id.user)) {
            state.members.add(id.user);
            this.onChange();
        }
        return state.members.has(id.user) ? ALLOW : refuse(`${id.user} is not a member of ${group} and was not invited`);
    }

    private isGroupId(value: string): boolean {
        return this.codec.isId('group', value);
    }

    private isUserId(value: string): boolean {
        return this.codec.isId('user', value);
    }

    private setOf(map: Map<string, Set<string>>, key: string): Set<string> {
        let set = map.get(key);
        if (!set) map.set(key, (set = new Set()));
        return set;
    }
}

interface LooseEnvelope {
    from?: unknown;
    type?: unknown;
    data?: Record<string, unknown>;
}

/** The payload as an envelope when it is one; the broker reads it only to learn and to check p2p senders. */
function envelope(payload?: Buffer): LooseEnvelope | undefined {
    if (!payload || payload.length === 0 || payload[0] !== 0x7b) return undefined; // '{'
    try {
        const value = JSON.parse(payload.toString('utf8')) as unknown;
        return value && typeof value === 'object' && !Array.isArray(value) ? (value as LooseEnvelope) : undefined;
    } catch {
        return undefined;
    }
}

function envelopeSender(payload?: Buffer): string | undefined {
    const from = envelope(payload)?.from;
    return typeof from === 'string' ? from : undefined;
}
