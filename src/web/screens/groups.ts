// Groups: create one, join an invitation, and per group its members (the broker's list where it keeps
// one), invite and leave.

import type { App } from '../app';
import { h } from '../dom';
import { t } from '../i18n';
import { entryForm, namedList, screen } from './parts';

export function groupsScreen(app: App): HTMLElement {
    const client = app.client;
    if (!client) return h('div');
    const groups = client.session.state.list('groups');
    const invitations = client.invitations;
    const invitedBy = new Map(invitations.map((i) => [i.group, i.from]));
    return screen(
        entryForm(app, {
            id: 'group-name',
            label: t('groups.name'),
            button: t('groups.create'),
            primary: true,
            placeholder: `${client.session.codec.rules.groupPrefix}…`,
            submit: (id) => client.createGroup(id),
        }),
        invitations.length > 0 ? h('h2', {}, t('groups.invitations')) : null,
        namedList(
            t('groups.invitations'),
            invitations.map((i) => i.group),
            (group) => [
                h('span', { class: 'name' }, t('groups.invitedBy', { group, user: invitedBy.get(group) ?? '' })),
                h(
                    'button',
                    { class: 'primary', 'aria-label': `${t('groups.join')} ${group}`, onclick: () => app.act(() => client.join(group)) },
                    t('groups.join'),
                ),
            ],
        ),
        h('h2', {}, t('groups.mine')),
        groups.length === 0 ? h('p', { class: 'hint' }, t('groups.none')) : h('div', {}, ...groups.map((g) => groupCard(app, g))),
    );
}

function groupCard(app: App, group: string): HTMLElement {
    const client = app.client;
    if (!client) return h('div');
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
        h('p', { class: 'hint' }, `${t('chat.members')}:`),
        namedList(t('groups.membersOf', { group }), client.members(group), (user) => [h('span', { class: 'name' }, user)]),
        entryForm(app, {
            id: `invite-${group}`,
            label: t('groups.inviteUser'),
            button: t('chat.invite'),
            card: false,
            submit: (user) => client.invite(group, user),
        }),
        h('button', { class: 'danger', onclick: () => app.act(() => client.leave(group)) }, t('chat.leave')),
    );
}
