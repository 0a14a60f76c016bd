// One MQTT connection shared by everything an account does. It owns the subscription table (so several
// nodes can hold one broker subscription), re-subscribes in a few batched SUBSCRIBE packets after a
// reconnect that lost the session, turns Nagle off on its socket, and turns broker trouble into
// clear errors instead of silent queues.

import { EventEmitter } from 'events';
import mqtt, { IClientOptions, IConnackPacket, IClientPublishOptions, ISubscriptionGrant, MqttClient } from 'mqtt';
import { ImsError } from './ids';
import { SubscriptionTable } from './subscriptions';
import { connectTransport } from './transport';

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';
export type QoS = 0 | 1 | 2;

export interface ConnectionOptions extends IClientOptions {
    url: string;
    /** The broker's limit on subscriptions per client (30 on a cloud MQ service); none when unset. */
    subscriptionLimit?: number;
    /** How long a publish waits for a connection that is still being set up. */
    connectWaitMs?: number;
}

/** Topics per SUBSCRIBE packet when many are sent at once (login, re-subscription). */
// The embedded broker takes at most 100 filters per SUBSCRIBE (its filtersPerSubscribe limit); a batch
// of that size keeps a login of a thousand follows to a few packets everywhere.
const SUBSCRIBE_BATCH = 100;
const REFUSED = 0x80;
/** A connection the broker closes within this time of accepting it counts towards a reconnect loop. */
const QUICK_DROP_MS = 5000;
const RECONNECT_LOOP_DROPS = 3;

export declare interface ImsConnection {
    on(event: 'state', listener: (state: ConnectionState, error?: Error) => void): this;
    on(event: 'message', listener: (topic: string, payload: Buffer, packet: mqtt.IPublishPacket) => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
    /** Topics the broker acknowledged, per SUBSCRIBE packet. */
    on(event: 'granted', listener: (topics: string[]) => void): this;
    /** Topics the broker refused; they are no longer held. */
    on(event: 'refused', listener: (topics: string[]) => void): this;
}

/**
 * The grants of a SUBSCRIBE. MQTT.js rejects the whole call when the SUBACK refuses any topic (0x80);
 * the SUBACK is still on the error, its codes in the order of `topics`, so each topic is judged alone.
 */
async function grantsOf(subscribing: Promise<ISubscriptionGrant[]>, topics: string[]): Promise<ISubscriptionGrant[]> {
    try {
        return await subscribing;
    } catch (error) {
        const granted = (error as { packet?: { granted?: unknown } }).packet?.granted;
        if (!Array.isArray(granted) || granted.length !== topics.length) throw error;
        return topics.map((topic, i) => ({
            topic,
            qos: (typeof granted[i] === 'number' ? granted[i] : REFUSED) as ISubscriptionGrant['qos'],
        }));
    }
}

/** The broker URLs of a setting: one, or several separated by commas or spaces (failover, in order). */
export function brokerUrls(setting: string): string[] {
    const urls = setting
        .split(/[\s,]+/)
        .map((u) => u.trim())
        .filter(Boolean);
    if (urls.length === 0) throw new ImsError('No broker URL', 'IMS_CONFIG');
    return urls;
}

/** A broker URL as MQTT.js's `servers` entries take it. */
function serverOf(url: string): { host: string; port: number; protocol: 'mqtt' | 'mqtts' | 'ws' | 'wss' } {
    const parsed = new URL(url);
    const protocol = parsed.protocol.replace(':', '') as 'mqtt' | 'mqtts' | 'ws' | 'wss';
    const defaults = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 };
    return { host: parsed.hostname, port: Number(parsed.port) || defaults[protocol] || 1883, protocol };
}

export class ImsConnection extends EventEmitter {
    readonly subscriptions = new SubscriptionTable();
    state: ConnectionState = 'idle';
    /** The last failure since the last successful connect; cleared on connect. */
    lastError: Error | undefined;
    /** SUBSCRIBE packets sent, for the benchmark and the tests that check batching. */
    subscribePackets = 0;

