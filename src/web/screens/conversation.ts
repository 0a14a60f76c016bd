// One conversation: messages with day separators, own messages on the right with their ticks, replies,
// edit and recall of one's own messages, "typing…", and the composer.

import type { App } from '../app';
import type { ChatItem, ConversationData } from '../chatClient';
import type { Conversation } from '../../lib/chatEvents';
import { isPicture } from '../../lib/attachments';
import { h } from '../dom';
import { AttachmentInfo, attachmentUrl, prepareAttachment } from '../files';
import { language, t } from '../i18n';

/** The message being answered or edited, per conversation. */
const modes = new Map<string, { kind: 'reply' | 'edit'; item: ChatItem }>();

export function conversationScreen(app: App): HTMLElement {
    const client = app.client;
    if (!client || app.screen.name !== 'conversation') return h('div');
    const ref = app.screen.conversation;
    const data = client.conversation(ref);
    const key = `${ref.kind}:${ref.id}`;
    const mode = modes.get(key);
    const typers = client.typers(ref);
    const input = h('input', {
        id: 'composer',
        'aria-label': t('chat.message'),
        placeholder: t('chat.message'),
        autocomplete: 'off',
        value: app.drafts.get(key) ?? '',
        oninput: () => {
            app.drafts.set(key, input.value);
            if (input.value) client.typing(ref);
        },
    });
    const send = (): void => {
        const text = input.value.trim();
        if (!text) return;
        app.drafts.delete(key);
        modes.delete(key);
        input.value = '';
        if (mode?.kind === 'edit') app.act(() => client.edit(ref, mode.item, text));
        else app.act(() => client.send(ref, text, mode?.item));
    };
    return h(
        'main',
        { class: 'screen conversation-view' },
        h(
            'div',
            { class: 'conversation-header' },
            h('button', { class: 'back', onclick: () => app.go({ name: 'chats' }) }, '‹ ', t('nav.back')),
            h('h2', {}, ref.id),
            ref.kind === 'user'
                ? h('button', { onclick: () => app.go({ name: 'contact', user: ref.id }) }, t('chat.contact'))
                : h('button', { onclick: () => app.go({ name: 'groups' }) }, t('chat.members')),
        ),
        messageList(app, ref, data),
        h('p', { class: 'typing', 'aria-live': 'polite' }, typers.length > 0 ? t('chat.typing', { user: typers.join(', ') }) : ''),
        mode
            ? h(
                  'div',
                  { class: 'mode' },
                  h(
                      'span',
                      {},
                      mode.kind === 'edit' ? t('chat.editing') : t('chat.replyingTo', { user: mode.item.from, text: mode.item.text ?? '' }),
                  ),
                  h(
                      'button',
                      {
                          onclick: () => {
                              modes.delete(key);
                              app.renderNow();
                          },
                      },
                      t('chat.cancel'),
                  ),
              )
            : null,
        h(
            'form',
            {
                class: 'composer',
                onsubmit: (event: Event) => {
                    event.preventDefault();
                    send();
                },
            },
            attachButton(app, ref, () => modes.get(key)?.item),
            input,
            h('button', { type: 'submit', class: 'primary' }, t('chat.send')),
        ),
    );
}

function messageList(app: App, ref: Conversation, data: ConversationData): HTMLElement {
    const client = app.client;
    const list = h('ol', { class: 'messages', 'aria-label': ref.id });
    // Scrolling back past what this browser holds: the broker's history, where it keeps one.
    if (client?.history.hasEarlier(ref)) {
        const load = (): void => app.act(() => client.history.loadEarlier(ref));
        const earlier = h('li', { class: 'earlier' }, h('button', { onclick: load }, t('chat.earlier')));
        list.append(earlier);
        loadWhenSeen(list, earlier, load);
    }
    if (data.items.length === 0) list.append(h('li', { class: 'hint' }, t('chat.empty')));
    let day = '';
    for (const item of data.items) {
        const date = new Date(item.ts);
        const thisDay = date.toDateString();
        if (thisDay !== day) {
            day = thisDay;
            list.append(h('li', { class: 'day', role: 'separator' }, dayLabel(date)));
        }
        if (item.notice) {
            list.append(
                h('li', { class: 'member-notice' }, t(item.notice === 'joined' ? 'groups.joined' : 'groups.left', { user: item.from })),
            );
            continue;
        }
        const own = item.from === client?.userId;
        list.append(bubble(app, ref, item, own));
    }
    return list;
}

/**
 * Infinite scroll back: the next page is fetched as soon as the top of the list scrolls into view
 * (the button stays, for keyboards and screen readers). One fetch per rendering of the list: the
 * render after it brings a new marker, observed afresh.
 */
function loadWhenSeen(list: HTMLElement, marker: HTMLElement, load: () => void): void {
    if (typeof IntersectionObserver === 'undefined') return;
    const observer = new IntersectionObserver(
        (entries) => {
            if (!entries.some((entry) => entry.isIntersecting)) return;
            observer.disconnect();
            load();
        },
        { root: list },
    );
    observer.observe(marker);
}

