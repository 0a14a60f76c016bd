// One IM account on one device: identity, topic codec and connection. It subscribes the account's
// inbox (and, on a standard broker, its p2p topic), turns received MQTT messages into ImsMessages
// (checking sender, type, size and duplicates) and publishes outgoing ones in the envelope.

import { EventEmitter } from 'events';
import { IClientOptions, IPublishPacket } from 'mqtt';
import { CloudCredentials, signatureLogin } from './cloudAuth';
import { ConnectionOptions, ImsConnection, QoS } from './connection';
import { DuplicateFilter } from './dedupe';
import { createEnvelope, decodeMessage, DEFAULT_MAX_PAYLOAD, encodeEnvelope, Envelope, ImsMessage, NewMessage } from './envelope';
import { assertId, CLOUD_LIMITS, formatClientId, ImsError } from './ids';
import { readRefusal } from './brokerRefusal';
import { Capabilities, CAPABILITIES_TOPIC, parseCapabilities, PLAIN_MQTT } from './capabilities';
import { HistoryClient } from './historyClient';
import { CodecOptions, ParsedTopic, TopicCodec } from './topics';
import { AccountState, AccountStateData } from './accountState';
import { OWNERS, SessionContext } from './features/context';
import { Friends } from './features/friends';
import { Moments } from './features/moments';
import { Groups } from './features/groups';
import { Broadcast } from './features/broadcast';
import { Presence } from './features/presence';

export interface BrokerSettings {
    url: string;
    protocolVersion?: 4 | 5;
    keepalive?: number;
    /** Clean session (3.1.1) / clean start (5). Off by default, so QoS 1 messages wait for an offline device. */
    clean?: boolean;
    /** MQTT 5 session expiry in seconds, used when `clean` is off. */
    sessionExpiry?: number;
    reconnectPeriod?: number;
    connectTimeout?: number;
    username?: string;
    password?: string;
    /** Cloud MQ signature login; replaces username and password. */
    cloud?: CloudCredentials;
    /** TLS options (ca, cert, key, rejectUnauthorized, servername...), passed to MQTT.js as they are. */
    tls?: Partial<IClientOptions>;
}

export interface SessionOptions extends CodecOptions {
    userId: string;
    /**
     * Share this account's inbox with its other devices that name the same group (MQTT shared
     * subscription `$share/<group>/<inbox>`): each message reaches one of them. For a bot run on
     * several Node-RED instances, each with its own device ID, so each message is answered once.
     */
    shareGroup?: string;
    deviceId?: string;
    mqGroupId?: string;
    region?: string;
    broker: BrokerSettings;
    qos?: QoS;
    maxPayload?: number;
    /** Deliver this account's own messages back to it (group chat echoes); off by default. */
    receiveOwn?: boolean;
    /** Retained online/offline on P/<user>/Presence with the will as offline; on by default. */
    presence?: boolean;
    /**
     * The broker's limit on subscriptions per client on the standard profile (NATS grants 63 by
     * default); the cloud profile's is 30. A follow or join beyond it fails with a clear error.
     */
    subscriptionLimit?: number;
    /**
     * False: never greet through virtual groups, even where the broker announces them (the benchmark
     * compares both ways). Otherwise they are used exactly when the broker announces them; this option
     * can never turn them on.
     */
    virtualGroups?: boolean;
    /** What the account remembered (friends, follows, groups...), restored before login. */
    state?: AccountStateData;
}

export const SESSION_DEFAULTS = Object.freeze({
    mqGroupId: 'GID_IMS',
    qos: 1 as QoS,
    keepalive: 60,
    sessionExpiry: 86400,
    reconnectPeriod: 2000,
    connectTimeout: 10000,
});