    private client: MqttClient | undefined;
    private failures = 0;
    /** The current attempt: whether it reached CONNACK (and when), and whether its socket failed. */
    private attempt: { connected: boolean; socketError: boolean; resetByPeer?: boolean; connectedAt?: number } = {
        connected: false,
        socketError: false,
    };
    /** Whether the broker accepted a connection since open(): only then can closes form a reconnect loop. */
    private accepted = false;
    /** Connections in a row the broker closed soon after accepting them. */
    private quickDrops = 0;
    /** Topics whose refusal is an answer, not an error (`$IMS/capabilities` on a broker that reserves `$`). */
    private readonly optional = new Set<string>();
    /** The highest QoS the broker takes; learned from CONNACK (MQTT 5) and SUBACK grants. */
    private maxQoS: QoS = 2;
    /** Topics the broker acknowledged on this session, with the QoS granted. */
    private readonly acked = new Map<string, QoS>();

    constructor(readonly options: ConnectionOptions) {
        super();
    }

    get url(): string {
        return this.options.url;
    }

    /** How many held topics the broker has acknowledged on this session. */
    get ackedCount(): number {
        return this.acked.size;
    }

    /** The highest QoS the broker takes, as far as its CONNACK and SUBACKs tell: 2 until it says less. */
    get maxGrantedQoS(): QoS {
        return this.maxQoS;
    }

    get connected(): boolean {
        return this.state === 'connected';
    }

    open(): void {
        if (this.client) return;
        const { url, subscriptionLimit: _limit, connectWaitMs: _wait, ...clientOptions } = this.options;
        // Several URLs (a cluster's instances): MQTT.js tries the next one at each reconnect.
        const servers = brokerUrls(url);
        const failover = servers.length > 1 ? { servers: servers.map(serverOf) } : {};
        // We re-subscribe from our own table, in batches; MQTT.js's own copy would send duplicates.
        const client = connectTransport(servers[0], { ...failover, ...clientOptions, resubscribe: false });
        this.client = client;
        this.attempt = { connected: false, socketError: false };
        this.quickDrops = 0;
        this.accepted = false;
        this.setState('connecting');
        // A replaced client (logout then login) may still report a late `close` or `error`: only the
        // current one speaks for this connection, or it would mark a live session disconnected.
        const current = (): boolean => this.client === client;
        client.on('connect', (connack) => current() && this.onConnect(connack));
        client.on('reconnect', () => current() && this.onReconnect());
        client.on('close', () => current() && this.onClose());
        client.on('error', (error) => current() && this.onError(error));
        client.on('message', (topic, payload, packet) => current() && this.emit('message', topic, payload, packet));
    }

    /** Ends the connection: gracefully when connected (in-flight messages finish), at once otherwise. */
    async close(): Promise<void> {
        const client = this.client;
        this.client = undefined;
        this.setState('closed');
        if (!client) return;
        await new Promise<void>((resolve) => {
            const timer = setTimeout(() => client.end(true, () => resolve()), 2000);
            client.end(!client.connected, () => {
                clearTimeout(timer);
                resolve();
            });
        });
    }

    /**
     * Holds `topics` for `owner`. When connected, resolves on the broker's SUBACK and rejects when the
     * broker refuses a topic; when not, the topics are sent on the next connect.
     */
    async subscribe(owner: string, topics: string[], qos: QoS, flags: { optional?: boolean } = {}): Promise<void> {
        const fresh = topics.filter((t) => !this.subscriptions.has(t));
        if (flags.optional) {
            for (const topic of topics) this.optional.add(topic);
        }
        const limit = this.options.subscriptionLimit;
        if (limit !== undefined && this.subscriptions.size + fresh.length > limit) {
            throw new ImsError(
                `Cannot subscribe ${fresh.length} more topic(s): the broker allows ${limit} subscriptions per client and ${this.subscriptions.size} are in use`,
                'IMS_SUBSCRIPTION_LIMIT',
            );
        }
        const needed = topics.filter((t) => this.subscriptions.add(owner, t, qos) || !this.acked.has(t));
        if (needed.length > 0 && this.connected) await this.sendSubscribe(needed);
    }

    /** Lets go of `topics` for `owner`; the broker is told only when nobody else holds them. */
    async unsubscribe(owner: string, topics: string[]): Promise<void> {
        await this.sendUnsubscribe(topics.filter((t) => this.subscriptions.remove(owner, t)));
    }

    /** Lets go of everything `owner` holds. */
    async unsubscribeOwner(owner: string): Promise<void> {
        await this.sendUnsubscribe(this.subscriptions.removeOwner(owner));
    }

