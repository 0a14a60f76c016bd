// Typing, receipts, edit and recall for the IM nodes: one ChatEvents per account, shared by its
// ims-chat and ims-group nodes (so a receipt for a message one node sent is checked against it), and
// the output message of a received event.
//
// The ledger of messages (needed to check receipts, edits and recalls) is kept only once a node of the
// account asks for it (the "emit" option, or a first edit or recall): recording every relayed chat
// would cost a bot that uses none of this (docs/PERFORMANCE.md).

import type { Node } from 'node-red';
import { CHAT_EVENT_TYPES, ChatEvents, isChatEvent } from '../lib/chatEvents';
import type { ImsMessage, MessageType } from '../lib/envelope';
import { ImsError } from '../lib/ids';
import type { ImsSession } from '../lib/session';
import { errorStatus } from './imsNode';
import { toNodeRedMessage } from './messages';

interface AccountEvents {
    events: ChatEvents;
    remembering: boolean;
}

const bySession = new WeakMap<ImsSession, AccountEvents>();

/** The account's ChatEvents; with `remember`, its ledger hears every chat and group message from now on. */
export function chatEventsOf(session: ImsSession, remember: boolean): ChatEvents {
    let account = bySession.get(session);
    if (!account) bySession.set(session, (account = { events: new ChatEvents(session), remembering: false }));
    if (remember && !account.remembering) {
        account.remembering = true;
        const events = account.events;
        session.on('message', (message) => {
            if (message.type === 'chat' || message.type === 'greeting' || message.type === 'group.message') events.receive(message);
        });
    }
    return account.events;
}

/** The account's ChatEvents when it keeps a ledger (so sent messages are recorded), else undefined. */
export function ledgerOf(session: ImsSession): ChatEvents | undefined {
    const account = bySession.get(session);
    return account?.remembering ? account.events : undefined;
}

/** The types a node takes: its own, and the chat events too when the node emits them. */
export function withChatEvents(types: readonly MessageType[], emit: boolean | undefined): readonly MessageType[] {
    return emit === true ? [...types, ...CHAT_EVENT_TYPES] : types;
}

/**
 * Sends a received typing, receipt, edit or recall out of `node` once checked; a forged one (a receipt
 * for messages never sent to its sender, a change of someone else's message) goes to a Catch node.
 * False for any other message, which the caller handles.
 */
export function emitChatEvent(node: Node, events: ChatEvents | undefined, message: ImsMessage): boolean {
    if (!isChatEvent(message.type) || !events) return false;
    // A receipt may overtake the acknowledgement of the message it confirms: check it once that is in.
    const waiting = message.type === 'receipt' ? events.whenSent() : undefined;
    if (waiting) waiting.then(() => checkAndSend(node, events, message));
    else checkAndSend(node, events, message);
    return true;
}

function checkAndSend(node: Node, events: ChatEvents, message: ImsMessage): void {
    const msg = toNodeRedMessage(message);
    try {
        const event = events.receive(message);
        if (event.type === 'receipt') {
            const payload: Record<string, unknown> = { status: event.status, ids: event.ids };
            if (event.upTo !== undefined) payload.upTo = event.upTo;
            if (event.conversation.kind === 'group') payload.group = event.conversation.id;
            msg.payload = payload;
        }
    } catch (error) {
        const err = error as ImsError;
        node.status(errorStatus(err));
        node.error(err.message, {
            topic: message.from,
            payload: err.message,
            ims: { event: 'rejected', code: err.code, topic: message.topic, kind: message.kind, type: message.type },
        });
        return;
    }
    node.send(msg);
}
