'use strict';
// Node-RED driven through the editor's own channels, as the editor does it: the admin HTTP API
// (flows, inject buttons) and the comms WebSocket that feeds the debug sidebar and node statuses.

const WebSocket = require('ws');

const V2 = { 'Node-RED-API-Version': 'v2', 'Content-Type': 'application/json' };

class Editor {
    constructor(url) {
        this.url = url;
        /** Every debug sidebar entry: {id, name, topic, msg (parsed when JSON), level (logs)}. */
        this.debug = [];
        /** The latest status of every node, by id. */
        this.status = new Map();
        this.waiters = new Set();
    }

    /** Opens the comms socket and subscribes to the debug sidebar and the statuses. */
    async open() {
        const ws = new WebSocket(`${this.url.replace(/^http/, 'ws')}comms`);
        await new Promise((resolve, reject) => {
            ws.once('open', resolve);
            ws.once('error', reject);
        });
        ws.on('message', (data) => {
            for (const { topic, data: body } of JSON.parse(data.toString())) {
                if (topic === 'debug') this.debug.push({ ...body, msg: parse(body.msg) });
                else if (topic.startsWith('status/')) this.status.set(topic.slice(7), body);
            }
            for (const waiter of [...this.waiters]) waiter();
        });
        ws.send(JSON.stringify({ subscribe: 'debug' }));
        ws.send(JSON.stringify({ subscribe: 'status/#' }));
        this.ws = ws;
        return this;
    }

    close() {
        this.ws?.close();
    }

    /** Resolves with `check()`'s first truthy answer, checked on every comms message; rejects after `ms`. */
    until(check, ms, what) {
        const first = check();
        if (first) return Promise.resolve(first);
        return new Promise((resolve, reject) => {
            const waiter = () => {
                const value = check();
                if (!value) return;
                this.waiters.delete(waiter);
                clearTimeout(timer);
                resolve(value);
            };
            const timer = setTimeout(() => {
                this.waiters.delete(waiter);
                reject(new Error(`timed out after ${ms} ms waiting for ${what}; debug: ${JSON.stringify(this.debug.slice(-10))}`));
            }, ms);
            this.waiters.add(waiter);
        });
    }

    /** The next debug entry of debug node `id` matching `pred`, after the `seen` ones already taken. */
    nextDebug(id, pred = () => true, ms = 10000) {
        return this.until(
            () => {
                const found = this.debug.find((d) => d.id === id && !d.taken && pred(d.msg));
                if (found) found.taken = true;
                return found && found.msg;
            },
            ms,
            `debug output of ${id}`,
        );
    }

    /** Errors and warnings the sidebar shows (node.error, node.warn), optionally of some nodes only. */
    problems(ids) {
        return this.debug.filter((d) => (d.level === 20 || d.level === 30) && (!ids || ids.has(d.id)));
    }

    /** Nodes whose status is red, optionally among `ids`. */
    red(ids) {
        return [...this.status].filter(([id, s]) => s && s.fill === 'red' && (!ids || ids.has(id))).map(([id, s]) => `${id}: ${s.text}`);
    }

    async flows() {
        const res = await fetch(`${this.url}flows`, { headers: V2 });
        if (!res.ok) throw new Error(`GET /flows: ${res.status}`);
        return res.json();
    }

    /** Deploys `nodes` beside what runs, replacing nodes with the same ids (the editor's "Modified Flows" deploy). */
    async add(nodes) {
        const { rev, flows } = await this.flows();
        const ids = new Set(nodes.map((n) => n.id));
        const res = await fetch(`${this.url}flows`, {
            method: 'POST',
            headers: { ...V2, 'Node-RED-Deployment-Type': 'flows' },
            body: JSON.stringify({ rev, flows: [...flows.filter((n) => !ids.has(n.id)), ...nodes] }),
        });
        if (!res.ok) throw new Error(`POST /flows: ${res.status} ${await res.text()}`);
    }

    /** Clicks an inject node's button. */
    async press(id) {
        const res = await fetch(`${this.url}inject/${id}`, { method: 'POST' });
        if (!res.ok) throw new Error(`inject ${id}: ${res.status}`);
    }
}

function parse(text) {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

module.exports = { Editor };