export declare interface ImsSession {
    on(event: 'message', listener: (message: ImsMessage) => void): this;
    on(event: 'rejected', listener: (error: ImsError, topic: ParsedTopic) => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
    /** Something was ignored that the user may want to know about (a message not addressed to this account). */
    on(event: 'warning', listener: (text: string) => void): this;
}

/** How long logout waits for the broker to take the "offline" presence. */
const LOGOUT_ANNOUNCE_MS = 1000;
/** After the SUBACK of `$IMS/capabilities`, how long a retained announcement may take to follow it. */
const CAPABILITIES_GRACE_MS = 500;
/** Inbox topics: their recipient level must be this account. */
const INBOX_KINDS: ReadonlySet<string> = new Set(['friend.request', 'friend.response', 'chat', 'unsub', 'group.invite']);

export class ImsSession extends EventEmitter implements SessionContext {
    readonly codec: TopicCodec;
    readonly userId: string;
    readonly deviceId: string;
    readonly mqGroupId: string;
    readonly clientId: string;
    readonly region: string | undefined;
    readonly qos: QoS;
    readonly maxPayload: number;
    readonly connection: ImsConnection;
    readonly state: AccountState;
    readonly friends: Friends;
    readonly moments: Moments;
    readonly groups: Groups;
    readonly broadcast: Broadcast;
    readonly presence: Presence;
    /** The broker's history of this user (brokers that announce `history`). */
    readonly history: HistoryClient;
    private readonly receiveOwn: boolean;
    /** The shared-subscription group of the inbox, if the account shares it among devices. */
    readonly shareGroup: string | undefined;
    private readonly useVirtualGroups: boolean;
    private readonly duplicates = new DuplicateFilter();
    /** Bare (non-envelope) QoS 1 payloads by topic and content, to drop a redelivery the broker marks dup. */
    private readonly bareSeen = new DuplicateFilter(1000);
    /** What the broker offers; plain MQTT until it announces more. */
    private learned: Capabilities = PLAIN_MQTT;
    private capabilitiesSettled = false;
    private readonly capabilityWaiters = new Set<() => void>();
    private capabilitiesTimer: NodeJS.Timeout | undefined;
    /** Received messages are handled one after another, so features see them in order. */
    private inbound: Promise<void> = Promise.resolve();
    /** Messages still waiting in `inbound`; while none are, a message that needs no I/O is delivered at once. */
    private inboundPending = 0;

    /** Validates every ID first: an invalid one throws an ImsError before anything connects. */
    constructor(options: SessionOptions) {
        super();
        this.codec = new TopicCodec(options);
        const rules = this.codec.rules;
        this.userId = assertId('user', options.userId, rules);
        this.deviceId = options.deviceId || defaultDeviceId(this.userId);
        this.mqGroupId = options.mqGroupId || SESSION_DEFAULTS.mqGroupId;
        this.clientId = formatClientId(this.mqGroupId, this.deviceId, rules);
        this.region = options.region ? assertId('region', options.region, rules) : undefined;
        this.qos = options.qos ?? SESSION_DEFAULTS.qos;
        this.maxPayload = options.maxPayload || DEFAULT_MAX_PAYLOAD;
        this.receiveOwn = options.receiveOwn ?? false;
        this.shareGroup = options.shareGroup ? assertId('region', options.shareGroup, this.codec.rules) : undefined;
        this.useVirtualGroups = options.virtualGroups !== false;
        this.state = new AccountState(options.state);
        this.friends = new Friends(this, (user, added) => this.presence.watch(user, added));
        this.moments = new Moments(this);
        this.groups = new Groups(this);
        this.broadcast = new Broadcast(this, this.region);
        this.presence = new Presence(this, options.presence ?? true);
        this.history = new HistoryClient({
            userId: this.userId,
            deviceId: this.deviceId,
            codec: this.codec,
            hold: (owner, topics) => this.hold(owner, topics),
            capabilities: () => this.capabilities(),
            publishRaw: (topic, payload, qos) => this.connection.publish(topic, payload, { qos }),
        });
        this.connection = new ImsConnection(this.connectionOptions(options.broker, options.subscriptionLimit));
        this.connection.on('message', (topic, payload, packet) => this.receive(topic, payload, packet));
        this.connection.on('granted', (topics) => {
            if (topics.includes(CAPABILITIES_TOPIC)) this.settleCapabilitiesSoon();
        });
        this.connection.on('refused', (topics) => this.rollBack(topics));
        this.connection.on('state', (state) => {
            if (state === 'connected') this.presence.announce('online').catch((error: Error) => this.emit('error', error));
        });
    }

