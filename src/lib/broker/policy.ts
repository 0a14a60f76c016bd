// What the embedded broker allows, on the seed's topic layout. The seed trusts every client; this does
// not: a client publishes only as itself and subscribes only what is its own (inbox, p2p, its region,
// groups it belongs to, moments and presence of users who have not blocked it). It fails closed:
// anything under the parent topic that is not one of these is refused. The same rules decide, for
// every message at the moment it is delivered, whether its reader may read it now (canRead): that is
// what closes the paths around subscribe-time checks (stored sessions, queued messages, races, wills).
// The policy learns blocks, invitations, group membership and friendships from the traffic it
// authorizes, reading payloads with the same decoder as the clients (one rule for every message form).

import { AttachmentError } from '../attachments';
import { REFUSAL_SENDER } from '../brokerRefusal';
import { decodeMessage, ImsMessage } from '../envelope';
import { LEVELS, ParsedTopic, TopicCodec } from '../topics';
import { PolicyFacts } from './facts';
import { CAPABILITIES_TOPIC } from '../capabilities';
import { groupOfRosterTopic, ROSTER_PREFIX, rosterTopic } from '../groupRoster';

/** Who a connection is: the account that logged it in and its device. */
export interface BrokerIdentity {
    user: string;
    clientId: string;
    /** System accounts may publish regional pushes (P/System/#) and read $SYS. */
    system: boolean;
    /** Attributes registered for the account, e.g. region. */
    attributes: Record<string, string>;
}

/**
 * A refusal with a `code` is one the sender is told about (src/lib/brokerRefusal.ts): it concerns what
 * the message carries, which the sender's own check would have caught, so the answer names the message.
 */
export type Decision = { ok: true } | { ok: false; reason: string; code?: string; target?: string };

/** What the broker must do after a publish it allowed. */
export interface PolicyEffect {
    /** Remove these subscriptions of every device of `user` (a block, a group left). */
    unsubscribe?: { user: string; topics: string[] };
}

const ALLOW: Decision = { ok: true };
const refuse = (reason: string): Decision => ({ ok: false, reason });

/** The only `$` topic a client may read: what the broker offers (see broker.ts). */
export { CAPABILITIES_TOPIC };

export const SHARE_PREFIX = '$share/';

