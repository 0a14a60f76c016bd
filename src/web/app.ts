// The client's shell: which screen is on, the connection banner, the navigation and the language
// switch. Screens are functions of the model, re-rendered (at most once a frame) when it changes.

import { ChatClient } from './chatClient';
import type { Conversation } from '../lib/chatEvents';
import { h } from './dom';
import { Language, language, setLanguage, t } from './i18n';
import { Stored } from './storage';

export type Screen =
    | { name: 'signIn' }
    | { name: 'chats' }
    | { name: 'conversation'; conversation: Conversation }
    | { name: 'contacts' }
    | { name: 'contact'; user: string }
    | { name: 'moments' }
    | { name: 'groups' }
    | { name: 'system' };

export interface Defaults {
    url: string;
    parentTopic?: string;
    groupPrefix?: string;
}

export interface Settings {
    url?: string;
    userId?: string;
    deviceId?: string;
    language?: Language;
}

export type ScreenRenderer = (app: App) => HTMLElement;

export class App {
    client: ChatClient | undefined;
    screen: Screen = { name: 'signIn' };
    /** The composer's text per conversation, kept across re-renders. */
    readonly drafts = new Map<string, string>();
    error: string | undefined;
    readonly settings = new Stored<Settings>('ims-chat:settings');
    private scheduled = false;

    constructor(
        private readonly root: HTMLElement,
        readonly defaults: Defaults,
        private readonly screens: Record<Screen['name'], ScreenRenderer>,
    ) {}

    go(screen: Screen): void {
        this.screen = screen;
        this.error = undefined;
        this.client?.show(screen.name === 'conversation' ? screen.conversation : undefined);
        this.renderNow(false);
    }

    setClient(client: ChatClient | undefined): void {
        this.client = client;
        client?.on('change', () => this.render());
    }

    /** Runs a user's action; a failure shows as an alert on the screen instead of vanishing. */
    act(action: () => Promise<unknown> | unknown): void {
        Promise.resolve()
            .then(action)
            .then(
                () => this.render(),
                (error: Error) => {
                    this.error = t('error.action', { error: error.message });
                    this.render();
                },
            );
    }

    switchLanguage(next: Language): void {
        setLanguage(next);
        this.settings.save({ ...this.settings.load(), language: next });
        this.renderNow();
    }

    render(): void {
        if (this.scheduled) return;
        this.scheduled = true;
        requestAnimationFrame(() => this.renderNow());
    }

    renderNow(keepTyped = true): void {
        this.scheduled = false;
        // A re-render must not eat what is being typed: every field keeps its text (unless the screen
        // changed), the focused one its caret.
        const focused = document.activeElement instanceof HTMLInputElement ? document.activeElement : undefined;
        const focusId = focused?.id;
        const selection = focused ? [focused.selectionStart, focused.selectionEnd] : undefined;
        const typed = new Map<string, string>();
        for (const input of keepTyped ? this.root.querySelectorAll('input[id]') : []) {
            if (input instanceof HTMLInputElement && input.value) typed.set(input.id, input.value);
        }
        const page = h(
            'div',
            { class: 'app' },
            this.banner(),
            this.client ? this.nav() : null,
            this.error ? h('p', { class: 'error', role: 'alert' }, this.error) : null,
            this.screens[this.screen.name](this),
        );
        // Where the reader was in the conversation: at the bottom it follows new messages; scrolled up
        // (reading, or a page fetched above) it keeps the same messages in view.
        const before = this.root.querySelector('.messages');
        const fromBottom = before ? before.scrollHeight - before.scrollTop : 0;
        const following = !before || fromBottom - before.clientHeight < 40;
        const sameConversation = before?.getAttribute('aria-label');
        this.root.replaceChildren(page);
        for (const [id, value] of typed) {
            const again = document.getElementById(id);
            if (again instanceof HTMLInputElement && !again.value) again.value = value;
        }
        if (focusId) {
            const again = document.getElementById(focusId);
            if (again instanceof HTMLInputElement) {
                again.focus();
                if (selection) again.setSelectionRange(selection[0], selection[1]);
            }
        }
        const list = this.root.querySelector('.messages');
        if (!list) return;
        if (following || list.getAttribute('aria-label') !== sameConversation) list.scrollTop = list.scrollHeight;
        else list.scrollTop = list.scrollHeight - fromBottom;
    }

    private banner(): HTMLElement | null {
        const client = this.client;
        const header = h(
            'header',
            { class: 'top' },
            h('h1', {}, t('title')),
            h('label', { class: 'language' }, h('span', { class: 'sr-only' }, t('language')), this.languageSelect()),
        );
        if (!client || client.connectionState === 'connected') return header;
        const text =
            client.connectionState === 'connecting'
                ? t('banner.connecting')
                : client.connectionError
                  ? t('banner.error', { error: client.connectionError })
                  : t('banner.disconnected');
        return h('div', {}, header, h('div', { class: 'banner', role: 'status' }, text));
    }

    private languageSelect(): HTMLSelectElement {
        const select = h(
            'select',
            { 'aria-label': t('language'), onchange: () => this.switchLanguage(select.value as Language) },
            h('option', { value: 'en' }, 'English'),
            h('option', { value: 'zh' }, '中文'),
        );
        select.value = language();
        return select;
    }

    private nav(): HTMLElement {
        const tab = (name: 'chats' | 'contacts' | 'moments' | 'groups', label: string): HTMLElement =>
            h(
                'button',
                {
                    class: this.screen.name === name ? 'tab current' : 'tab',
                    'aria-current': this.screen.name === name ? 'page' : undefined,
                    onclick: () => this.go({ name }),
                },
                label,
            );
        return h(
            'nav',
            { class: 'tabs', 'aria-label': t('title') },
            tab('chats', t('nav.chats')),
            tab('contacts', t('nav.contacts')),
            tab('moments', t('nav.moments')),
            tab('groups', t('nav.groups')),
            h('button', { class: 'tab sign-out', onclick: () => this.act(() => this.signOut()) }, t('nav.signOut')),
        );
    }

    async signOut(): Promise<void> {
        const client = this.client;
        this.setClient(undefined);
        this.go({ name: 'signIn' });
        await client?.signOut();
    }
}
