// ims-chat: 1:1 messages. Input sends to a friend's inbox (or to one device by p2p); output emits each
// chat message or greeting received, with msg.topic set to the sender so a reply goes back to it.

import type { Node, NodeAPI, NodeDef } from 'node-red';
import { ImsError } from './lib/ids';
import { handleActions, peer, requireContent, settle } from './red/actions';
import { bindToAccount } from './red/imsNode';
import { configOr, toNodeRedMessage } from './red/messages';

interface ImsChatDef extends NodeDef {
    account: string;
    to: string;
    toType?: string;
    via: 'inbox' | 'p2p';
    clientId: string;
}

const nothing = (): void => undefined;

export = function register(RED: NodeAPI): void {
    function ImsChat(this: Node, def: ImsChatDef): void {
        RED.nodes.createNode(this, def);
        const node = this;
        const binding = bindToAccount(RED, node, def.account, {
            types: ['chat', 'greeting'],
            onMessage: (message) => node.send(toNodeRedMessage(message)),
        });
        handleActions(
            RED,
            node,
            binding,
            undefined,
            {
                // Synchronous up to the publish when `to` is a plain setting: a bot relays many of these.
                send: ({ msg, session }) =>
                    settle(peer(RED, node, { value: def.to, type: def.toType }, msg), (to) => {
                        const content = requireContent(RED, msg.payload);
                        const clientId = def.via === 'p2p' ? configOr(def.clientId, msg.ims?.clientId) : undefined;
                        if (def.via === 'p2p' && !clientId) throw new ImsError(RED._('ims-chat.errors.noClientId'), 'IMS_NO_RECIPIENT');
                        return session.sendChat(to, { text: content.text, data: content.data, clientId }).then(nothing);
                    }),
            },
            'send',
        );
    }
    RED.nodes.registerType('ims-chat', ImsChat);
};