    /**
     * Logs in: connects and subscribes, in one batch at connect, the inbox (and on a standard broker the
     * p2p topic), followed users, groups, the region's system topic and friends' presence.
     */
    async login(): Promise<void> {
        this.capabilitiesSettled = false;
        this.connection.open();
        // Apart from the rest: its refusal (a broker that reserves `$` topics) is no error, just plain MQTT.
        if (this.codec.profile === 'standard') {
            this.connection
                .subscribe(OWNERS.capabilities, [CAPABILITIES_TOPIC], 0, { optional: true })
                .catch(() => this.settleCapabilities());
        } else {
            this.settleCapabilities(); // a cloud service: 30 subscriptions are precious, and it has no such topic
        }
        await Promise.all([
            this.hold(OWNERS.session, this.sessionTopics()),
            this.hold(OWNERS.follow, this.moments.topics()),
            this.hold(OWNERS.group, this.groups.topics()),
            this.hold(OWNERS.region, this.broadcast.topics()),
            this.hold(OWNERS.presence, this.presence.topics()),
        ]);
    }

    /** Logs out: says "offline" while still connected (briefly: the broker may be closing too), then disconnects. */
    async logout(): Promise<void> {
        if (this.connection.connected) {
            const announced = this.presence.announce('offline').catch(() => undefined);
            await Promise.race([announced, new Promise((resolve) => setTimeout(resolve, LOGOUT_ANNOUNCE_MS))]);
        }
        await this.connection.close();
        this.history.close();
    }

    /**
     * What the broker offers, once known: its retained announcement, or plain MQTT when none follows the
     * SUBACK (or the subscription is refused, or the connection does not come within `timeoutMs`).
     */
    capabilities(timeoutMs = CAPABILITIES_GRACE_MS * 4): Promise<Capabilities> {
        // With virtual groups turned off nothing else depends on the answer: no need to wait for it.
        if (this.capabilitiesSettled || !this.loggedIn || !this.useVirtualGroups) return Promise.resolve(this.offered());
        return new Promise((resolve) => {
            const done = (): void => {
                clearTimeout(timer);
                this.capabilityWaiters.delete(done);
                resolve(this.offered());
            };
            const timer = setTimeout(done, Math.max(timeoutMs, this.connection.options.connectWaitMs ?? 0));
            this.capabilityWaiters.add(done);
        });
    }

    /** What the broker announced, less what the options turn off. */
    private offered(): Capabilities {
        return this.useVirtualGroups ? this.learned : { ...this.learned, virtualGroups: false };
    }

    private settleCapabilitiesSoon(): void {
        clearTimeout(this.capabilitiesTimer);
        this.capabilitiesTimer = setTimeout(() => this.settleCapabilities(), CAPABILITIES_GRACE_MS);
    }

    private settleCapabilities(): void {
        clearTimeout(this.capabilitiesTimer);
        this.capabilitiesSettled = true;
        for (const waiter of [...this.capabilityWaiters]) waiter();
    }

    /** The broker refused topics a feature counted on: the feature forgets them, so they are not retried. */
    private rollBack(topics: string[]): void {
        for (const topic of topics) {
            if (topic === CAPABILITIES_TOPIC) this.settleCapabilities();
            else if (!this.moments.refused(topic) && !this.groups.refused(topic)) this.broadcast.refused(topic);
        }
    }

    get loggedIn(): boolean {
        return this.connection.state !== 'idle' && this.connection.state !== 'closed';
    }

