// ims-chat: 1:1 messages. Input sends to a friend's inbox (or to one device by p2p); output emits each
// chat message or greeting received, with msg.topic set to the sender so a reply goes back to it.

import type { Node, NodeAPI, NodeDef } from 'node-red';
import { ImsError } from './lib/ids';
import { bindToAccount } from './red/imsNode';
import { configOr, contentOf, ImsNodeMessage, toNodeRedMessage } from './red/messages';

interface ImsChatDef extends NodeDef {
    account: string;
    to: string;
    via: 'inbox' | 'p2p';
    clientId: string;
}

export = function register(RED: NodeAPI): void {
    function ImsChat(this: Node, def: ImsChatDef): void {
        RED.nodes.createNode(this, def);
        const node = this;
        const binding = bindToAccount(RED, node, def.account, {
            types: ['chat', 'greeting'],
            onMessage: (message) => node.send(toNodeRedMessage(message)),
        });
        node.on('input', (msg: ImsNodeMessage, send, done) => {
            if (!binding) {
                done(new Error(RED._('ims-config.errors.missingConfig')));
                return;
            }
            const send1 = async (): Promise<void> => {
                if (msg.action !== undefined && msg.action !== 'send') {
                    throw new ImsError(RED._('ims-chat.errors.unknownAction', { action: String(msg.action) }), 'IMS_UNKNOWN_ACTION');
                }
                const session = binding.account.requireSession();
                const to = configOr(def.to, typeof msg.topic === 'string' ? msg.topic : undefined);
                if (!to) throw new ImsError(RED._('ims-chat.errors.noRecipient'), 'IMS_NO_RECIPIENT');
                const content = contentOf(msg.payload);
                if (content.text === undefined && content.data === undefined) {
                    throw new ImsError(RED._('ims-chat.errors.empty'), 'IMS_EMPTY');
                }
                const clientId = def.via === 'p2p' ? configOr(def.clientId, msg.ims?.clientId) : undefined;
                if (def.via === 'p2p' && !clientId) throw new ImsError(RED._('ims-chat.errors.noClientId'), 'IMS_NO_RECIPIENT');
                await session.sendChat(to, { ...content, clientId });
            };
            send1().then(() => {
                binding.restoreStatus();
                done();
            }, (error) => binding.fail(error, done));
        });
    }
    RED.nodes.registerType('ims-chat', ImsChat);
};