/** `$share/<group>/<filter>` split, or undefined when it is not a well-formed shared subscription. */
export function parseShared(filter: string): { group: string; filter: string } | undefined {
    if (!filter.startsWith(SHARE_PREFIX)) return undefined;
    const rest = filter.slice(SHARE_PREFIX.length);
    const slash = rest.indexOf('/');
    const group = slash > 0 ? rest.slice(0, slash) : '';
    const inner = rest.slice(slash + 1);
    if (!group || /[+#]/.test(group) || slash < 0 || !inner) return undefined;
    return { group, filter: inner };
}

const MAX_CACHED_TOPIC = 256;

export class BrokerPolicy {
    /** Parsed topics by name: delivery-time checks see the same few topics again and again. */
    private readonly parsedCache = new Map<string, ParsedTopic | null>();

    constructor(
        readonly codec: TopicCodec,
        readonly facts: PolicyFacts,
        private readonly options: { mqSemantics?: boolean; isAccount?: (user: string) => boolean; groupsPerUser?: number } = {},
    ) {}

    /** Facts are learned only about users that exist: made-up names would grow the store for nothing. */
    private isAccount(user: string | undefined): boolean {
        return user !== undefined && (this.options.isAccount?.(user) ?? true);
    }

    /** `parsed`: the topic as the caller already parsed it (the broker parses each publish once). */
    canPublish(id: BrokerIdentity, topic: string, payload?: Buffer, parsed: ParsedTopic | null = this.parse(topic)): Decision {
        const P = this.codec.parentTopic;
        const first = firstLevel(topic);
        if (first.startsWith('$')) return refuse(`${topic} is reserved`);
        if (first !== P) {
            return this.options.mqSemantics ? refuse(`"${first}" is not a parent topic of this broker`) : ALLOW;
        }
        if (!parsed) return refuse(`${topic} is not a topic of the IM layout`);
        switch (parsed.kind) {
            case 'system':
                return id.system ? ALLOW : refuse(`only system accounts publish ${P}/System/#`);
            case 'p2p': {
                const message = this.read(payload, parsed);
                const claimed = message?.from;
                if (message?.type === 'refusal' || claimed === REFUSAL_SENDER)
                    return refuse(`only the broker sends ${REFUSAL_SENDER} refusals`);
                return claimed === undefined || claimed === id.user
                    ? this.checkCarried(payload, parsed)
                    : refuse(`p2p payload claims "${claimed}" but the sender is ${id.user}`);
            }
            case 'history.response':
            case 'history.sync':
                return refuse(`only the broker publishes ${topic}`);
            case 'group':
                if (parsed.from !== id.user) return refuse(`${id.user} may speak in ${parsed.group} only as ${id.user}`);
                return this.facts.isMember(parsed.group as string, id.user)
                    ? this.checkCarried(payload, parsed)
                    : refuse(`${id.user} is not a member of ${parsed.group}`);
            default:
                // Inbox messages, moments and presence: the sender level must be the publisher.
                return parsed.from === id.user
                    ? this.checkCarried(payload, parsed)
                    : refuse(`${id.user} may not publish as ${parsed.from}`);
        }
    }

    /**
     * Pictures and files (src/lib/attachments.ts): a chat or group message whose attachment is too
     * large, of a refused type, disguised or malformed is refused, with the code its sender is told.
     * Other payloads are not decoded here: only one that may hold an attachment key (also an escaped one).
     */
    private checkCarried(payload: Buffer | undefined, parsed: ParsedTopic): Decision {
        if (!payload || !CARRIER_TOPICS.has(parsed.kind)) return ALLOW;
        if (!payload.includes(ATTACHMENT_KEY) && !payload.includes(JSON_ESCAPE)) return ALLOW;
        try {
            decodeMessage(payload, parsed, Number.MAX_SAFE_INTEGER);
            return ALLOW;
        } catch (error) {
            if (!(error instanceof AttachmentError)) return ALLOW; // not the broker's business (receivers refuse it)
            return { ok: false, reason: error.message, code: error.code, target: messageIdOf(payload) };
        }
    }

    /**
     * Only presence is kept as a retained message under the parent topic; outside it, only system
     * accounts may retain (anyone else could fill the broker's store with retained messages).
     */
    mayRetain(id: BrokerIdentity, topic: string, parsed: ParsedTopic | null = this.parse(topic)): boolean {
        return firstLevel(topic) === this.codec.parentTopic ? parsed?.kind === 'presence' : id.system;
    }

    canSubscribe(id: BrokerIdentity, filter: string): Decision {
        const P = this.codec.parentTopic;
        const levels = filter.split('/');
        const first = levels[0];
        if (filter === CAPABILITIES_TOPIC) return ALLOW;
        if (filter.startsWith(ROSTER_PREFIX)) return this.subscribeRoster(id, filter);
        if (filter.startsWith(SHARE_PREFIX)) {
            // One of the user's own group of devices takes each message: the filter inside must be readable as such.
            const shared = parseShared(filter);
            return shared ? this.canSubscribe(id, shared.filter) : refuse(`${filter} is not $share/<group>/<filter>`);
        }
        if (first.startsWith('$')) {
            return id.system && first === '$SYS' ? ALLOW : refuse(`${filter} is reserved for the broker's system accounts`);
        }
        if (first === '#' || first === '+') return refuse(`${filter} would cover every user's inbox`);
        if (first !== P) return this.options.mqSemantics ? refuse(`"${first}" is not a parent topic of this broker`) : ALLOW;
        const [, second, ...rest] = levels;
        if (second === undefined || second === '#' || second === '+') return refuse(`${filter} would cover every user's inbox`);
        if (second === LEVELS.p2p) {
            return rest.length === 1 && rest[0] === id.clientId
                ? ALLOW
                : refuse(`a device subscribes only its own p2p topic ${P}/p2p/${id.clientId}`);
        }
        if (second === LEVELS.system) {
            if (id.system) return ALLOW;
            const region = id.attributes.region;
            return rest.length === 1 && region !== undefined && rest[0] === region
                ? ALLOW
                : refuse(
                      `${id.user} subscribes only its region's system topic${region ? ` ${P}/System/${region}` : ' (no region registered)'}`,
                  );
        }
        if (this.codec.isId('group', second)) return this.subscribeGroup(id, second, rest);
        if (!this.codec.isId('user', second)) return refuse(`${filter} is not a topic of the IM layout`);
        if (second === id.user) return ALLOW; // its own namespace: inbox, moments, presence
        if (rest.length === 0 || (rest.length === 1 && rest[0] === LEVELS.presence)) {
            return this.facts.isBlocked(second, id.user) ? refuse(`${second} has blocked ${id.user}`) : ALLOW;
        }
        return refuse(`${id.user} may not subscribe ${filter}: it reaches ${second}'s inbox`);
    }

    /**
     * May this reader read this message now? Asked for every delivery: live, queued for an offline
     * session, restored, retained, a will, or pushed by the broker itself.
     */
    canRead(id: BrokerIdentity, topic: string): boolean {
        const first = firstLevel(topic);
        if (first !== this.codec.parentTopic) {
            if (topic === CAPABILITIES_TOPIC) return true;
            const rosterOf = groupOfRosterTopic(topic);
            if (rosterOf !== undefined) return this.facts.isMember(rosterOf, id.user);
            if (first.startsWith('$')) return id.system && first === '$SYS';
            return !this.options.mqSemantics;
        }
        const parsed = this.parse(topic);
        if (!parsed) return false;
        switch (parsed.kind) {
            case 'friend.request':
            case 'friend.response':
            case 'chat':
            case 'unsub':
            case 'group.invite':
                return parsed.to === id.user;
            case 'p2p':
                return parsed.clientId === id.clientId;
            case 'moment':
            case 'presence':
                return parsed.from === id.user || !this.facts.isBlocked(parsed.from as string, id.user);
            case 'group':
                return this.facts.isMember(parsed.group as string, id.user);
            case 'system':
                return id.system || Object.values(id.attributes).includes(parsed.region as string);
            case 'history.response':
            case 'history.sync':
                return parsed.to === id.user; // the broker's answers and pushes: their user alone
            default:
                return false; // a virtual-group publish is expanded, never delivered as it is
        }
    }

    /** Learns from a publish that was allowed; returns what the broker must do about it. */
    observe(id: BrokerIdentity, topic: string, payload?: Buffer, parsed: ParsedTopic | null = this.parse(topic)): PolicyEffect {
        if (!parsed) return {};
        const P = this.codec.parentTopic;
        switch (parsed.kind) {
            case 'unsub': {
                const blocked = parsed.to as string;
                if (blocked === id.user || !this.isAccount(blocked)) return {};
                // The blocker lifts its own block with the same notice, marked `lifted`.
                if (this.read(payload, parsed)?.data?.lifted === true) {
                    this.facts.unblock(id.user, blocked);
                    return {};
                }
                if (!this.facts.block(id.user, blocked)) return {};
                return { unsubscribe: { user: blocked, topics: [this.codec.moments(id.user), this.codec.presence(id.user)] } };
            }
            case 'friend.request':
                if (this.isAccount(parsed.to)) this.facts.requestFriend(id.user, parsed.to as string);
                return {};
            case 'friend.response': {
                // A friendship needs a request the broker saw: an unsolicited "accepted" creates nothing.
                const accepted = this.read(payload, parsed)?.data?.accepted === true;
                this.facts.answerFriend(id.user, parsed.to as string, accepted);
                return {};
            }
            case 'group.invite': {
                const group = this.read(payload, parsed)?.data?.group;
                if (
                    typeof group === 'string' &&
                    this.codec.isId('group', group) &&
                    this.facts.isMember(group, id.user) &&
                    this.isAccount(parsed.to)
                ) {
                    this.facts.invite(group, parsed.to as string);
                }
                return {};
            }
            case 'group': {
                if (this.read(payload, parsed)?.type !== 'group.leave' || !this.facts.leave(parsed.group as string, id.user)) return {};
                const group = parsed.group as string;
                return { unsubscribe: { user: id.user, topics: [this.codec.groupFilter(group), `${P}/${group}/+`, rosterTopic(group)] } };
            }
            default:
                return {};
        }
    }

    parse(topic: string): ParsedTopic | null {
        // Only topics of a plausible length are cached: made-up long ones would hold memory for nothing.
        if (topic.length > MAX_CACHED_TOPIC) return this.codec.parse(topic);
        let parsed = this.parsedCache.get(topic);
        if (parsed === undefined) {
            parsed = this.codec.parse(topic);
            if (this.parsedCache.size >= 10000) this.parsedCache.clear();
            this.parsedCache.set(topic, parsed);
        }
        return parsed;
    }

    /** A group's topics: the first subscriber creates it; after that, members and the invited. */
    private subscribeGroup(id: BrokerIdentity, group: string, rest: string[]): Decision {
        const P = this.codec.parentTopic;
        if (!(rest.length === 1 && (rest[0] === '#' || rest[0] === '+' || this.codec.isId('user', rest[0])))) {
            return refuse(`subscribe ${P}/${group}/# to follow ${group}`);
        }
        const limit = this.options.groupsPerUser ?? Number.POSITIVE_INFINITY;
        if (!this.facts.groupExists(group) && this.facts.groupsOf(id.user) >= limit) {
            return refuse(`${id.user} is already in ${limit} groups (the limit): leave one to create ${group}`);
        }
        return this.facts.enterGroup(group, id.user) ? ALLOW : refuse(`${id.user} is not a member of ${group} and was not invited`);
    }

    /** A group's member list: its members only, one group at a time (no wildcard lists every group). */
    private subscribeRoster(id: BrokerIdentity, filter: string): Decision {
        const group = groupOfRosterTopic(filter);
        if (group === undefined || !this.codec.isId('group', group))
            return refuse(`subscribe ${ROSTER_PREFIX}<group> for one group you are in`);
        return this.facts.isMember(group, id.user) ? ALLOW : refuse(`${id.user} is not a member of ${group}`);
    }

    /** The payload as the clients read it (envelope or bare JSON), or undefined when it is not a valid message. */
    private read(payload: Buffer | undefined, parsed: ParsedTopic): ImsMessage | undefined {
        if (!payload || payload.length === 0) return undefined;
        try {
            return decodeMessage(payload, parsed, Number.MAX_SAFE_INTEGER);
        } catch {
            return undefined;
        }
    }
}

/** Topics whose messages may carry an attachment. */
const CARRIER_TOPICS: ReadonlySet<string> = new Set(['chat', 'group', 'p2p']);
const ATTACHMENT_KEY = Buffer.from('"attachment"');
const JSON_ESCAPE = Buffer.from('\\u');

/** The `id` of an envelope, for naming a refused message to its sender. */
function messageIdOf(payload: Buffer): string | undefined {
    try {
        const id: unknown = (JSON.parse(payload.toString('utf8')) as { id?: unknown }).id;
        return typeof id === 'string' ? id : undefined;
    } catch {
        return undefined;
    }
}

function firstLevel(topic: string): string {
    const slash = topic.indexOf('/');
    return slash < 0 ? topic : topic.slice(0, slash);
}