    /** Subscribes topics on behalf of `owner` (a node, a feature); see ImsConnection.subscribe. */
    hold(owner: string, topics: string[]): Promise<void> {
        if (topics.length === 0) return Promise.resolve();
        return this.connection.subscribe(owner, topics, this.qos);
    }

    release(owner: string, topics?: string[]): Promise<void> {
        if (topics?.length === 0) return Promise.resolve();
        return topics ? this.connection.unsubscribe(owner, topics) : this.connection.unsubscribeOwner(owner);
    }

    /** Publishes a new message from this account on `topic`; resolves with what was sent. */
    async publish(topic: string, fields: Omit<NewMessage, 'from'>, options: { retain?: boolean; qos?: QoS } = {}): Promise<Envelope> {
        // No spread syntax here: see addTopicFields in envelope.ts.
        const envelope = createEnvelope({ type: fields.type, from: this.userId, to: fields.to, text: fields.text, data: fields.data });
        const payload = encodeEnvelope(envelope, this.maxPayload);
        await this.connection.publish(topic, payload, { qos: options.qos ?? this.qos, retain: options.retain ?? false });
        return envelope;
    }

    /** A 1:1 message (or greeting) to `to`'s inbox, or to one of its devices by p2p when `clientId` is given. */
    sendChat(
        to: string,
        fields: { text?: string; data?: Record<string, unknown>; type?: 'chat' | 'greeting'; clientId?: string },
    ): Promise<Envelope> {
        assertId('user', to, this.codec.rules);
        const topic = fields.clientId ? this.codec.p2p(fields.clientId) : this.codec.chat(to, this.userId);
        return this.publish(topic, { type: fields.type ?? 'chat', to, text: fields.text, data: fields.data });
    }

    private sessionTopics(): string[] {
        const inbox = this.codec.inboxFilter(this.userId);
        const topics = [this.shareGroup ? `$share/${this.shareGroup}/${inbox}` : inbox];
        // A cloud MQ service delivers p2p without a subscription; a standard broker needs one.
        if (this.codec.profile === 'standard') topics.push(this.codec.p2p(this.clientId));
        return topics;
    }

    private receive(topic: string, payload: Buffer, packet?: IPublishPacket): void {
        if (topic === CAPABILITIES_TOPIC) {
            this.learned = parseCapabilities(payload);
            this.settleCapabilities();
            return;
        }
        const parsed = this.codec.parse(topic);
        if (!parsed) return; // not one of this app's topics (another app on the same broker)
        if (parsed.kind === 'history.response' || parsed.kind === 'history.sync') {
            if (parsed.to === this.userId) this.history.receive(parsed.kind, payload);
            return;
        }
        if (!this.addressedToMe(parsed)) {
            // A broker whose topic mapping has wildcards of its own (or a misconfigured bridge) can
            // deliver someone else's inbox: never hand it to this account's flows.
            this.emit('warning', `${this.userId} ignored a message on ${topic}: it is not addressed to this account`);
            return;
        }
        let message: ImsMessage;
        try {
            message = decodeMessage(payload, parsed, this.maxPayload);
        } catch (error) {
            this.emit('rejected', error as ImsError, parsed);
            return;
        }
        if (message.from === this.userId && !this.receiveOwn) return;
        if (!message.enveloped && packet && packet.qos > 0 && !this.bareSeen.accept(topic, payload.toString('latin1')) && packet.dup) {
            return; // a QoS 1 redelivery of a bare payload: without an envelope id, the broker's dup flag is all there is
        }
        // Presence is a state, not a message: the presence feature delivers changes only.
        if (message.type !== 'presence' && !this.duplicates.accept(message.from, message.id)) return;
        const reject = (error: Error): void => {
            this.emit('rejected', error instanceof ImsError ? error : new ImsError(error.message, 'IMS_ERROR'), parsed);
        };
        if (this.inboundPending > 0) {
            // Earlier messages are still being handled: this one waits its turn.
            this.enqueue(
                this.inbound.then(() => this.apply(message)),
                message,
                reject,
            );
            return;
        }
        let outcome: boolean | Promise<boolean>;
        try {
            outcome = this.apply(message);
        } catch (error) {
            reject(error as Error);
            return;
        }
        if (typeof outcome === 'boolean') {
            // The hot path (chats, greetings): nothing queued before it and no I/O, so no promise hop.
            if (outcome) this.emit('message', message);
            return;
        }
        this.enqueue(outcome, message, reject);
    }