    publish(topic: string, payload: Buffer | string, options: IClientPublishOptions = {}): Promise<void> {
        if (!this.connected) return this.whenConnected().then(() => this.publish(topic, payload, options));
        const client = this.client as MqttClient;
        // One promise per message, settled by MQTT.js's callback (on PUBACK at QoS 1): a chat relay
        // keeps every in-flight message's closures alive until then, so fewer is less for the GC.
        if (options.qos !== undefined && options.qos > this.maxQoS) options = { ...options, qos: this.maxQoS };
        return new Promise((resolve, reject) => {
            client.publish(topic, payload, options, (error) => (error ? reject(error) : resolve()));
        });
    }

    /**
     * Resolves once connected. Fails at once when the last attempt failed (so a flow sees an unreachable
     * broker as an error, not as a message that silently waits), and after `connectWaitMs` otherwise.
     */
    whenConnected(timeoutMs: number = this.options.connectWaitMs ?? 10000): Promise<void> {
        if (this.connected) return Promise.resolve();
        if (this.state === 'closed' || this.state === 'idle') {
            return Promise.reject(new ImsError(`Not connected to ${this.url}: not logged in`, 'IMS_NOT_CONNECTED'));
        }
        if (this.lastError) return Promise.reject(this.notConnected(this.lastError));
        return new Promise((resolve, reject) => {
            const onState = (state: ConnectionState, error?: Error): void => {
                if (state === 'connected') finish();
                else if (error || state === 'closed') finish(this.notConnected(error));
            };
            const timer = setTimeout(() => finish(this.notConnected(new Error(`no connection after ${timeoutMs} ms`))), timeoutMs);
            const finish = (error?: Error): void => {
                clearTimeout(timer);
                this.off('state', onState);
                if (error) reject(error);
                else resolve();
            };
            this.on('state', onState);
        });
    }

    private notConnected(cause?: Error): ImsError {
        const why = cause ? `: ${cause.message}` : '';
        return new ImsError(`Not connected to ${this.url}${why}`, 'IMS_NOT_CONNECTED');
    }

    private onError(error: Error & { code?: unknown }): void {
        this.failures++;
        this.attempt.socketError = true;
        if (error.code === 'ECONNRESET' || error.code === 'EPIPE') this.attempt.resetByPeer = true;
        // The first socket error after a (re)start is retried quietly once: an ims-broker started or
        // redeployed with this account may not be listening yet. A refused login (a numeric CONNACK
        // code) is reported at once.
        if (typeof error.code === 'string' && this.failures === 1) return;
        this.fail(typeof error.code === 'number' ? this.explainRefusal(error as Error & { code: number }) : error);
    }

    /** MQTT 5 refused by a 3.1.1-only broker (NATS answers "unacceptable protocol version"): say what to change. */
    private explainRefusal(error: Error & { code: number }): Error {
        const versionRefused = error.code === 1 || error.code === 0x84;
        if (!versionRefused || this.options.protocolVersion !== 5) return error;
        return new ImsError(
            `${error.message}: the broker does not speak MQTT 5; set the account's MQTT version to 3.1.1`,
            'IMS_PROTOCOL_REFUSED',
        );
    }

    private onReconnect(): void {
        this.attempt = { connected: false, socketError: false };
        this.setState('connecting', this.lastError);
    }

    private onClose(): void {
        if (this.state === 'closed') return;
        const attempt = this.attempt;
        // The broker ended it (a close or a reset, not a refused or unreachable socket), soon after the
        // TCP connection or the CONNACK: counted towards a reconnect loop once a connection was accepted.
        const byBroker = !attempt.socketError || attempt.resetByPeer;
        const quick = !attempt.connected || Date.now() - (attempt.connectedAt ?? 0) < QUICK_DROP_MS;
        this.quickDrops = this.accepted && byBroker && quick ? this.quickDrops + 1 : 0;
        if (this.quickDrops === RECONNECT_LOOP_DROPS) {
            // MQTT.js would reconnect for ever, and resend what the broker refuses (a QoS 2 publish to
            // NATS, a packet over Mosquitto's max_packet_size), without an error anywhere.
            this.fail(
                new ImsError(
                    `The broker closed the connection ${RECONNECT_LOOP_DROPS} times in a row within ${QUICK_DROP_MS} ms of accepting it: ` +
                        'it refuses something this account sends (a QoS it does not support, a topic, a message size)',
                    'IMS_RECONNECT_LOOP',
                ),
            );
            return;
        }
        if (!attempt.connected && !attempt.socketError && this.state === 'connecting') {
            // The broker accepted the TCP connection and closed it without a CONNACK: RabbitMQ does this
            // to MQTT 5, others to a packet they do not accept. Nothing else would tell the user.
            const hint = this.options.protocolVersion === 5 ? "; it may not speak MQTT 5: set the account's MQTT version to 3.1.1" : '';
            this.fail(
                new ImsError(
                    `The broker closed the connection before accepting the login (no CONNACK)${hint}`,
                    'IMS_CLOSED_BEFORE_CONNACK',
                ),
            );
            return;
        }
        // A socket error was reported (or quietly retried) already.
        if (this.state === 'connecting' && !this.lastError) return;
        this.setState('disconnected', this.lastError);
    }

