// The Node-RED side of one ims-config node: the account's session and the IM nodes that use it. As in
// Node-RED's core MQTT nodes, the config node owns the connection, connects when its first user
// registers, disconnects when the last one leaves, and pushes connection status to every user.

import type { Node, NodeAPI, NodeStatus } from 'node-red';
import type { ConnectionState } from '../lib/connection';
import { ImsMessage, MessageType, TYPES_BY_TOPIC } from '../lib/envelope';
import { ImsError } from '../lib/ids';
import { ImsSession, SessionOptions } from '../lib/session';
import type { AccountStateData } from '../lib/accountState';
import type { ParsedTopic } from '../lib/topics';

/** What an IM node tells the account when it registers. */
export interface AccountUser {
    node: Node;
    /** False for an ims-login node that logs in only when told to. */
    autoLogin?: boolean;
    /** Session events: login, logout, connected, disconnected. */
    onSession?(event: SessionEvent): void;
    /** Message types this node handles; it also hears about rejected messages that could have been one. */
    types: readonly MessageType[];
    onMessage(message: ImsMessage): void;
    onRejected(error: ImsError, topic: ParsedTopic): void;
}

export type SessionEvent = 'login' | 'logout' | 'connected' | 'disconnected';

/** Where the account's state (friends, follows, groups...) lives between restarts. */
export interface StateStore {
    load(): Promise<AccountStateData | undefined>;
    save(data: AccountStateData): Promise<void>;
}

/** How long an account whose last node closed in a redeploy waits for it to come back before logging out. */
const REDEPLOY_GRACE_MS = 1000;

export class Account {
    readonly session: ImsSession | undefined;
    /** Why the session could not be set up (an invalid ID, say); every user shows and reports it. */
    readonly configError: ImsError | undefined;
    private readonly users = new Map<string, AccountUser>();
    private status: NodeStatus = {};
    /** The connection error users were last told about; reported once per outage, not per retry. */
    private reportedError: string | undefined;
    /**
     * Topics the broker refused since login (a region or group the account may not read): while there
     * are any, the account is connected but not whole, and its status says which, in red, not green.
     */
    private readonly refused = new Set<string>();

    private stateLoaded = false;
    private saving = false;
    private loginScheduled = false;
    /**
     * Login and logout, one after the other: a login asked for during a logout (which waits for the
     * broker to take "offline") runs when the logout ends instead of being dropped.
     */
    private lifecycle: Promise<void> = Promise.resolve();
    /** A logout waiting to see whether the nodes that left were only being redeployed. */
    private idleLogout: NodeJS.Timeout | undefined;

    constructor(
        private readonly RED: NodeAPI,
        private readonly owner: Node,
        options: () => SessionOptions,
        private readonly store: StateStore,
    ) {
        try {
            this.session = new ImsSession(options());
        } catch (error) {
            this.configError = error instanceof ImsError ? error : new ImsError(String((error as Error).message), 'IMS_CONFIG');
            owner.error(this.configError.message);
            this.status = { fill: 'red', shape: 'ring', text: this.configError.message };
            return;
        }
        const session = this.session;
        session.connection.on('state', (state, error) => this.showState(state, error));
        session.connection.on('error', (error) => {
            if (error instanceof ImsError && error.code === 'IMS_SUBSCRIBE_REFUSED') this.reportRefused(error);
            else this.reportConnectionError(error);
            if ((error as ImsError).code === 'IMS_QOS_REFUSED' && session.connection.connected) this.showState('connected');
        });
        session.on('message', (message) => this.route(message));
        session.on('rejected', (error, topic) => this.reject(error, topic));
        session.on('error', (error) => owner.warn(error.message));
        session.on('warning', (text) => owner.warn(text));
        session.state.on('change', () => this.scheduleSave());
    }

    get userCount(): number {
        return this.users.size;
    }

    /**
     * Adds a user. The account logs in once the nodes of a deploy have registered, unless an ims-login
     * node among them logs in only on request.
     */
    register(user: AccountUser): void {
        clearTimeout(this.idleLogout);
        this.users.set(user.node.id, user);
        user.node.status(this.status);
        if (!this.session || this.loginScheduled || this.session.loggedIn) return;
        this.loginScheduled = true;
        setImmediate(() => {
            this.loginScheduled = false;
            const manual = [...this.users.values()].some((u) => u.autoLogin === false);
            if (this.users.size > 0 && !manual) this.login().catch((error: Error) => this.owner.error(error.message));
        });
    }

    /**
     * Removes a user; the last one to leave logs the account out. As in Node-RED's MQTT nodes, a node
     * closed by a redeploy (`removed` false) comes straight back, so the account stays logged in (its
     * friends would see it go offline and online again); it logs out only if nobody comes back.
     */
    async deregister(user: AccountUser, removed = true): Promise<void> {
        this.users.delete(user.node.id);
        await this.session?.release(user.node.id);
        if (this.users.size > 0) return;
        clearTimeout(this.idleLogout);
        if (removed) {
            await this.logout();
            return;
        }
        this.idleLogout = setTimeout(() => {
            if (this.users.size === 0) this.logout().catch((error: Error) => this.owner.warn(error.message));
        }, REDEPLOY_GRACE_MS);
    }

    /** Restores the account's state (first time only) and logs in; waits for a logout under way. */
    login(): Promise<void> {
        return this.inOrder(() => this.loginNow());
    }

