// ims-login: starts and ends the account's IM session (login/logout), announces presence, and emits
// session events and friends' presence changes.

import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { handleActions } from './red/actions';
import { bindToAccount } from './red/imsNode';
import { toNodeRedMessage } from './red/messages';
import { upToDate } from './red/migrate';

interface ImsLoginDef extends NodeDef {
    account: string;
    action: string;
    autoLogin: boolean;
}

export = function register(RED: NodeAPI): void {
    function ImsLogin(this: Node, saved: ImsLoginDef): void {
        RED.nodes.createNode(this, saved);
        const def = upToDate(saved);
        const node = this;
        let userId = '';
        const binding = bindToAccount(RED, node, def.account, {
            types: ['presence'],
            autoLogin: def.autoLogin !== false,
            onMessage: (message) => {
                const msg = toNodeRedMessage(message);
                msg.payload = message.data?.status;
                node.send(msg);
            },
            onSession: (event) => {
                node.send({ topic: userId, payload: event, ims: { type: 'session', event, from: userId } } as NodeMessage);
            },
        });
        userId = binding?.account.session?.userId ?? '';
        handleActions(
            RED,
            node,
            binding,
            def.action,
            {
                login: async () => binding?.account.login(),
                logout: async () => binding?.account.logout(),
                status: async ({ session }) =>
                    ({
                        topic: session.userId,
                        payload: {
                            loggedIn: session.loggedIn,
                            connection: session.connection.state,
                            clientId: session.clientId,
                            region: session.broadcast.region ?? null,
                            subscriptions: session.connection.subscriptions.size,
                        },
                        ims: { type: 'status', from: session.userId },
                    }) as NodeMessage,
            },
            'login',
        );
    }
    RED.nodes.registerType('ims-login', ImsLogin);
};
