// The `history` action of ims-chat and ims-group: one page of the broker's history of a conversation,
// out as one message in the nodes' usual shape: msg.topic the peer (user or group), msg.payload the
// messages oldest first, each as a received message would come out of the node ({topic, payload, ims}),
// and msg.ims what a flow needs to ask for the next page (ims.before) or to show unread counts.

import type { NodeAPI, NodeMessage } from 'node-red';
import type { Conversation } from '../lib/chatEvents';
import { ImsError } from '../lib/ids';
import type { HistoryEntry } from '../lib/history';
import type { ImsSession } from '../lib/session';
import { ImsNodeMessage, toNodeRedMessage } from './messages';
import { shared } from './i18n';

/** msg.ims.before (a sequence number) pages further back; msg.ims.limit sets the page size. */
export async function historyPage(
    RED: NodeAPI,
    session: ImsSession,
    conversation: Conversation,
    msg: ImsNodeMessage,
): Promise<NodeMessage> {
    if (!(await session.history.available())) throw new ImsError(shared(RED, 'errors.noHistory'), 'IMS_NO_HISTORY');
    const asked = msg.ims as { before?: unknown; limit?: unknown } | undefined;
    const before = typeof asked?.before === 'number' ? asked.before : undefined;
    const limit = typeof asked?.limit === 'number' ? asked.limit : undefined;
    const page = await session.history.page(conversation, { before, limit });
    return {
        topic: conversation.id,
        payload: page.entries.map((entry) => entryMessage(session, entry, conversation)),
        ims: {
            type: 'history',
            from: session.userId,
            conversation: page.conversation,
            more: page.more,
            before: page.entries[0]?.seq,
            lastSeq: page.lastSeq,
            readUpTo: page.readUpTo,
            unread: page.unread,
        },
    } as NodeMessage;
}

/** A stored message as the node emits a received one, with its place in the conversation. */
function entryMessage(session: ImsSession, entry: HistoryEntry, conversation: Conversation): NodeMessage {
    const message = entry.message;
    const me = session.userId;
    const out = toNodeRedMessage({
        ...message,
        topic:
            conversation.kind === 'group'
                ? session.codec.groupMessage(conversation.id, message.from)
                : message.from === me
                  ? session.codec.chat(conversation.id, me)
                  : session.codec.chat(me, message.from),
        kind: conversation.kind === 'group' ? 'group' : 'chat',
        group: conversation.kind === 'group' ? conversation.id : undefined,
        verified: true,
        enveloped: true,
    });
    const ims = out.ims as unknown as Record<string, unknown>;
    ims.seq = entry.seq;
    if (entry.edited !== undefined) ims.edited = entry.edited;
    if (entry.recalled) ims.recalled = true;
    return out;
}
