// Groups: create one, join an invitation, and per group its members, invite and leave.

import type { App } from '../app';
import { clearField, field, h } from '../dom';
import { t } from '../i18n';

export function groupsScreen(app: App): HTMLElement {
    const client = app.client;
    if (!client) return h('div');
    const name = h('input', { id: 'group-name', autocomplete: 'off', placeholder: `${client.session.codec.rules.groupPrefix}…` });
    const groups = client.session.state.list('groups');
    return h(
        'main',
        { class: 'screen' },
        h(
            'form',
            {
                class: 'inline card',
                onsubmit: (event: Event) => {
                    event.preventDefault();
                    const id = name.value.trim();
                    if (id) app.act(() => client.createGroup(id).then(() => clearField('group-name')));
                },
            },
            field(t('groups.name'), name),
            h('button', { type: 'submit', class: 'primary' }, t('groups.create')),
        ),
        client.invitations.length > 0 ? h('h2', {}, t('groups.invitations')) : null,
        client.invitations.length > 0
            ? h(
                  'ul',
                  { class: 'people', 'aria-label': t('groups.invitations') },
                  ...client.invitations.map((i) =>
                      h(
                          'li',
                          { 'aria-label': i.group },
                          h('span', { class: 'name' }, t('groups.invitedBy', { group: i.group, user: i.from })),
                          h(
                              'button',
                              {
                                  class: 'primary',
                                  'aria-label': `${t('groups.join')} ${i.group}`,
                                  onclick: () => app.act(() => client.join(i.group)),
                              },
                              t('groups.join'),
                          ),
                      ),
                  ),
              )
            : null,
        h('h2', {}, t('groups.mine')),
        groups.length === 0 ? h('p', { class: 'hint' }, t('groups.none')) : h('div', {}, ...groups.map((g) => groupCard(app, g))),
    );
}

function groupCard(app: App, group: string): HTMLElement {
    const client = app.client;
    if (!client) return h('div');
    const user = h('input', { id: `invite-${group}`, autocomplete: 'off' });
    return h(
        'section',
        { class: 'card group', 'aria-label': group },
        h(
            'h3',
            {},
            h(
                'button',
                { class: 'link', onclick: () => app.go({ name: 'conversation', conversation: { kind: 'group', id: group } }) },
                group,
            ),
        ),
        h('p', { class: 'hint' }, `${t('chat.members')}: ${client.members(group).join(', ')}`),
        h(
            'form',
            {
                class: 'inline',
                onsubmit: (event: Event) => {
                    event.preventDefault();
                    const id = user.value.trim();
                    if (id) app.act(() => client.invite(group, id).then(() => clearField(`invite-${group}`)));
                },
            },
            field(t('groups.inviteUser'), user),
            h('button', { type: 'submit' }, t('chat.invite')),
        ),
        h('button', { class: 'danger', onclick: () => app.act(() => client.leave(group)) }, t('chat.leave')),
    );
}
