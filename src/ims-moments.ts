// ims-moments: post moments, follow, unfollow, block and unblock (scenario 2); emits the posts of
// followed users and the block notices received (after which that user is unfollowed).

import type { Node, NodeAPI, NodeDef } from 'node-red';
import { handleActions, listMessage, peer, requireContent } from './red/actions';
import { bindToAccount } from './red/imsNode';
import { toNodeRedMessage } from './red/messages';

interface ImsMomentsDef extends NodeDef {
    account: string;
    action: string;
    user: string;
}

export = function register(RED: NodeAPI): void {
    function ImsMoments(this: Node, def: ImsMomentsDef): void {
        RED.nodes.createNode(this, def);
        const node = this;
        const binding = bindToAccount(RED, node, def.account, {
            types: ['moment', 'unsub'],
            onMessage: (message) => node.send(toNodeRedMessage(message)),
        });
        handleActions(RED, node, binding, def.action, {
            post: async ({ msg, session }) => {
                const content = requireContent(RED, msg.payload);
                await session.moments.post(content.text, content.data);
            },
            follow: async ({ msg, session }) => session.moments.follow(peer(RED, def.user, msg)),
            unfollow: async ({ msg, session }) => session.moments.unfollow(peer(RED, def.user, msg)),
            block: async ({ msg, session }) => { await session.moments.block(peer(RED, def.user, msg)); },
            unblock: async ({ msg, session }) => session.moments.unblock(peer(RED, def.user, msg)),
            list: async ({ session }) => listMessage(session, 'following', {
                following: session.state.list('following'),
                blocked: session.state.list('blocked'),
                blockedBy: session.state.list('blockedBy'),
            }),
        }, 'post');
    }
    RED.nodes.registerType('ims-moments', ImsMoments);
};