    logout(): Promise<void> {
        return this.inOrder(() => this.logoutNow());
    }

    private inOrder(step: () => Promise<void>): Promise<void> {
        const next = this.lifecycle.then(step);
        this.lifecycle = next.catch(() => undefined);
        return next;
    }

    private async loginNow(): Promise<void> {
        const session = this.requireSession();
        if (session.loggedIn) return;
        this.refused.clear();
        if (!this.stateLoaded) {
            const data = await this.store.load();
            if (data) session.state.load(data);
            this.stateLoaded = true;
        }
        await session.login();
        this.tell('login');
    }

    private async logoutNow(): Promise<void> {
        if (!this.session?.loggedIn) return;
        await this.session.logout();
        this.tell('logout');
    }

    async close(): Promise<void> {
        clearTimeout(this.idleLogout);
        await this.logout();
        this.users.clear();
    }

    /** The session, or the configuration error as a catchable error. */
    requireSession(): ImsSession {
        if (!this.session) throw this.configError ?? new ImsError('The IMS account is not configured', 'IMS_CONFIG');
        return this.session;
    }

    /** The connection status every user shows when it has nothing of its own to say. */
    currentStatus(): NodeStatus {
        return this.status;
    }

    private showState(state: ConnectionState, error?: Error): void {
        const session = this.session as ImsSession;
        const RED = this.RED;
        const statuses: Record<ConnectionState, NodeStatus> = {
            idle: {},
            connecting: { fill: 'yellow', shape: 'ring', text: 'node-red:common.status.connecting' },
            // Below the account's QoS (NATS, RabbitMQ: no QoS 2): still connected, but the status says so.
            connected:
                session.connection.maxGrantedQoS < session.qos
                    ? {
                          fill: 'yellow',
                          shape: 'dot',
                          text: RED._('ims-config.status.limited', { user: session.userId, qos: session.connection.maxGrantedQoS }),
                      }
                    : { fill: 'green', shape: 'dot', text: RED._('ims-config.status.connected', { user: session.userId }) },
            disconnected: {
                fill: 'red',
                shape: 'ring',
                text: error ? RED._('ims-config.status.error', { error: error.message }) : 'node-red:common.status.disconnected',
            },
            closed: { fill: 'red', shape: 'ring', text: 'node-red:common.status.disconnected' },
        };
        if (state === 'connected') this.reportedError = undefined;
        if (state === 'connected' || state === 'disconnected') this.tell(state);
        this.status = state === 'connected' && this.refused.size > 0 ? this.refusedStatus() : statuses[state];
        for (const user of this.users.values()) user.node.status(this.status);
    }

    private refusedStatus(): NodeStatus {
        const topics = [...this.refused].join(', ');
        return { fill: 'red', shape: 'ring', text: this.RED._('ims-config.status.refused', { topics }) };
    }

    /** The broker refused topics of this account: say so, with the topics, to every user and its Catch nodes. */
    private reportRefused(error: ImsError): void {
        const session = this.session as ImsSession;
        // The connection names the refused topics after "subscription to ", comma separated.
        const named = /subscription to (.+)$/.exec(error.message)?.[1];
        const topics = named ? named.split(', ') : [];
        for (const topic of topics) this.refused.add(topic);
        if (session.connection.connected) {
            this.status = this.refusedStatus();
            for (const user of this.users.values()) user.node.status(this.status);
        }
        const text = this.RED._('ims-config.errors.refused', { user: session.userId, topics: topics.join(', ') || error.message });
        if (this.users.size === 0) this.owner.error(text);
        for (const user of this.users.values()) {
            user.node.error(text, { topic: session.userId, payload: topics, ims: { event: 'subscribe-refused', code: error.code } });
        }
    }

    private tell(event: SessionEvent): void {
        for (const user of this.users.values()) user.onSession?.(event);
    }

    /** Saves the state once per burst of changes. */
    private scheduleSave(): void {
        if (this.saving) return;
        this.saving = true;
        setImmediate(() => {
            this.saving = false;
            const session = this.session as ImsSession;
            this.store.save(session.state.toJSON()).catch((error: Error) => this.owner.warn(error.message));
        });
    }

    /** Tells every user's Catch nodes that the broker cannot be reached or refused the login. */
    private reportConnectionError(error: Error): void {
        if (error.message === this.reportedError) return;
        this.reportedError = error.message;
        const session = this.session as ImsSession;
        const text = this.RED._('ims-config.errors.connection', { url: session.connection.url, error: error.message });
        if (this.users.size === 0) this.owner.error(text);
        for (const user of this.users.values()) {
            user.node.error(text, {
                topic: session.userId,
                payload: error.message,
                ims: { event: 'connection-error', url: session.connection.url },
            });
        }
    }

    private route(message: ImsMessage): void {
        for (const user of this.users.values()) {
            if (user.types.includes(message.type)) user.onMessage(message);
        }
    }

    private reject(error: ImsError, topic: ParsedTopic): void {
        const possible = TYPES_BY_TOPIC[topic.kind];
        const users = [...this.users.values()].filter((user) => user.types.some((type) => possible.includes(type)));
        if (users.length === 0) this.owner.warn(error.message);
        for (const user of users) user.onRejected(error, topic);
    }
}
