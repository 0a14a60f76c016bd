// ims-broker: an embedded MQTT broker, so a fresh install needs no broker of its own. Status shows how
// many clients are connected; closing (redeploy, stop) frees the ports before the next start. With
// security on, it holds the IM accounts and enforces the seed's layout (see BrokerPolicy), and every
// refusal comes out of the node's output.

import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import * as path from 'path';
import { BrokerLimits, DEFAULT_HOST, DEFAULT_LIMITS, EmbeddedBroker, parseAccounts, Refusal } from './lib/broker';
import { ImsError } from './lib/ids';
import { DEFAULTS } from './lib/topics';
import { errorStatus } from './red/imsNode';
import { announceBroker } from './red/webChat';
import { upToDate } from './red/migrate';
import { unsetEnvName } from './red/env';
import { servePasswordHashes } from './red/passwordHashes';

/** Each limit is a node property of the same name; blank keeps the default (DEFAULT_LIMITS). */
const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS) as (keyof BrokerLimits)[];

function limitsOf(def: ImsBrokerDef): Partial<BrokerLimits> {
    const limits: Partial<BrokerLimits> = {};
    for (const name of LIMIT_NAMES) {
        const value = def[name];
        if (value !== undefined && value !== '' && Number.isFinite(Number(value))) limits[name] = Number(value);
    }
    return limits;
}

interface ImsBrokerDef extends NodeDef, Partial<Record<keyof BrokerLimits, string>> {
    port: string;
    host: string;
    wsPort: string;
    wsPath: string;
    security: boolean;
    mqSemantics: boolean;
    parentTopic: string;
    groupPrefix: string;
    groupIds: string;
    persist: boolean;
    /** Cluster mode: instances with the same Redis share everything (docs/SCALING.md). */
    redisUrl?: string;
}

interface ImsBrokerCredentials {
    user?: string;
    password?: string;
    /** JSON: [{"user":"Alice","passwordHash":"scrypt$…","system":false,"attributes":{"region":"Beijing"}}, …] (or "password", as older flows have it) */
    accounts?: string;
}

