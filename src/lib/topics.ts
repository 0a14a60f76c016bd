// The topic codec: the seed article's topic layout, built and parsed in one place.
//
//   P/<to>/Inbox/Add/GFReq/<from>      friend request
//   P/<to>/Inbox/Add/GFResp/<from>     friend response
//   P/<to>/Inbox/Chat/<from>           1:1 chat (and greetings)
//   P/<to>/Inbox/Update/<from>/Unsub   block / stop-following notice
//   P/<to>/Inbox/Group/Invite/<from>   group invitation
//   P/p2p/<clientId>                   device-addressed p2p
//   P/<user>                           moments
//   P/<group>/<member>                 group chat
//   P/System/<region>                  regional system push
//   P/<user>/Presence                  presence (beyond the seed)
//   P/<user>/Greet/<vgroup>            one greeting to a virtual group (embedded broker, beyond the seed)
//   P/<user>/History/Req/<device>      a history request to the embedded broker (beyond the seed)
//   P/<user>/History/Resp/<device>     the broker's answer, read only by that user
//   P/<user>/History/Sync              the broker's pushes to that user's devices (sent copies, read marks)

import {
    assertId,
    clientIdProblem,
    CLOUD_LIMITS,
    idProblemOf,
    ImsError,
    IdRules,
    mayExceedBytes,
    MQTT_STRING_BYTES,
    parseClientId,
    Profile,
} from './ids';

export type TopicKind =
    | 'friend.request'
    | 'friend.response'
    | 'chat'
    | 'unsub'
    | 'group.invite'
    | 'p2p'
    | 'moment'
    | 'group'
    | 'system'
    | 'presence'
    | 'vgroup'
    | 'history.request'
    | 'history.response'
    | 'history.sync';

/** What a topic says: its kind and the IDs in its levels. `from` is the sender level where there is one. */
export interface ParsedTopic {
    kind: TopicKind;
    topic: string;
    to?: string;
    from?: string;
    group?: string;
    region?: string;
    clientId?: string;
    /** The device level of a history request or response. */
    device?: string;
}

export interface CodecOptions {
    parentTopic?: string;
    groupPrefix?: string;
    profile?: Profile;
}

export const DEFAULTS = Object.freeze({ parentTopic: 'IMS', groupPrefix: 'Group', profile: 'standard' as Profile });

/** The fixed levels of the layout, for everything that reads topics (the codec, the broker's policy). */
export const LEVELS = Object.freeze({
    inbox: 'Inbox',
    p2p: 'p2p',
    system: 'System',
    presence: 'Presence',
    greet: 'Greet',
    history: 'History',
});
/** The levels after `P/<user>/History/`. */
const HISTORY_LAYOUT = Object.freeze({ request: 'Req', response: 'Resp', sync: 'Sync' });
const INBOX = LEVELS.inbox;
const P2P = LEVELS.p2p;
const SYSTEM = LEVELS.system;
const PRESENCE = LEVELS.presence;
const GREET = LEVELS.greet;

/** Inbox topics: the levels after `P/<to>/Inbox/`, with the sender level marked. */
const INBOX_LAYOUT: Record<'friend.request' | 'friend.response' | 'chat' | 'unsub' | 'group.invite', string[]> = {
    'friend.request': ['Add', 'GFReq', '<from>'],
    'friend.response': ['Add', 'GFResp', '<from>'],
    chat: ['Chat', '<from>'],
    unsub: ['Update', '<from>', 'Unsub'],
    'group.invite': ['Group', 'Invite', '<from>'],
};
type InboxKind = keyof typeof INBOX_LAYOUT;

export class TopicCodec {
    readonly parentTopic: string;
    readonly rules: IdRules;

    constructor(options: CodecOptions = {}) {
        const profile = options.profile ?? DEFAULTS.profile;
        const groupPrefix = options.groupPrefix ?? DEFAULTS.groupPrefix;
        this.rules = { profile, groupPrefix };
        assertId('groupPrefix', groupPrefix, this.rules);
        this.parentTopic = assertId('parent', options.parentTopic ?? DEFAULTS.parentTopic, this.rules);
    }

    get profile(): Profile {
        return this.rules.profile;
    }

    // --- building ---------------------------------------------------------------------------------

    /** An inbox topic of `to` with sender `from`, e.g. `IMS/UserB/Inbox/Add/GFReq/UserA`. */
    inbox(kind: InboxKind, to: string, from: string): string {
        assertId('user', to, this.rules);
        assertId('user', from, this.rules);
        const levels = INBOX_LAYOUT[kind].map((level) => (level === '<from>' ? from : level));
        return this.join([to, INBOX, ...levels]);
    }

    friendRequest(to: string, from: string): string {
        return this.inbox('friend.request', to, from);
    }
    friendResponse(to: string, from: string): string {
        return this.inbox('friend.response', to, from);
    }
    chat(to: string, from: string): string {
        return this.inbox('chat', to, from);
    }
    unsub(to: string, from: string): string {
        return this.inbox('unsub', to, from);
    }
    groupInvite(to: string, from: string): string {
        return this.inbox('group.invite', to, from);
    }

    /** What a user subscribes at login to receive everything sent to its inbox. */
    inboxFilter(user: string): string {
        return this.join([assertId('user', user, this.rules), INBOX, '#']);
    }

    /** `P/p2p/<GroupID@@@DeviceID>`: reaches one device. */
    p2p(clientId: string): string {
        parseClientId(clientId, this.rules);
        return this.checkLength([this.parentTopic, P2P, clientId].join('/'));
    }

