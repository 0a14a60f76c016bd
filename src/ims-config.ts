// ims-config: one IM account (identity + topic codec) and its MQTT connection, shared by every IM node
// that uses it. The work is done by Account and ImsSession; this file maps the editor's settings.

import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { IClientOptions } from 'mqtt';
import { Account, StateStore } from './red/account';
import type { AccountStateData } from './lib/accountState';
import { ImsConfigNode } from './red/imsNode';
import { ImsError, Profile } from './lib/ids';
import { SessionOptions } from './lib/session';
import { serveWebChat } from './red/webChat';
import { upToDate } from './red/migrate';
import { unsetEnvName } from './red/env';

interface ImsConfigDef extends NodeDef {
    url: string;
    protocolVersion: string;
    keepalive: string;
    cleanSession: boolean;
    /** Share the inbox with the account's other devices naming the same group ($share): bots on several instances. */
    shareGroup?: string;
    sessionExpiry: string;
    reconnectPeriod: string;
    tls: string;
    userId: string;
    deviceId: string;
    mqGroupId: string;
    parentTopic: string;
    groupPrefix: string;
    profile: Profile;
    region: string;
    instanceId: string;
    qos: string;
    maxPayload: string;
    receiveOwn: boolean;
    presence: boolean;
    subscriptionLimit?: string;
    contextStore: string;
}

interface ImsConfigCredentials {
    user?: string;
    password?: string;
    accessKey?: string;
    secretKey?: string;
}

interface TlsConfigNode extends Node {
    addTLSOptions(options: IClientOptions): void;
}

function numberOr(value: string | undefined, fallback?: number): number | undefined {
    const n = Number(value);
    return value !== undefined && value !== '' && Number.isFinite(n) ? n : fallback;
}

/**
 * The account's state in Node-RED's global context, keyed by app and user (not by node id), so it
 * survives a new config node for the same account; the `localfilesystem` store keeps it across restarts.
 */
function contextStateStore(node: Node, def: ImsConfigDef): StateStore {
    const key = `ims_state_${encodeURIComponent(def.parentTopic || 'IMS')}_${encodeURIComponent(def.userId)}`;
    const store = def.contextStore || undefined;
    const global = node.context().global;
    return {
        load: () =>
            new Promise((resolve, reject) => {
                global.get(key, store as string, (error: Error | null | undefined, value: unknown) =>
                    error ? reject(error) : resolve(value as AccountStateData | undefined),
                );
            }),
        save: (data) =>
            new Promise((resolve, reject) => {
                global.set(key, data, store as string, (error?: Error | null) => (error ? reject(error) : resolve()));
            }),
    };
}

export = function register(RED: NodeAPI): void {
    // Every Node-RED that loads the package serves the web chat client; ims-config is always loaded.
    serveWebChat(RED);

    /** A setting that is still an `${ENV}` reference: say which variable to set, rather than fail later on a strange value. */
    function checkResolved(value: string | undefined, field: string): void {
        const name = unsetEnvName(value);
        if (name) throw new ImsError(RED._('ims-config.errors.unsetEnv', { field, name }), 'IMS_CONFIG');
    }

    function sessionOptions(def: ImsConfigDef, creds: ImsConfigCredentials): SessionOptions {
        checkResolved(def.url, RED._('ims-config.label.url'));
        checkResolved(creds.password, RED._('ims-config.label.password'));
        const tls: IClientOptions = {};
        const tlsNode = def.tls ? (RED.nodes.getNode(def.tls) as TlsConfigNode | null) : null;
        tlsNode?.addTLSOptions(tls);
        const cloud =
            def.profile === 'cloud' && creds.accessKey && creds.secretKey
                ? { accessKey: creds.accessKey, secretKey: creds.secretKey, instanceId: def.instanceId || '' }
                : undefined;
        return {
            userId: def.userId,
            shareGroup: def.shareGroup || undefined,
            deviceId: def.deviceId || undefined,
            mqGroupId: def.mqGroupId || undefined,
            parentTopic: def.parentTopic || undefined,
            groupPrefix: def.groupPrefix || undefined,
            profile: def.profile || 'standard',
            region: def.region || undefined,
            qos: numberOr(def.qos) as 0 | 1 | 2 | undefined,
            maxPayload: numberOr(def.maxPayload),
            receiveOwn: def.receiveOwn === true,
            presence: def.presence !== false,
            subscriptionLimit: numberOr(def.subscriptionLimit),
            broker: {
                url: def.url,
                protocolVersion: def.protocolVersion === '5' ? 5 : 4,
                keepalive: numberOr(def.keepalive),
                clean: def.cleanSession === true,
                sessionExpiry: numberOr(def.sessionExpiry),
                reconnectPeriod: numberOr(def.reconnectPeriod),
                username: creds.user || undefined,
                password: creds.password || undefined,
                cloud,
                tls,
            },
        };
    }

    function ImsConfig(this: Node, saved: ImsConfigDef): void {
        RED.nodes.createNode(this, saved);
        const def = upToDate(saved);
        const node = this as ImsConfigNode;
        const creds = (node.credentials ?? {}) as ImsConfigCredentials;
        const account = new Account(RED, node, () => sessionOptions(def, creds), contextStateStore(node, def));
        node.account = account;
        node.on('close', (done: () => void) => {
            account
                .close()
                .catch((error: Error) => node.warn(error.message))
                .finally(done);
        });
    }

    RED.nodes.registerType('ims-config', ImsConfig, {
        credentials: {
            user: { type: 'text' },
            password: { type: 'password' },
            accessKey: { type: 'text' },
            secretKey: { type: 'password' },
        },
    });
};
