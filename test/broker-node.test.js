'use strict';
// ims-broker: a real broker that ordinary MQTT clients use over TCP and WebSocket; it reports its
// clients, checks logins, and a redeploy reopens the same ports without "port in use".

const assert = require('assert');
const mqtt = require('mqtt');
const { freePort } = require('./helpers/brokers');
const { helper, load, waitForStatus, nextMessage, account, connected } = require('./helpers/red');

function connect(url, options = {}) {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 3000, ...options });
    return new Promise((resolve, reject) => {
        client.once('connect', () => resolve(client));
        client.once('error', (error) => {
            client.end(true);
            reject(error);
        });
    });
}

async function pubSub(url, options) {
    const sub = await connect(url, options);
    const pub = await connect(url, options);
    try {
        await sub.subscribeAsync('IMS/UserB/Inbox/#', { qos: 1 });
        const got = new Promise((resolve) => sub.once('message', (topic, payload) => resolve([topic, payload.toString()])));
        await pub.publishAsync('IMS/UserB/Inbox/Chat/UserA', 'hello', { qos: 1 });
        return await got;
    } finally {
        await Promise.all([sub.endAsync(), pub.endAsync()]);
    }
}

describe('ims-broker', function () {
    afterEach(() => helper.unload());

    it('serves MQTT clients over TCP and WebSocket and shows how many are connected', async function () {
        const [port, wsPort] = [await freePort(), await freePort()];
        await load([{ id: 'b', type: 'ims-broker', port: String(port), wsPort: String(wsPort), wsPath: '/mqtt' }]);
        const node = helper.getNode('b');
        await waitForStatus(node, (s) => s.fill === 'green');
        assert.deepStrictEqual(await pubSub(`mqtt://127.0.0.1:${port}`), ['IMS/UserB/Inbox/Chat/UserA', 'hello']);
        assert.deepStrictEqual(await pubSub(`ws://127.0.0.1:${wsPort}/mqtt`), ['IMS/UserB/Inbox/Chat/UserA', 'hello']);

        // The broker may report the new client before its CONNACK reaches the client: watch from before.
        const shown = waitForStatus(node, (s) => s.fill === 'green' && s.text === 'ims-broker.status.clients');
        const client = await connect(`mqtt://127.0.0.1:${port}`);
        assert.ok(await shown);
        assert.strictEqual(node.status.lastCall.args[0].fill, 'green');
        await client.endAsync();
    });

    it('binds to 127.0.0.1 by default', async function () {
        const port = await freePort();
        await load([{ id: 'b', type: 'ims-broker', port: String(port) }]);
        await waitForStatus(helper.getNode('b'), (s) => s.fill === 'green');
        const { networkInterfaces } = require('os');
        const outside = Object.values(networkInterfaces())
            .flat()
            .find((i) => i.family === 'IPv4' && !i.internal);
        if (outside) await assert.rejects(connect(`mqtt://${outside.address}:${port}`), /ECONNREFUSED/);
        await (await connect(`mqtt://127.0.0.1:${port}`)).endAsync();
    });

    it('requires the configured user name and password', async function () {
        const port = await freePort();
        await load([{ id: 'b', type: 'ims-broker', port: String(port) }], { b: { user: 'ims', password: 's3cret' } });
        await waitForStatus(helper.getNode('b'), (s) => s.fill === 'green');
        const url = `mqtt://127.0.0.1:${port}`;
        await assert.rejects(connect(url), /Bad username or password|Not authorized/i);
        await assert.rejects(connect(url, { username: 'ims', password: 'wrong' }), /Bad username or password/i);
        assert.deepStrictEqual(await pubSub(url, { username: 'ims', password: 's3cret' }), ['IMS/UserB/Inbox/Chat/UserA', 'hello']);
    });

    it('reopens the same port at once on a redeploy, and IM accounts carry on', async function () {
        const port = await freePort();
        const flow = [
            { id: 'tab1', type: 'tab' },
            { id: 'b', type: 'ims-broker', port: String(port), z: 'tab1', x: 10, y: 10, wires: [] },
            { ...account('cfgA', 'UserA', `mqtt://127.0.0.1:${port}`) },
            { ...account('cfgB', 'UserB', `mqtt://127.0.0.1:${port}`) },
            { id: 'chatA', type: 'ims-chat', account: 'cfgA', z: 'tab1', x: 10, y: 50, wires: [[]] },
            { id: 'chatB', type: 'ims-chat', account: 'cfgB', z: 'tab1', x: 10, y: 90, wires: [['out']] },
            { id: 'out', type: 'helper', z: 'tab1', x: 10, y: 130 },
        ];
        await helper.load(require('./helpers/red').nodeModules, flow);
        await Promise.all([connected(helper.getNode('cfgA')), connected(helper.getNode('cfgB'))]);
        for (let deploy = 1; deploy <= 3; deploy++) {
            // A full deploy stops every node (the broker frees its port) and starts them again.
            await helper.setFlows(
                flow.map((n) => (n.id === 'b' ? { ...n, name: `deploy ${deploy}` } : n)),
                'full',
            );
            const b = helper.getNode('b');
            await waitForStatus(b, (s) => s.fill === 'green' || s.fill === 'red').catch(() => undefined);
            assert.notStrictEqual(b.status.lastCall.args[0].fill, 'red', `deploy ${deploy}: ${b.status.lastCall.args[0].text}`);
            await Promise.all([connected(helper.getNode('cfgA'), 8000), connected(helper.getNode('cfgB'), 8000)]);
            const got = nextMessage(helper.getNode('out'));
            helper.getNode('chatA').receive({ topic: 'UserB', payload: `deploy ${deploy}` });
            assert.strictEqual((await got).payload, `deploy ${deploy}`);
        }
    });

    it('reports a port it cannot open as a catchable error', async function () {
        const port = await freePort();
        const blocker = require('net').createServer().listen(port, '127.0.0.1');
        try {
            await load([
                { id: 'b', type: 'ims-broker', port: String(port) },
                { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
                { id: 'caught', type: 'helper' },
            ]);
            const msg = await nextMessage(helper.getNode('caught'), 8000);
            assert.match(msg.error.message, /ims-broker.errors.listen/);
            assert.strictEqual(helper.getNode('b').status.lastCall.args[0].fill, 'red');
        } finally {
            blocker.close();
        }
    });
});

describe('ims-broker limits and store errors', function () {
    afterEach(async function () {
        await helper.unload();
        this.cleanupSettings?.();
        this.cleanupSettings = undefined;
    });

    it('takes its limits from the dialog, and a limit hit comes out of its output', async function () {
        const port = await freePort();
        const accounts = JSON.stringify([{ user: 'Alice', password: 'pw' }]);
        await load(
            [
                {
                    id: 'b',
                    type: 'ims-broker',
                    port: String(port),
                    security: true,
                    persist: false,
                    subscriptionsPerClient: '2',
                    wires: [['out']],
                },
                { id: 'out', type: 'helper' },
            ],
            { b: { accounts } },
        );
        await waitForStatus(helper.getNode('b'), (s) => s.fill === 'green');
        const refusal = nextMessage(helper.getNode('out'));
        const client = await connect(`mqtt://127.0.0.1:${port}`, { username: 'Alice', password: 'pw', clientId: 'GID_IMS@@@Alice_t' });
        try {
            const granted = await client
                .subscribeAsync(['IMS/Alice/Inbox/#', 'IMS/Alice', 'IMS/Alice/Presence'], { qos: 1 })
                .catch((e) => e.packet.granted);
            assert.deepStrictEqual(
                granted.map((g) => (typeof g === 'number' ? g : g.qos)),
                [1, 1, 128],
            );
            const msg = await refusal;
            assert.strictEqual(msg.payload.action, 'subscribe');
            assert.match(msg.payload.reason, /2 subscriptions \(the limit\)/);
        } finally {
            await client.endAsync();
        }
    });

    it('warns, turns red and sends a refusal when its disk store cannot save, and recovers', async function () {
        const port = await freePort();
        // The disk store lives in the Node-RED user directory.
        const userDir = require('fs').mkdtempSync(require('path').join(require('os').tmpdir(), 'ims-broker-store-'));
        helper.settings({ userDir });
        this.test.ctx.cleanupSettings = () => {
            helper.settings({});
            require('fs').rmSync(userDir, { recursive: true, force: true });
        };
        const accounts = JSON.stringify([
            { user: 'Alice', password: 'pw' },
            { user: 'Bob', password: 'pw' },
            { user: 'Carol', password: 'pw' },
        ]);
        await load(
            [
                { id: 'b', type: 'ims-broker', port: String(port), security: true, wires: [['out']] },
                { id: 'out', type: 'helper' },
            ],
            { b: { accounts } },
        );
        const node = helper.getNode('b');
        await waitForStatus(node, (s) => s.fill === 'green');
        const store = node.embeddedBroker.store;
        const put = store.db.put.bind(store.db);
        store.db.put = () => Promise.reject(new Error('disk full'));
        const red = waitForStatus(node, (s) => s.fill === 'red' && s.text === 'ims-broker.status.storeError');
        const refusal = nextMessage(helper.getNode('out'));
        const bob = await connect(`mqtt://127.0.0.1:${port}`, { username: 'Bob', password: 'pw', clientId: 'GID_IMS@@@Bob_t' });
        try {
            await bob.publishAsync('IMS/Alice/Inbox/Update/Bob/Unsub', JSON.stringify({ v: 1, id: 'x1', type: 'unsub', from: 'Bob' }), {
                qos: 1,
            });
            await red;
            assert.strictEqual((await refusal).payload.action, 'store');
            assert.ok(node.warn.calledWith('ims-broker.errors.store'));
            store.db.put = put;
            const green = waitForStatus(node, (s) => s.fill === 'green');
            await bob.publishAsync('IMS/Carol/Inbox/Update/Bob/Unsub', JSON.stringify({ v: 1, id: 'x2', type: 'unsub', from: 'Bob' }), {
                qos: 1,
            });
            await green;
        } finally {
            await bob.endAsync();
        }
    });
});
