// ims-moments: post moments, follow, unfollow, block and unblock (scenario 2); emits the posts of
// followed users and the block notices received (after which that user is unfollowed).

import type { Node, NodeAPI, NodeDef } from 'node-red';
import { Awaitable, handleActions, listMessage, peer, requireContent } from './red/actions';
import { bindToAccount } from './red/imsNode';
import { ImsNodeMessage, toNodeRedMessage } from './red/messages';
import { upToDate } from './red/migrate';

interface ImsMomentsDef extends NodeDef {
    account: string;
    action: string;
    user: string;
    userType?: string;
}

export = function register(RED: NodeAPI): void {
    function ImsMoments(this: Node, saved: ImsMomentsDef): void {
        RED.nodes.createNode(this, saved);
        const def = upToDate(saved);
        const node = this;
        const binding = bindToAccount(RED, node, def.account, {
            types: ['moment', 'unsub'],
            onMessage: (message) => node.send(toNodeRedMessage(message)),
        });
        const user = (msg: ImsNodeMessage): Awaitable<string> => peer(RED, node, { value: def.user, type: def.userType }, msg);
        handleActions(
            RED,
            node,
            binding,
            def.action,
            {
                post: async ({ msg, session }) => {
                    const content = requireContent(RED, msg.payload);
                    await session.moments.post(content.text, content.data);
                },
                follow: async ({ msg, session, note }) => {
                    const followee = await user(msg);
                    if (!(await session.moments.follow(followee))) note(RED._('ims-moments.status.alreadyFollowing', { user: followee }));
                },
                unfollow: async ({ msg, session }) => session.moments.unfollow(await user(msg)),
                block: async ({ msg, session }) => {
                    await session.moments.block(await user(msg));
                },
                unblock: async ({ msg, session }) => {
                    await session.moments.unblock(await user(msg));
                },
                list: async ({ session }) => listMessage(session, 'following', session.state.pick('following', 'blocked', 'blockedBy')),
            },
            'post',
        );
    }
    RED.nodes.registerType('ims-moments', ImsMoments);
};
