// The conversation list (friends and groups, newest first, with the last message, an unread badge and
// a presence dot) and the system notices.

import type { App } from '../app';
import type { ChatItem, ConversationData, Notice } from '../chatClient';
import { h } from '../dom';
import { t, StringKey } from '../i18n';

export function chatsScreen(app: App): HTMLElement {
    const client = app.client;
    if (!client) return h('div');
    const conversations = client.conversations();
    const rows = conversations.map((c) => conversationRow(app, c));
    if (client.notices.length > 0) {
        rows.push(
            h(
                'li',
                { class: 'conversation', 'aria-label': t('list.system') },
                h(
                    'button',
                    { class: 'row', onclick: () => app.go({ name: 'system' }) },
                    h('span', { class: 'avatar', 'aria-hidden': 'true' }, '!'),
                    h('span', { class: 'name' }, t('list.system')),
                    h('span', { class: 'last' }, noticeText(client.notices[0])),
                ),
            ),
        );
    }
    return h(
        'main',
        { class: 'screen' },
        rows.length === 0
            ? h('p', { class: 'hint' }, t('list.empty'))
            : h('ul', { class: 'conversations', 'aria-label': t('nav.chats') }, ...rows),
    );
}

function conversationRow(app: App, c: ConversationData): HTMLElement {
    const client = app.client;
    const last = [...c.items].reverse().find((i) => !i.notice);
    const online = c.kind === 'user' ? client?.online.get(c.id) === true : undefined;
    return h(
        'li',
        { class: 'conversation', 'aria-label': c.id },
        h(
            'button',
            { class: 'row', onclick: () => app.go({ name: 'conversation', conversation: { kind: c.kind, id: c.id } }) },
            online === undefined
                ? h('span', { class: 'avatar group', 'aria-hidden': 'true' }, '#')
                : h('span', {
                      class: online ? 'dot online' : 'dot',
                      title: t(online ? 'list.online' : 'list.offline'),
                      'aria-label': t(online ? 'list.online' : 'list.offline'),
                  }),
            h('span', { class: 'name' }, c.id),
            h('span', { class: 'last' }, last ? preview(app, last) : ''),
            c.unread > 0 ? h('span', { class: 'badge', 'aria-label': t('list.unread', { count: c.unread }) }, String(c.unread)) : null,
        ),
    );
}

function preview(app: App, item: ChatItem): string {
    const text = item.recalled ? t('chat.recalled') : (item.text ?? '');
    return item.from === app.client?.userId ? text : `${item.from}: ${text}`;
}

const NOTICE_KEYS: Record<Notice['key'], StringKey | undefined> = {
    friendRequest: 'notice.friendRequest',
    friendAccepted: 'notice.friendAccepted',
    friendRejected: 'notice.friendRejected',
    invite: 'notice.invite',
    blocked: 'notice.blocked',
    refused: 'notice.refused',
    system: undefined,
};

export function noticeText(notice: Notice): string {
    const key = NOTICE_KEYS[notice.key];
    return key ? t(key, { user: notice.user ?? '', group: notice.group ?? '', error: notice.text ?? '' }) : (notice.text ?? '');
}

export function systemScreen(app: App): HTMLElement {
    const notices = app.client?.notices ?? [];
    return h(
        'main',
        { class: 'screen' },
        h('h2', {}, t('list.system')),
        h(
            'ul',
            { class: 'notices' },
            ...notices.map((n) => h('li', {}, h('time', {}, new Date(n.ts).toLocaleString()), ' ', noticeText(n))),
        ),
    );
}