    private enqueue(outcome: Promise<boolean>, message: ImsMessage, reject: (error: Error) => void): void {
        this.inboundPending++;
        this.inbound = outcome
            .then((deliver) => {
                if (deliver) this.emit('message', message);
            }, reject)
            .finally(() => {
                this.inboundPending--;
            });
    }

    /**
     * Lets the features update the account's state; false when the message should not be delivered.
     * Synchronous unless a feature must wait for the broker (friend lists, a block's unfollow).
     */
    /** An inbox topic names its recipient, a p2p topic its device: both must be this account's. */
    private addressedToMe(parsed: ParsedTopic): boolean {
        if (INBOX_KINDS.has(parsed.kind)) return parsed.to === this.userId;
        if (parsed.kind === 'p2p') return parsed.clientId === this.clientId;
        return true;
    }

    private apply(message: ImsMessage): boolean | Promise<boolean> {
        switch (message.type) {
            case 'friend.request':
            case 'friend.response':
                return this.friends.receive(message).then(() => true);
            case 'moment':
            case 'unsub':
                return this.moments.receive(message);
            case 'group.invite':
            case 'group.message':
            case 'group.join':
            case 'group.leave':
                return this.groups.receive(message);
            case 'presence':
                return this.presence.receive(message);
            case 'system':
                return this.broadcast.receive(message);
            case 'refusal': {
                // The broker refused one of this device's messages: reported as the sender's own check would.
                const refusal = readRefusal(message, this.codec);
                if (refusal) this.emit('rejected', refusal.error, refusal.topic);
                return false;
            }
            default:
                return true;
        }
    }

    private connectionOptions(broker: BrokerSettings, subscriptionLimit: number | undefined): ConnectionOptions {
        const clean = broker.clean ?? false;
        const protocolVersion = broker.protocolVersion ?? 4;
        const login = broker.cloud
            ? signatureLogin(this.clientId, broker.cloud)
            : { username: broker.username || (broker.password ? this.userId : undefined), password: broker.password };
        const options: ConnectionOptions = {
            ...broker.tls,
            url: broker.url,
            clientId: this.clientId,
            protocolVersion,
            keepalive: broker.keepalive ?? SESSION_DEFAULTS.keepalive,
            clean,
            reconnectPeriod: broker.reconnectPeriod ?? SESSION_DEFAULTS.reconnectPeriod,
            connectTimeout: broker.connectTimeout ?? SESSION_DEFAULTS.connectTimeout,
            connectWaitMs: broker.connectTimeout ?? SESSION_DEFAULTS.connectTimeout,
            subscriptionLimit: this.codec.profile === 'cloud' ? CLOUD_LIMITS.subscriptionsPerClient : subscriptionLimit || undefined,
        };
        if (login.username !== undefined) options.username = login.username;
        if (login.password !== undefined) options.password = login.password;
        const will = this.presence.will();
        if (will) options.will = will;
        if (protocolVersion === 5 && !clean) {
            options.properties = { sessionExpiryInterval: broker.sessionExpiry ?? SESSION_DEFAULTS.sessionExpiry };
        }
        return options;
    }
}

/** A device ID for an account that names none: one per user, so a restart resumes the same session. */
export function defaultDeviceId(userId: string): string {
    return `${userId}_NodeRED`;
}
