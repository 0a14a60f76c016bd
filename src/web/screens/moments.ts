// Moments: post, follow and unfollow, and the feed of followed users' posts (and one's own).

import type { App } from '../app';
import { h } from '../dom';
import { t } from '../i18n';
import { entryForm, screen } from './parts';

export function momentsScreen(app: App): HTMLElement {
    const client = app.client;
    if (!client) return h('div');
    const following = client.session.state.list('following');
    return screen(
        entryForm(app, {
            id: 'moment-text',
            label: t('moments.text'),
            button: t('moments.post'),
            primary: true,
            submit: (text) => client.post(text),
        }),
        entryForm(app, {
            id: 'follow-user',
            label: t('moments.follow'),
            button: t('moments.followButton'),
            submit: (id) => client.follow(id),
        }),
        following.length > 0
            ? h(
                  'p',
                  { class: 'hint following' },
                  `${t('moments.following')}: `,
                  ...following.map((id) =>
                      h(
                          'button',
                          {
                              class: 'chip',
                              'aria-label': `${t('contacts.unfollow')} ${id}`,
                              onclick: () => app.act(() => client.unfollow(id)),
                          },
                          `${id} ×`,
                      ),
                  ),
              )
            : null,
        client.moments.length === 0
            ? h('p', { class: 'hint' }, t('moments.empty'))
            : h(
                  'ul',
                  { class: 'feed', 'aria-label': t('nav.moments') },
                  ...client.moments.map((m) =>
                      h(
                          'li',
                          { class: 'moment' },
                          h('strong', {}, m.from),
                          ' ',
                          h('time', {}, new Date(m.ts).toLocaleString()),
                          h('p', {}, m.text),
                      ),
                  ),
              ),
    );
}