    /** A failure users must hear about: it ends waiting sends, turns the status red and reaches Catch nodes. */
    private fail(error: Error): void {
        this.lastError = error;
        this.setState('disconnected', error);
        this.emit('error', error);
    }

    private onConnect(connack: IConnackPacket): void {
        this.failures = 0;
        this.attempt = { connected: true, socketError: false, connectedAt: Date.now() };
        this.accepted = true;
        this.lastError = undefined;
        const brokerMax = connack.properties?.maximumQoS;
        if (brokerMax !== undefined) this.limitQoS(brokerMax as QoS, 'its CONNACK');
        if (!connack.sessionPresent) this.acked.clear(); // the broker forgot our subscriptions
        this.setState('connected');
        const missing = Object.keys(this.subscriptions.all()).filter((t) => !this.acked.has(t));
        if (missing.length > 0) {
            this.sendSubscribe(missing).catch((error: Error) => this.emit('error', error));
        }
    }

    /**
     * Caps the QoS of what is published at what the broker supports. NATS and RabbitMQ grant QoS 1 to
     * a QoS 2 subscription, and NATS closes the connection on a QoS 2 publish; told once per session.
     */
    private limitQoS(max: QoS, source: string): void {
        if (max >= this.maxQoS) return;
        this.maxQoS = max;
        this.emit(
            'error',
            new ImsError(
                `The broker supports QoS ${max} at most (${source}): messages are sent at QoS ${max}; set the account's QoS to ${max}`,
                'IMS_QOS_REFUSED',
            ),
        );
    }

    private async sendSubscribe(topics: string[]): Promise<void> {
        const client = this.client as MqttClient;
        const all = this.subscriptions.all();
        const refused: string[] = [];
        for (let i = 0; i < topics.length; i += SUBSCRIBE_BATCH) {
            const batch: Record<string, { qos: QoS }> = {};
            for (const topic of topics.slice(i, i + SUBSCRIBE_BATCH)) batch[topic] = all[topic];
            this.subscribePackets++;
            const granted = await grantsOf(client.subscribeAsync(batch), Object.keys(batch));
            const acked: string[] = [];
            for (const grant of granted) {
                if (grant.qos >= REFUSED) {
                    refused.push(grant.topic);
                    continue;
                }
                this.acked.set(grant.topic, grant.qos as QoS);
                acked.push(grant.topic);
                if (grant.qos < batch[grant.topic].qos) this.limitQoS(grant.qos as QoS, `it granted QoS ${grant.qos} to ${grant.topic}`);
            }
            if (acked.length > 0) this.emit('granted', acked);
        }
        if (refused.length > 0) {
            // Nobody can hold a topic the broker refuses: drop it so a reconnect does not ask again, and
            // tell the features that counted on it (a follow, a group) so they roll back.
            for (const topic of refused) this.subscriptions.drop(topic);
            this.emit('refused', refused);
            if (refused.every((topic) => this.optional.has(topic))) return;
            throw new ImsError(`The broker refused the subscription to ${refused.join(', ')}`, 'IMS_SUBSCRIBE_REFUSED');
        }
    }

    private async sendUnsubscribe(topics: string[]): Promise<void> {
        for (const topic of topics) this.acked.delete(topic);
        if (topics.length > 0 && this.connected) await (this.client as MqttClient).unsubscribeAsync(topics);
    }

    private setState(state: ConnectionState, error?: Error): void {
        this.state = state;
        this.emit('state', state, error);
    }
}
