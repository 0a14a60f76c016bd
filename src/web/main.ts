// The web chat client's entry point (bundled by scripts/build-web.js): reads where this Node-RED's
// ims-broker takes WebSocket connections, picks the language and shows the sign-in screen.

import { App, Defaults } from './app';
import { browserLanguage, setLanguage } from './i18n';
import { chatsScreen, systemScreen } from './screens/chats';
import { contactScreen, contactsScreen } from './screens/contacts';
import { conversationScreen } from './screens/conversation';
import { groupsScreen } from './screens/groups';
import { momentsScreen } from './screens/moments';
import { signInScreen } from './screens/signIn';

interface ServerConfig {
    broker: { port: number; path: string; parentTopic: string; groupPrefix: string } | null;
}

/** Without an ims-broker WebSocket listener here, the port `npm start` uses is the best guess. */
const FALLBACK_WS_PORT = 1884;

async function defaults(): Promise<Defaults> {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    let config: ServerConfig = { broker: null };
    try {
        const response = await fetch('config.json', { cache: 'no-store' });
        if (response.ok) config = (await response.json()) as ServerConfig;
    } catch {
        // an old or unreachable server: the sign-in form still lets the person type a URL
    }
    const broker = config.broker;
    if (!broker) return { url: `${scheme}://${location.hostname}:${FALLBACK_WS_PORT}/mqtt` };
    return {
        url: `${scheme}://${location.hostname}:${broker.port}${broker.path}`,
        parentTopic: broker.parentTopic,
        groupPrefix: broker.groupPrefix,
    };
}

async function main(): Promise<void> {
    const root = document.getElementById('app') as HTMLElement;
    const app = new App(root, await defaults(), {
        signIn: signInScreen,
        chats: chatsScreen,
        conversation: conversationScreen,
        contacts: contactsScreen,
        contact: contactScreen,
        moments: momentsScreen,
        groups: groupsScreen,
        system: systemScreen,
    });
    setLanguage(app.settings.load().language ?? browserLanguage());
    document.addEventListener('visibilitychange', () => {
        if (document.visibilityState === 'visible') app.client?.pageShown();
    });
    app.renderNow();
}

void main();
