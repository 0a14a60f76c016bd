'use strict';
// The embedded broker's disk store: a persistent session with its queued QoS 1 messages, retained
// presence, and a block the broker learned all survive a restart of the broker; no message is lost.

const assert = require('assert');
const { until } = require('./helpers/wait');
const fs = require('fs');
const os = require('os');
const path = require('path');
const mqtt = require('mqtt');
const { EmbeddedBroker } = require('../nodes/lib/broker');

const ACCOUNTS = [
    { user: 'Alice', password: 'a' },
    { user: 'Bob', password: 'b' },
    { user: 'Carol', password: 'c' },
];

describe('embedded broker on disk', function () {
    let dir;
    let broker;
    let port;
    const clients = [];
    const start = async () => {
        broker = await EmbeddedBroker.start({ port: port || 0, storeDir: dir, security: { accounts: ACCOUNTS } });
        port = broker.port;
    };
    async function as(user, options = {}) {
        const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
            clientId: `GID_IMS@@@${user}_dev`,
            username: user,
            password: ACCOUNTS.find((a) => a.user === user).password,
            reconnectPeriod: 0,
            ...options,
        });
        c.received = [];
        c.on('message', (topic, payload, packet) => c.received.push([topic, payload.toString(), packet.retain]));
        clients.push(c);
        return c;
    }

    beforeEach(async function () {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-store-'));
        port = undefined;
        await start();
    });
    afterEach(async function () {
        await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
        await broker.close();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it('delivers every QoS 1 message queued for an offline session after the broker restarts', async function () {
        let bob = await as('Bob', { clean: false });
        await bob.subscribeAsync('IMS/Bob/Inbox/#', { qos: 1 });
        await bob.endAsync();
        const alice = await as('Alice');
        for (let i = 1; i <= 20; i++) await alice.publishAsync('IMS/Bob/Inbox/Chat/Alice', `message ${i}`, { qos: 1 });
        await alice.endAsync();
        await broker.close();
        await start();
        bob = await as('Bob', { clean: false });
        assert.ok(await until(() => bob.received.length >= 20), `got ${bob.received.length} of 20`);
        assert.deepStrictEqual(
            bob.received.map(([, p]) => p),
            Array.from({ length: 20 }, (_, i) => `message ${i + 1}`),
        );
        // The subscription itself came back too: a new message arrives without subscribing again.
        const alice2 = await as('Alice');
        await alice2.publishAsync('IMS/Bob/Inbox/Chat/Alice', 'after the restart', { qos: 1 });
        assert.ok(await until(() => bob.received.length >= 21));
    });

    it('keeps retained presence and the blocks it learned', async function () {
        const alice = await as('Alice');
        const carol = await as('Carol');
        await alice.publishAsync('IMS/Alice/Presence', JSON.stringify({ v: 1, id: 'p1', type: 'presence', data: { status: 'online' } }), {
            qos: 1,
            retain: true,
        });
        await carol.subscribeAsync('IMS/Carol/Inbox/#', { qos: 1 });
        await alice.publishAsync('IMS/Carol/Inbox/Update/Alice/Unsub', JSON.stringify({ v: 1, id: 'u1', type: 'unsub' }), { qos: 1 });
        // The broker learns the block as it routes the notice: once Carol has it, the block is known.
        assert.ok(await until(() => carol.received.some(([t]) => t.endsWith('/Unsub'))), 'Carol is told');
        await Promise.all([alice.endAsync(), carol.endAsync()]);
        await broker.close();
        await start();
        const bob = await as('Bob');
        await bob.subscribeAsync('IMS/Alice/Presence', { qos: 1 });
        assert.ok(await until(() => bob.received.length >= 1));
        assert.strictEqual(JSON.parse(bob.received[0][1]).data.status, 'online');
        assert.strictEqual(bob.received[0][2], true, 'delivered as retained');
        const carol2 = await as('Carol');
        const granted = await carol2.subscribeAsync('IMS/Alice', { qos: 1 }).then(
            (g) => g[0].qos,
            (e) => e.packet.granted[0],
        );
        assert.strictEqual(granted, 128, "Alice's block of Carol outlived the restart");
    });
});
