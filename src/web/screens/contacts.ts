// Contacts: add a friend, answer requests, the friend list; and one contact's view (chat, follow,
// remove, block, unblock).

import type { App } from '../app';
import { h } from '../dom';
import { t } from '../i18n';
import { entryForm, namedList, screen } from './parts';

export function contactsScreen(app: App): HTMLElement {
    const client = app.client;
    if (!client) return h('div');
    const state = client.session.state;
    const requests = state.list('requestsIn');
    return screen(
        entryForm(app, {
            id: 'add-friend-user',
            label: t('contacts.userId'),
            button: t('contacts.add'),
            primary: true,
            submit: (id) => client.addFriend(id),
        }),
        requests.length > 0 ? h('h2', {}, t('contacts.requests')) : null,
        namedList(t('contacts.requests'), requests, (id) => [
            h('span', { class: 'name' }, id),
            h(
                'button',
                {
                    class: 'primary',
                    'aria-label': `${t('contacts.accept')} ${id}`,
                    onclick: () => app.act(() => client.answerFriend(id, true)),
                },
                t('contacts.accept'),
            ),
            h(
                'button',
                { 'aria-label': `${t('contacts.reject')} ${id}`, onclick: () => app.act(() => client.answerFriend(id, false)) },
                t('contacts.reject'),
            ),
        ]),
        ...state.list('requestsOut').map((id) => h('p', { class: 'hint' }, `${id}: ${t('contacts.requested')}`)),
        h('h2', {}, t('contacts.friends')),
        namedList(
            t('contacts.friends'),
            state.list('friends'),
            (id) => [
                h('span', { class: client.online.get(id) ? 'dot online' : 'dot', 'aria-hidden': 'true' }),
                h('button', { class: 'link name', onclick: () => app.go({ name: 'contact', user: id }) }, id),
            ],
            t('contacts.none'),
        ),
    );
}

export function contactScreen(app: App): HTMLElement {
    const client = app.client;
    if (!client || app.screen.name !== 'contact') return h('div');
    const id = app.screen.user;
    const state = client.session.state;
    const blocked = state.has('blocked', id);
    const following = state.has('following', id);
    return screen(
        h('button', { class: 'back', onclick: () => app.go({ name: 'contacts' }) }, '‹ ', t('nav.back')),
        h('h2', {}, id),
        h('p', { class: 'hint' }, client.online.get(id) ? t('list.online') : t('list.offline')),
        blocked ? h('p', { class: 'hint' }, t('contacts.blocked')) : null,
        state.has('blockedBy', id) ? h('p', { class: 'hint' }, t('contacts.blockedBy')) : null,
        following ? h('p', { class: 'hint' }, t('contacts.following')) : null,
        h(
            'div',
            { class: 'buttons' },
            h(
                'button',
                { class: 'primary', onclick: () => app.go({ name: 'conversation', conversation: { kind: 'user', id } }) },
                t('contacts.open'),
            ),
            following
                ? h('button', { onclick: () => app.act(() => client.unfollow(id)) }, t('contacts.unfollow'))
                : h('button', { onclick: () => app.act(() => client.follow(id)) }, t('contacts.follow')),
            blocked
                ? h('button', { onclick: () => app.act(() => client.unblock(id)) }, t('contacts.unblock'))
                : h('button', { onclick: () => app.act(() => client.block(id)) }, t('contacts.block')),
            state.has('friends', id)
                ? h(
                      'button',
                      {
                          class: 'danger',
                          onclick: () =>
                              app.act(async () => {
                                  await client.removeFriend(id);
                                  app.go({ name: 'contacts' });
                              }),
                      },
                      t('contacts.remove'),
                  )
                : null,
        ),
    );
}
