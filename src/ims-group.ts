// ims-group: create, invite, join, leave and speak in group chats (scenario 3); emits group messages
// (msg.topic is the group) and invitations. With auto-join, an invitation is accepted as it arrives.
// It also sends read receipts, "typing…", edits and recalls, and (when asked) emits the ones it receives.

import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { ChatEvents, Conversation } from './lib/chatEvents';
import { ImsError } from './lib/ids';
import { chatEventsOf, emitChatEvent, ledgerOf, withChatEvents } from './red/chatEvents';
import { shared } from './red/i18n';
import { Awaitable, evaluate, handleActions, listMessage, listOf, peer, requireContent } from './red/actions';
import { outgoingContent, withAttachment } from './red/attachments';
import { bindToAccount, forwardAfter } from './red/imsNode';
import { ImsNodeMessage, toNodeRedMessage } from './red/messages';
import { upToDate } from './red/migrate';
import { historyPage } from './red/history';

interface ImsGroupDef extends NodeDef {
    account: string;
    action: string;
    group: string;
    groupType?: string;
    /** Who an invite action invites (was `users`, a property Node-RED reserves). */
    invitees: string;
    inviteesType?: string;
    autoJoin: boolean;
    /** Emit received typing, edits, recalls and receipts for group messages (off by default). */
    chatEvents?: boolean;
}

export = function register(RED: NodeAPI): void {
    function ImsGroup(this: Node, saved: ImsGroupDef): void {
        RED.nodes.createNode(this, saved);
        const def = upToDate(saved);
        const node = this;
        const binding = bindToAccount(RED, node, def.account, {
            types: withChatEvents(['group.invite', 'group.message', 'group.join', 'group.leave'], def.chatEvents),
            onMessage: (message) => {
                // Receipts arrive on the chat inbox; only those for group messages are this node's.
                if (message.type === 'receipt' && typeof message.data?.group !== 'string') return;
                if (emitChatEvent(node, events, message)) return;
                const msg = withAttachment(toNodeRedMessage(message), message);
                const session = binding?.account.session;
                if (message.type !== 'group.invite' || !def.autoJoin || !session || !message.group) {
                    node.send(msg);
                    return;
                }
                forwardAfter(node, msg, session.groups.join(message.group), 'autoJoined');
            },
        });
        const session = binding?.account.session;
        const events = session ? chatEventsOf(session, def.chatEvents === true) : undefined;
        const group = (msg: ImsNodeMessage): Awaitable<string> => peer(RED, node, { value: def.group, type: def.groupType }, msg);
        /** `remember`: an edit or recall needs the ledger, so the account keeps one from now on. */
        const requireEvents = (remember = false): ChatEvents => {
            if (!session) throw new ImsError(shared(RED, 'errors.missingConfig'), 'IMS_CONFIG');
            return chatEventsOf(session, remember);
        };
        /** An edit's or recall's message: msg.ims.target, else the last one this account said in the group. */
        const target = (msg: ImsNodeMessage, conversation: Conversation): string => {
            const ims = msg.ims as { target?: unknown } | undefined;
            const id =
                typeof ims?.target === 'string' ? ims.target : requireEvents(true).ledger.lastSentBy(session?.userId ?? '', conversation);
            if (!id) throw new ImsError(RED._('ims-group.errors.noTarget'), 'IMS_NO_TARGET');
            return id;
        };
        handleActions(
            RED,
            node,
            binding,
            def.action,
            {
                create: async ({ msg, session }) => session.groups.create(await group(msg)),
                join: async ({ msg, session, note }) => {
                    const name = await group(msg);
                    if (!(await session.groups.join(name))) note(RED._('ims-group.status.alreadyMember', { group: name }));
                },
                leave: async ({ msg, session }) => {
                    await session.groups.leave(await group(msg));
                },
                invite: async ({ msg, session }) => {
                    const users =
                        listOf(await evaluate(RED, node, { value: def.invitees, type: def.inviteesType }, msg)) ?? listOf(msg.payload);
                    if (!users) throw new ImsError(RED._('ims-group.errors.noInvitees'), 'IMS_NO_RECIPIENT');
                    await session.groups.invite(await group(msg), users);
                },
                say: async ({ msg, session }) => {
                    const content = outgoingContent(RED, msg);
                    const id = await group(msg);
                    const saying = session.groups.say(id, content.text, content.data);
                    const ledger = ledgerOf(session);
                    await (ledger ? ledger.track(saying, { kind: 'group', id }) : saying);
                },
                // A received group message sent back in: its sender learns it was read (up to msg.ims.id).
                read: async ({ msg }) => {
                    const id = await group(msg);
                    if (!msg.ims?.id || !msg.ims.from) throw new ImsError(RED._('ims-group.errors.noMessageId'), 'IMS_NO_TARGET');
                    await requireEvents().receipt(msg.ims.from, 'read', { upTo: msg.ims.id }, id);
                },
                typing: async ({ msg }) => {
                    await requireEvents().typing({ kind: 'group', id: await group(msg) }, msg.payload !== false && msg.payload !== 'idle');
                },
                edit: async ({ msg }) => {
                    const conversation: Conversation = { kind: 'group', id: await group(msg) };
                    const text = requireContent(RED, msg.payload).text;
                    if (text === undefined) throw new ImsError(shared(RED, 'errors.empty'), 'IMS_EMPTY');
                    await requireEvents(true).edit(conversation, target(msg, conversation), text);
                },
                recall: async ({ msg }) => {
                    const conversation: Conversation = { kind: 'group', id: await group(msg) };
                    await requireEvents(true).recall(conversation, target(msg, conversation));
                },
                list: async ({ session }) => listMessage(session, 'groups', session.state.list('groups')),
                // A page of the broker's history of the group (msg.ims.before pages further back).
                history: async ({ msg, session }) => historyPage(RED, session, { kind: 'group', id: await group(msg) }, msg),
            },
            'say',
        );
    }
    RED.nodes.registerType('ims-group', ImsGroup);
};
