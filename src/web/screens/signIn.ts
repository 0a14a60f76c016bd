// Sign in: broker URL (this Node-RED's ims-broker by default), user ID, password and device name. All
// but the password are remembered in this browser.

import type { App } from '../app';
import { ChatClient } from '../chatClient';
import { field, h } from '../dom';
import { t } from '../i18n';

export function signInScreen(app: App): HTMLElement {
    const remembered = app.settings.load();
    const url = h('input', {
        id: 'sign-in-url',
        name: 'url',
        required: true,
        value: remembered.url ?? app.defaults.url,
        autocomplete: 'url',
    });
    const user = h('input', { id: 'sign-in-user', name: 'user', required: true, value: remembered.userId ?? '', autocomplete: 'username' });
    const password = h('input', { id: 'sign-in-password', name: 'password', type: 'password', autocomplete: 'current-password' });
    const device = h('input', { id: 'sign-in-device', name: 'device', value: remembered.deviceId ?? '' });
    const submit = h('button', { type: 'submit', class: 'primary' }, t('signIn.submit'));
    const status = h('p', { class: 'hint', role: 'status' });
    const form = h(
        'form',
        {
            class: 'sign-in card',
            onsubmit: (event: Event) => {
                event.preventDefault();
                submit.disabled = true;
                status.textContent = t('signIn.connecting');
                signIn(app, url.value.trim(), user.value.trim(), password.value, device.value.trim()).catch((error: Error) => {
                    submit.disabled = false;
                    status.textContent = '';
                    // The broker's refusal says what was wrong; a broker that just closes the socket (some
                    // do over WebSocket) looks like an unreachable one: then name every suspect.
                    const code = (error as { code?: unknown }).code;
                    const why =
                        code === 'IMS_NOT_CONNECTED'
                            ? t('signIn.noConnection', { url: url.value })
                            : code === 'IMS_BAD_LOGIN'
                              ? t('signIn.badLogin')
                              : code === 'IMS_NOT_AUTHORIZED'
                                ? t('signIn.notAuthorized')
                                : code === 'IMS_BAD_CLIENT_ID'
                                  ? t('signIn.badDevice')
                                  : error.message;
                    app.error = t('signIn.failed', { error: why });
                    app.renderNow();
                });
            },
        },
        h('h2', {}, t('signIn.heading')),
        field(t('signIn.broker'), url),
        field(t('signIn.user'), user),
        field(t('signIn.password'), password),
        field(t('signIn.device'), device),
        submit,
        status,
    );
    return h('main', { class: 'screen' }, form);
}

async function signIn(app: App, url: string, userId: string, password: string, deviceName: string): Promise<void> {
    // One device ID per browser and user unless the person names it: a reload resumes the same session.
    const deviceId = deviceName || `${userId}_Web_${Math.random().toString(36).slice(2, 8)}`;
    const client = new ChatClient({
        url,
        userId,
        password,
        deviceId,
        parentTopic: app.defaults.parentTopic,
        groupPrefix: app.defaults.groupPrefix,
    });
    await client.signIn();
    app.settings.save({ ...app.settings.load(), url, userId, deviceId });
    app.setClient(client);
    app.go({ name: 'chats' });
}
