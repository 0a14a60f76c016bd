// ims-friend-request: request, accept, reject and remove friends (scenario 1); emits the requests and
// answers received. With auto-accept, every request is accepted as it arrives (bots).

import type { Node, NodeAPI, NodeDef } from 'node-red';
import { Awaitable, handleActions, listMessage, peer } from './red/actions';
import { bindToAccount, forwardAfter } from './red/imsNode';
import { contentOf, ImsNodeMessage, toNodeRedMessage } from './red/messages';
import { upToDate } from './red/migrate';

interface ImsFriendRequestDef extends NodeDef {
    account: string;
    action: string;
    to: string;
    toType?: string;
    autoAccept: boolean;
}

export = function register(RED: NodeAPI): void {
    function ImsFriendRequest(this: Node, saved: ImsFriendRequestDef): void {
        RED.nodes.createNode(this, saved);
        const def = upToDate(saved);
        const node = this;
        const binding = bindToAccount(RED, node, def.account, {
            types: ['friend.request', 'friend.response'],
            onMessage: (message) => {
                const msg = toNodeRedMessage(message);
                const session = binding?.account.session;
                if (message.type !== 'friend.request' || !def.autoAccept || !session) {
                    node.send(msg);
                    return;
                }
                forwardAfter(node, msg, session.friends.respond(message.from, true), 'autoAccepted');
            },
        });
        const text = (payload: unknown): string | undefined => contentOf(payload).text;
        const friend = (msg: ImsNodeMessage): Awaitable<string> => peer(RED, node, { value: def.to, type: def.toType }, msg);
        handleActions(
            RED,
            node,
            binding,
            def.action,
            {
                request: async ({ msg, session, note }) => {
                    const to = await friend(msg);
                    const sent = await session.friends.request(to, text(msg.payload));
                    if (!sent) note(RED._('ims-friend-request.status.alreadyFriends', { user: to }));
                },
                accept: async ({ msg, session }) => {
                    await session.friends.respond(await friend(msg), true, text(msg.payload));
                },
                reject: async ({ msg, session }) => {
                    await session.friends.respond(await friend(msg), false, text(msg.payload));
                },
                remove: async ({ msg, session }) => {
                    await session.friends.remove(await friend(msg));
                },
                list: async ({ session }) => listMessage(session, 'friends', session.state.pick('friends', 'requestsIn', 'requestsOut')),
            },
            'request',
        );
    }
    RED.nodes.registerType('ims-friend-request', ImsFriendRequest);
};
