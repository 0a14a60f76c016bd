// ims-chat: 1:1 messages. Input sends to a friend's inbox (or to one device by p2p); output emits each
// chat message or greeting received, with msg.topic set to the sender so a reply goes back to it. It
// also sends read receipts, "typing…", edits and recalls, and (when asked) emits the ones it receives.

import type { Node, NodeAPI, NodeDef } from 'node-red';
import { ImsError } from './lib/ids';
import type { ChatEvents, Conversation } from './lib/chatEvents';
import { Awaitable, handleActions, peer, requireContent, settle } from './red/actions';
import { chatEventsOf, emitChatEvent, ledgerOf, withChatEvents } from './red/chatEvents';
import { outgoingContent, withAttachment } from './red/attachments';
import { bindToAccount } from './red/imsNode';
import { configOr, ImsNodeMessage, toNodeRedMessage } from './red/messages';
import { shared } from './red/i18n';
import { upToDate } from './red/migrate';
import { historyPage } from './red/history';

interface ImsChatDef extends NodeDef {
    account: string;
    to: string;
    toType?: string;
    via: 'inbox' | 'p2p';
    clientId: string;
    /** Emit received typing, receipts, edits and recalls (off by default: typing alone could flood a flow). */
    chatEvents?: boolean;
}

const nothing = (): void => undefined;

export = function register(RED: NodeAPI): void {
    function ImsChat(this: Node, saved: ImsChatDef): void {
        RED.nodes.createNode(this, saved);
        const def = upToDate(saved);
        const node = this;
        const binding = bindToAccount(RED, node, def.account, {
            types: withChatEvents(['chat', 'greeting'], def.chatEvents),
            onMessage: (message) => {
                if (message.type === 'receipt' && message.data?.group !== undefined) return; // ims-group's
                if (!emitChatEvent(node, events, message)) node.send(withAttachment(toNodeRedMessage(message), message));
            },
        });
        const session = binding?.account.session;
        const events = session ? chatEventsOf(session, def.chatEvents === true) : undefined;
        const to = (msg: ImsNodeMessage): Awaitable<string> => peer(RED, node, { value: def.to, type: def.toType }, msg);
        const chatWith = (user: string): Conversation => ({ kind: 'user', id: user });
        /** An edit's or recall's message: msg.ims.target, else the last one this account sent to the peer. */
        const target = (msg: ImsNodeMessage, conversation: Conversation): string => {
            const ims = msg.ims as { target?: unknown } | undefined;
            const id =
                typeof ims?.target === 'string' ? ims.target : requireEvents(true).ledger.lastSentBy(session?.userId ?? '', conversation);
            if (!id) throw new ImsError(RED._('ims-chat.errors.noTarget'), 'IMS_NO_TARGET');
            return id;
        };
        /** `remember`: an edit or recall needs the ledger, so the account keeps one from now on. */
        const requireEvents = (remember = false): ChatEvents => {
            if (!session) throw new ImsError(shared(RED, 'errors.missingConfig'), 'IMS_CONFIG');
            return chatEventsOf(session, remember);
        };
        handleActions(
            RED,
            node,
            binding,
            undefined,
            {
                // Synchronous up to the publish when `to` is a plain setting: a bot relays many of these.
                send: ({ msg, session }) =>
                    settle(to(msg), (user) => {
                        const content = outgoingContent(RED, msg);
                        const clientId = def.via === 'p2p' ? configOr(def.clientId, msg.ims?.clientId) : undefined;
                        if (def.via === 'p2p' && !clientId) throw new ImsError(RED._('ims-chat.errors.noClientId'), 'IMS_NO_RECIPIENT');
                        const ledger = ledgerOf(session);
                        const sending = session.sendChat(user, { text: content.text, data: content.data, clientId });
                        // Without a ledger, no closure per message: the relay path stays as it was.
                        return (ledger ? ledger.track(sending, chatWith(user)) : sending).then(nothing);
                    }),
                // Everything up to msg.ims.id (a received message, sent back in) is read.
                read: async ({ msg }) => {
                    const user = await to(msg);
                    if (!msg.ims?.id) throw new ImsError(RED._('ims-chat.errors.noMessageId'), 'IMS_NO_TARGET');
                    await requireEvents().receipt(user, 'read', { upTo: msg.ims.id });
                },
                typing: async ({ msg }) => {
                    await requireEvents().typing(chatWith(await to(msg)), msg.payload !== false && msg.payload !== 'idle');
                },
                edit: async ({ msg }) => {
                    const conversation = chatWith(await to(msg));
                    const text = requireContent(RED, msg.payload).text;
                    if (text === undefined) throw new ImsError(shared(RED, 'errors.empty'), 'IMS_EMPTY');
                    await requireEvents(true).edit(conversation, target(msg, conversation), text);
                },
                recall: async ({ msg }) => {
                    const conversation = chatWith(await to(msg));
                    await requireEvents(true).recall(conversation, target(msg, conversation));
                },
                // A page of the broker's history with the peer (msg.ims.before pages further back).
                history: async ({ msg, session }) => historyPage(RED, session, chatWith(await to(msg)), msg),
            },
            'send',
        );
    }
    RED.nodes.registerType('ims-chat', ImsChat);
};