function bubble(app: App, ref: Conversation, item: ChatItem, own: boolean): HTMLElement {
    const key = `${ref.kind}:${ref.id}`;
    const setMode = (kind: 'reply' | 'edit'): void => {
        modes.set(key, { kind, item });
        if (kind === 'edit') app.drafts.set(key, item.text ?? '');
        app.renderNow();
        document.getElementById('composer')?.focus();
    };
    const actions: HTMLElement[] = [];
    if (!item.recalled) {
        actions.push(
            h('button', { 'aria-label': `${t('chat.reply')}: ${item.text ?? ''}`, onclick: () => setMode('reply') }, t('chat.reply')),
        );
        if (own && item.tick !== 'sending' && item.tick !== 'failed') {
            actions.push(
                h('button', { 'aria-label': `${t('chat.edit')}: ${item.text ?? ''}`, onclick: () => setMode('edit') }, t('chat.edit')),
            );
            actions.push(
                h(
                    'button',
                    {
                        'aria-label': `${t('chat.recall')}: ${item.text ?? ''}`,
                        onclick: () => app.act(() => app.client?.recall(ref, item)),
                    },
                    t('chat.recall'),
                ),
            );
        }
    }
    return h(
        'li',
        { class: own ? 'message own' : 'message', 'data-id': item.id },
        !own && ref.kind === 'group' ? h('span', { class: 'sender' }, item.from) : null,
        item.replyTo ? h('blockquote', {}, `${item.replyTo.from}: ${item.replyTo.text}`) : null,
        item.attachment && !item.recalled ? attachmentView(item.attachment, app.client?.fileOf(item)) : null,
        item.recalled || item.text || !item.attachment
            ? h('p', { class: item.recalled ? 'text recalled' : 'text' }, item.recalled ? t('chat.recalled') : (item.text ?? ''))
            : null,
        h(
            'span',
            { class: 'meta' },
            h(
                'time',
                { datetime: new Date(item.ts).toISOString() },
                new Date(item.ts).toLocaleTimeString(language() === 'zh' ? 'zh-CN' : 'en', { hour: '2-digit', minute: '2-digit' }),
            ),
            item.edited && !item.recalled ? h('span', { class: 'edited' }, ` · ${t('chat.edited')}`) : null,
            own ? tick(ref, item) : null,
        ),
        actions.length > 0 ? h('span', { class: 'actions' }, ...actions) : null,
    );
}

/** The attach button and its file chooser: the picture or file goes at once (as a reply, in reply mode). */
function attachButton(app: App, ref: Conversation, replyingTo: () => ChatItem | undefined): HTMLElement {
    const chooser = h('input', { type: 'file', class: 'file-chooser', 'aria-label': t('chat.chooseFile'), tabindex: -1 });
    chooser.addEventListener('change', () => {
        const file = chooser.files?.[0];
        chooser.value = '';
        const client = app.client;
        if (!file || !client) return;
        app.act(async () => client.send(ref, '', replyingTo(), await prepareAttachment(file)));
    });
    return h(
        'span',
        { class: 'attach' },
        chooser,
        h('button', { type: 'button', 'aria-label': t('chat.attach'), title: t('chat.attach'), onclick: () => chooser.click() }, '+'),
    );
}

/** A picture inline; any other file as a download. */
function attachmentView(info: AttachmentInfo, data: string | undefined): HTMLElement {
    const url = attachmentUrl(info, data);
    if (isPicture(info.type) && url) {
        return h('img', { class: 'picture', src: url, alt: info.name, width: info.width, height: info.height });
    }
    if (!data || !url) return h('p', { class: 'file gone' }, t('chat.fileGone', { name: info.name }));
    return h(
        'a',
        { class: 'file', href: url, download: info.name, 'aria-label': t('chat.download', { name: info.name }) },
        `${info.name} (${Math.ceil(info.size / 1024)} KiB)`,
    );
}

function tick(ref: Conversation, item: ChatItem): HTMLElement {
    if (ref.kind === 'group' && item.readBy && item.readBy.length > 0) {
        return h('span', { class: 'tick read' }, ` ✓✓ ${t('chat.readBy', { count: item.readBy.length })}`);
    }
    const state = item.tick ?? 'sent';
    const marks: Record<string, string> = { sending: '…', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '!' };
    return h(
        'span',
        { class: `tick ${state}`, 'aria-label': t(`chat.${state}`), title: t(`chat.${state}`) },
        ` ${marks[state]} `,
        h('span', { class: 'tick-word' }, t(`chat.${state}`)),
    );
}

function dayLabel(date: Date): string {
    const today = new Date();
    const yesterday = new Date(today.getTime() - 86400000);
    if (date.toDateString() === today.toDateString()) return t('chat.today');
    if (date.toDateString() === yesterday.toDateString()) return t('chat.yesterday');
    return date.toLocaleDateString(language() === 'zh' ? 'zh-CN' : 'en', { year: 'numeric', month: 'long', day: 'numeric' });
}