    moments(user: string): string {
        return this.join([assertId('user', user, this.rules)]);
    }

    groupMessage(group: string, member: string): string {
        return this.join([assertId('group', group, this.rules), assertId('user', member, this.rules)]);
    }

    groupFilter(group: string): string {
        return this.join([assertId('group', group, this.rules), '#']);
    }

    system(region: string): string {
        return this.join([SYSTEM, assertId('region', region, this.rules)]);
    }

    presence(user: string): string {
        return this.join([assertId('user', user, this.rules), PRESENCE]);
    }

    /** One publish that a broker with virtual groups delivers to every member's inbox. */
    virtualGroup(sender: string, name: string): string {
        return this.join([assertId('user', sender, this.rules), GREET, assertId('region', name, this.rules)]);
    }

    /** Where a device asks the embedded broker for its user's history (docs/PROTOCOL.md, "History"). */
    historyRequest(user: string, device: string): string {
        return this.historyOfDevice(user, HISTORY_LAYOUT.request, device);
    }

    /** Where the broker answers that device; only `user` may read it. */
    historyResponse(user: string, device: string): string {
        return this.historyOfDevice(user, HISTORY_LAYOUT.response, device);
    }

    private historyOfDevice(user: string, level: string, device: string): string {
        return this.join([assertId('user', user, this.rules), LEVELS.history, level, assertId('device', device, this.rules)]);
    }

    /** Where the broker tells every device of `user` what another of its devices sent or read. */
    historySync(user: string): string {
        return this.join([assertId('user', user, this.rules), LEVELS.history, HISTORY_LAYOUT.sync]);
    }

    // --- parsing ----------------------------------------------------------------------------------

    /** What a received topic means, or null when it is not one of this app's topics. Never throws. */
    parse(topic: string): ParsedTopic | null {
        if (typeof topic !== 'string') return null;
        const levels = topic.split('/');
        if (levels[0] !== this.parentTopic || levels.length < 2) return null;
        const [, second, ...rest] = levels;
        if (second === P2P) {
            return rest.length === 1 && clientIdProblem(rest[0], this.rules) === null ? { kind: 'p2p', topic, clientId: rest[0] } : null;
        }
        if (second === SYSTEM) {
            return rest.length === 1 && this.isId('region', rest[0]) ? { kind: 'system', topic, region: rest[0] } : null;
        }
        if (this.isId('group', second)) {
            return rest.length === 1 && this.isId('user', rest[0]) ? { kind: 'group', topic, group: second, from: rest[0] } : null;
        }
        if (!this.isId('user', second)) return null;
        if (rest.length === 0) return { kind: 'moment', topic, from: second };
        if (rest.length === 1 && rest[0] === PRESENCE) return { kind: 'presence', topic, from: second };
        if (rest.length === 2 && rest[0] === GREET && this.isId('region', rest[1]))
            return { kind: 'vgroup', topic, from: second, group: rest[1] };
        if (rest[0] === LEVELS.history) return this.parseHistory(topic, second, rest.slice(1));
        if (rest[0] !== INBOX) return null;
        return this.parseInbox(topic, second, rest.slice(1));
    }

    private parseInbox(topic: string, to: string, levels: string[]): ParsedTopic | null {
        for (const kind of Object.keys(INBOX_LAYOUT) as InboxKind[]) {
            const layout = INBOX_LAYOUT[kind];
            if (layout.length !== levels.length) continue;
            const fromIndex = layout.indexOf('<from>');
            const matches = layout.every((level, i) => i === fromIndex || level === levels[i]);
            if (matches && this.isId('user', levels[fromIndex])) {
                return { kind, topic, to, from: levels[fromIndex] };
            }
        }
        return null;
    }

    private parseHistory(topic: string, user: string, levels: string[]): ParsedTopic | null {
        if (levels.length === 1 && levels[0] === HISTORY_LAYOUT.sync) return { kind: 'history.sync', topic, to: user };
        if (levels.length !== 2 || idProblemOf('device', levels[1], this.rules) !== null) return null;
        if (levels[0] === HISTORY_LAYOUT.request) return { kind: 'history.request', topic, from: user, device: levels[1] };
        if (levels[0] === HISTORY_LAYOUT.response) return { kind: 'history.response', topic, to: user, device: levels[1] };
        return null;
    }

    /** Without throwing: parse runs on every received message, and an exception per message is costly. */
    isId(kind: 'user' | 'group' | 'region', value: string): boolean {
        return idProblemOf(kind, value, this.rules) === null;
    }

    private join(levels: string[]): string {
        return this.checkLength([this.parentTopic, ...levels].join('/'));
    }

    /** The whole-topic limits: MQTT's 65535 bytes, and 64 characters under the cloud MQ profile. */
    private checkLength(topic: string): string {
        if (this.profile === 'cloud' && topic.length > CLOUD_LIMITS.topicLength) {
            throw new ImsError(
                `Topic "${topic}" is ${topic.length} characters; the cloud MQ profile allows ${CLOUD_LIMITS.topicLength}`,
                'IMS_TOPIC_TOO_LONG',
            );
        }
        if (mayExceedBytes(topic, MQTT_STRING_BYTES)) {
            throw new ImsError('Topic is longer than MQTT allows (65535 bytes)', 'IMS_TOPIC_TOO_LONG');
        }
        return topic;
    }
}
