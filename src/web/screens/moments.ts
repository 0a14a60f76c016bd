// Moments: post, follow and unfollow, and the feed of followed users' posts (and one's own).

import type { App } from '../app';
import { clearField, field, h } from '../dom';
import { t } from '../i18n';

export function momentsScreen(app: App): HTMLElement {
    const client = app.client;
    if (!client) return h('div');
    const text = h('input', { id: 'moment-text', autocomplete: 'off' });
    const user = h('input', { id: 'follow-user', autocomplete: 'off' });
    const following = client.session.state.list('following');
    return h(
        'main',
        { class: 'screen' },
        h(
            'form',
            {
                class: 'inline card',
                onsubmit: (event: Event) => {
                    event.preventDefault();
                    const value = text.value.trim();
                    if (value) app.act(() => client.post(value).then(() => clearField('moment-text')));
                },
            },
            field(t('moments.text'), text),
            h('button', { type: 'submit', class: 'primary' }, t('moments.post')),
        ),
        h(
            'form',
            {
                class: 'inline card',
                onsubmit: (event: Event) => {
                    event.preventDefault();
                    const id = user.value.trim();
                    if (id) app.act(() => client.follow(id).then(() => clearField('follow-user')));
                },
            },
            field(t('moments.follow'), user),
            h('button', { type: 'submit' }, t('moments.followButton')),
        ),
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
