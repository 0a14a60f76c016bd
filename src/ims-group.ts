// ims-group: create, invite, join, leave and speak in group chats (scenario 3); emits group messages
// (msg.topic is the group) and invitations. With auto-join, an invitation is accepted as it arrives.

import type { Node, NodeAPI, NodeDef } from 'node-red';
import { ImsError } from './lib/ids';
import { Awaitable, evaluate, handleActions, listMessage, listOf, peer, requireContent } from './red/actions';
import { bindToAccount, forwardAfter } from './red/imsNode';
import { ImsNodeMessage, toNodeRedMessage } from './red/messages';

interface ImsGroupDef extends NodeDef {
    account: string;
    action: string;
    group: string;
    groupType?: string;
    users: string;
    usersType?: string;
    autoJoin: boolean;
}

export = function register(RED: NodeAPI): void {
    function ImsGroup(this: Node, def: ImsGroupDef): void {
        RED.nodes.createNode(this, def);
        const node = this;
        const binding = bindToAccount(RED, node, def.account, {
            types: ['group.invite', 'group.message', 'group.join', 'group.leave'],
            onMessage: (message) => {
                const msg = toNodeRedMessage(message);
                const session = binding?.account.session;
                if (message.type !== 'group.invite' || !def.autoJoin || !session || !message.group) {
                    node.send(msg);
                    return;
                }
                forwardAfter(node, msg, session.groups.join(message.group), 'autoJoined');
            },
        });
        const group = (msg: ImsNodeMessage): Awaitable<string> => peer(RED, node, { value: def.group, type: def.groupType }, msg);
        handleActions(
            RED,
            node,
            binding,
            def.action,
            {
                create: async ({ msg, session }) => session.groups.create(await group(msg)),
                join: async ({ msg, session }) => {
                    await session.groups.join(await group(msg));
                },
                leave: async ({ msg, session }) => {
                    await session.groups.leave(await group(msg));
                },
                invite: async ({ msg, session }) => {
                    const users = listOf(await evaluate(RED, node, { value: def.users, type: def.usersType }, msg)) ?? listOf(msg.payload);
                    if (!users) throw new ImsError(RED._('ims-group.errors.noInvitees'), 'IMS_NO_RECIPIENT');
                    await session.groups.invite(await group(msg), users);
                },
                say: async ({ msg, session }) => {
                    const content = requireContent(RED, msg.payload);
                    await session.groups.say(await group(msg), content.text, content.data);
                },
                list: async ({ session }) => listMessage(session, 'groups', session.state.list('groups')),
            },
            'say',
        );
    }
    RED.nodes.registerType('ims-group', ImsGroup);
};