export = function register(RED: NodeAPI): void {
    function ImsBroker(this: Node, saved: ImsBrokerDef): void {
        RED.nodes.createNode(this, saved);
        const def = upToDate(saved);
        const node = this;
        const creds = (node.credentials ?? {}) as ImsBrokerCredentials;
        let storeError: string | undefined;
        const showClients = (count: number): void => {
            if (storeError) {
                node.status({ fill: 'red', shape: 'ring', text: RED._('ims-broker.status.storeError', { error: storeError }) });
                return;
            }
            node.status({
                fill: 'green',
                shape: 'dot',
                text: RED._(def.security ? 'ims-broker.status.secured' : 'ims-broker.status.clients', { count }),
            });
        };
        node.status({ fill: 'yellow', shape: 'ring', text: RED._('ims-broker.status.starting') });
        const starting = (async () => {
            const unset = unsetEnvName(def.port);
            if (unset) throw new Error(RED._('ims-broker.errors.unsetEnv', { name: unset }));
            const security = def.security
                ? {
                      accounts: parseAccounts(creds.accounts),
                      parentTopic: def.parentTopic || undefined,
                      groupPrefix: def.groupPrefix || undefined,
                      mqSemantics: def.mqSemantics === true,
                      groupIds: def.groupIds ? def.groupIds.split(/[\s,]+/).filter(Boolean) : undefined,
                  }
                : undefined;
            // Sessions, queued messages, retained presence and learned blocks live under the user directory.
            const userDir = (RED.settings as { userDir?: string }).userDir;
            const storeDir = def.persist !== false && userDir ? path.join(userDir, 'ims-broker', node.id) : undefined;
            return EmbeddedBroker.start({
                port: Number(def.port) || 0,
                host: def.host || DEFAULT_HOST,
                wsPort: def.wsPort === '' || def.wsPort === undefined ? undefined : Number(def.wsPort),
                wsPath: def.wsPath || undefined,
                username: creds.user || undefined,
                password: creds.password || undefined,
                security,
                storeDir,
                redisUrl: def.redisUrl || undefined,
                limits: limitsOf(def),
            });
        })().then(
            (broker) => {
                // For tests and for flows that need the broker object (not a documented API).
                (node as Node & { embeddedBroker?: EmbeddedBroker }).embeddedBroker = broker;
                broker.on('clients', showClients);
                broker.on('refused', (refusal: Refusal) => {
                    node.send({ topic: refusal.user, payload: refusal, ims: { type: 'refused', event: refusal.action } } as NodeMessage);
                });
                // A store that cannot save is a warning and a red status until a save succeeds again.
                broker.on('storeError', (error: Error) => {
                    storeError = error.message;
                    node.warn(RED._('ims-broker.errors.store', { error: error.message }));
                    showClients(broker.clientCount);
                });
                broker.on('storeRecovered', () => {
                    storeError = undefined;
                    showClients(broker.clientCount);
                });
                showClients(0);
                if (broker.wsPort !== undefined) {
                    // The web chat client's config.json names this listener.
                    announceBroker(node.id, {
                        port: broker.wsPort,
                        path: def.wsPath || '/mqtt',
                        parentTopic: def.parentTopic || DEFAULTS.parentTopic,
                        groupPrefix: def.groupPrefix || DEFAULTS.groupPrefix,
                        secured: def.security === true,
                    });
                }
                node.log(RED._('ims-broker.status.listening', { host: def.host || DEFAULT_HOST, port: broker.port }));
                return broker;
            },
            (error: Error) => {
                const err = new Error(RED._('ims-broker.errors.listen', { port: def.port, error: error.message }));
                node.status(errorStatus(err));
                node.error(err.message, { payload: err.message, topic: 'ims-broker' });
                return undefined;
            },
        );

        // The flow may add accounts and lift blocks: {action: "account", payload: {user, password, ...}}.
        const brokerOrFail = async (needsSecurity: boolean): Promise<EmbeddedBroker> => {
            const broker = await starting;
            if (!broker) throw new ImsError(RED._('ims-broker.errors.listen', { port: def.port, error: 'not running' }), 'IMS_CONFIG');
            if (needsSecurity && !broker.policy) throw new ImsError(RED._('ims-broker.errors.notSecured'), 'IMS_CONFIG');
            return broker;
        };
        node.on('input', (msg: NodeMessage & { action?: string; payload?: unknown }, _send, done) => {
            const run = async (): Promise<void> => {
                const broker = await brokerOrFail(
                    msg.action === 'account' || msg.action === 'unblock' || msg.action === 'removeAccount' || msg.action === 'removeDevice',
                );
                const body = (msg.payload ?? {}) as Record<string, unknown>;
                if (msg.action === 'account') {
                    const [account] = parseAccounts(JSON.stringify([body]));
                    broker.setAccount(account);
                } else if (msg.action === 'removeAccount') {
                    if (typeof body.user !== 'string') throw new ImsError(RED._('ims-broker.errors.removeAccount'), 'IMS_CONFIG');
                    broker.removeAccount(body.user);
                } else if (msg.action === 'removeDevice') {
                    if (typeof body.clientId !== 'string') throw new ImsError(RED._('ims-broker.errors.removeDevice'), 'IMS_CONFIG');
                    broker.removeDevice(body.clientId);
                } else if (msg.action === 'vgroup') {
                    if (typeof body.name !== 'string' || !Array.isArray(body.members))
                        throw new ImsError(RED._('ims-broker.errors.vgroup'), 'IMS_CONFIG');
                    broker.setVirtualGroup(body.name, body.members.map(String));
                } else if (msg.action === 'unblock') {
                    if (typeof body.blocker !== 'string' || typeof body.blocked !== 'string')
                        throw new ImsError(RED._('ims-broker.errors.unblock'), 'IMS_CONFIG');
                    broker.unblock(body.blocker, body.blocked);
                } else {
                    throw new ImsError(RED._('ims-broker.errors.unknownAction', { action: String(msg.action) }), 'IMS_UNKNOWN_ACTION');
                }
            };
            run().then(
                () => done(),
                (error: Error) => done(error),
            );
        });

        node.on('close', (done: () => void) => {
            announceBroker(node.id, undefined);
            starting
                .then((broker) => broker?.close())
                .catch((error: Error) => node.warn(error.message))
                .finally(done);
        });
    }
    servePasswordHashes(RED);
    RED.nodes.registerType('ims-broker', ImsBroker, {
        credentials: { user: { type: 'text' }, password: { type: 'password' }, accounts: { type: 'text' } },
    });
};
