// The web chat client (src/web, bundled into nodes/web by the build) on Node-RED's httpNode, under
// httpNodeRoot: /ims/chat/ is the page, /ims/chat/config.json tells it where the ims-broker of this
// Node-RED takes MQTT over WebSocket. The page cannot guess that port from its own URL.

import type { NodeAPI } from 'node-red';
import * as path from 'path';

export const CHAT_PATH = '/ims/chat';
const WEB_DIR = path.join(__dirname, '..', 'web');
const ASSETS: Record<string, string> = { 'app.js': 'application/javascript', 'app.css': 'text/css', 'app.js.LEGAL.txt': 'text/plain' };

/** What the page needs to know of an ims-broker with a WebSocket listener. */
export interface WebSocketBroker {
    port: number;
    path: string;
    parentTopic: string;
    groupPrefix: string;
    secured: boolean;
}

/** The running ims-broker nodes with a WebSocket listener, by node ID. */
const brokers = new Map<string, WebSocketBroker>();

/** An ims-broker tells its WebSocket listener when it starts (a value) and when it stops (undefined). */
export function announceBroker(nodeId: string, broker: WebSocketBroker | undefined): void {
    if (broker) brokers.set(nodeId, broker);
    else brokers.delete(nodeId);
}

/** The page's configuration: the first broker with a WebSocket listener, or none. */
export function webChatConfig(): { broker: WebSocketBroker | null } {
    const [first] = brokers.values();
    return { broker: first ?? null };
}

/** The apps whose routes are in place: a module's register function may run again on the same runtime. */
const served = new WeakSet<object>();

/** Adds the routes once per Node-RED HTTP app; nothing when httpNodeRoot is off. */
export function serveWebChat(RED: NodeAPI): void {
    const app = RED.httpNode;
    if (!app || served.has(app)) return;
    served.add(app);
    app.get(CHAT_PATH, (req, res) => {
        // Relative asset URLs need the trailing slash; express matches the route with or without it.
        const [pathname, query] = req.originalUrl.split('?');
        if (!pathname.endsWith('/')) {
            res.redirect(301, `${pathname}/${query === undefined ? '' : `?${query}`}`);
            return;
        }
        res.set('Cache-Control', 'no-cache');
        res.sendFile(path.join(WEB_DIR, 'index.html'));
    });
    app.get(`${CHAT_PATH}/config.json`, (_req, res) => {
        res.set('Cache-Control', 'no-store');
        res.json(webChatConfig());
    });
    app.get(`${CHAT_PATH}/:asset`, (req, res) => {
        const type = Object.prototype.hasOwnProperty.call(ASSETS, req.params.asset) ? ASSETS[req.params.asset] : undefined;
        if (!type) {
            res.status(404).end();
            return;
        }
        res.set('Cache-Control', 'no-cache');
        res.type(type);
        res.sendFile(path.join(WEB_DIR, req.params.asset));
    });
}
