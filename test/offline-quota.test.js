'use strict';
// What is queued for a persistent session that is away is bounded (red team R8: one sender stored
// 31 MB for one offline user). Real broker, disk store, real sockets: the attack is a flood from one
// sender while Bob is away; the honest twins are the other senders' messages, which still arrive,
// and Alice's own messages once Bob has read the queue.

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { EmbeddedBroker } = require('../nodes/lib/broker');
const { connectAs, grants, envelope } = require('./helpers/mqtt-clients');
const { until } = require('./helpers/wait');

const ACCOUNTS = [
    { user: 'Alice', password: 'alice-pass' },
    { user: 'Bob', password: 'bob-pass' },
    { user: 'Carol', password: 'carol-pass' },
    { user: 'Dave', password: 'dave-pass' },
    { user: 'Ops', password: 'ops-pass', system: true },
];
const PASSWORD = Object.fromEntries(ACCOUNTS.map((a) => [a.user, a.password]));
const BOB_PHONE = 'GID_IMS@@@Bob_phone';

describe('the queue of a persistent session that is away', function () {
    this.timeout(60000);
    let broker;
    let dir;
    const clients = [];
    const refusals = [];

    async function start(limits) {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-quota-'));
        broker = await EmbeddedBroker.start({ port: 0, security: { accounts: ACCOUNTS }, storeDir: dir, limits });
        broker.on('refused', (refusal) => refusals.push(refusal));
    }
    async function as(user, options = {}) {
        const client = await connectAs(`mqtt://127.0.0.1:${broker.port}`, user, PASSWORD[user], options);
        clients.push(client);
        return client;
    }
    /** Bob's phone subscribes persistently, then goes away. */
    async function bobGoesAway() {
        const phone = await as('Bob', { clientId: BOB_PHONE, clean: false });
        assert.deepStrictEqual(await grants(phone, 'IMS/Bob/Inbox/#'), [1]);
        await phone.endAsync();
    }
    async function send(user, count, text = 'x') {
        const client = await as(user);
        for (let i = 0; i < count; i++) {
            await client.publishAsync(`IMS/Bob/Inbox/Chat/${user}`, envelope({ type: 'chat', from: user, text: `${text}${i}` }), {
                qos: 1,
            });
        }
    }
    /** Bob's phone comes back; resolves with the senders of what it got, once `expected` arrived and a marker after them. */
    async function bobComesBack(expected) {
        const phone = await as('Bob', { clientId: BOB_PHONE, clean: false });
        const chats = () => phone.received.filter(([topic]) => topic.startsWith('IMS/Bob/Inbox/Chat/'));
        await until(() => chats().length >= expected, 15000);
        // Nothing more is on its way: a marker sent now arrives after anything still queued.
        const ops = await as('Ops');
        await ops.publishAsync('IMS/Bob/Inbox/Chat/Ops', envelope({ type: 'chat', from: 'Ops', text: 'marker' }), { qos: 1 });
        await until(() => chats().some(([topic]) => topic.endsWith('/Ops')), 5000);
        const count = {};
        for (const [topic] of chats()) {
            const from = topic.split('/').pop();
            if (from !== 'Ops') count[from] = (count[from] ?? 0) + 1;
        }
        return { phone, count };
    }

    afterEach(async function () {
        await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
        await broker?.close();
        broker = undefined;
        refusals.length = 0;
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('keeps only a share of one flooding sender; the other senders still reach Bob', async function () {
        await start({ queuedPerSender: 40, queuedPerSession: 100 });
        await bobGoesAway();
        await send('Alice', 300, 'flood');
        await send('Carol', 10, 'hello');
        assert.strictEqual(broker.offlineQuota.queued(BOB_PHONE, 'Alice'), 40);
        assert.ok(
            refusals.some((r) => r.action === 'limit' && r.user === 'Alice' && /Bob_phone is away/.test(r.reason)),
            `no refusal for Alice: ${JSON.stringify(refusals.slice(0, 3))}`,
        );
        const { count } = await bobComesBack(50);
        assert.deepStrictEqual(count, { Alice: 40, Carol: 10 });
        // Once read, the queue is empty again: Alice may send while Bob is away next time.
        await until(() => broker.offlineQuota.queued(BOB_PHONE) === 0, 5000);
        assert.strictEqual(broker.offlineQuota.queued(BOB_PHONE), 0, 'the count is released as Bob acknowledges');
    });

    it('caps what all senders together queue for one session', async function () {
        await start({ queuedPerSender: 40, queuedPerSession: 100 });
        await bobGoesAway();
        await send('Alice', 40);
        await send('Carol', 40);
        await send('Dave', 40);
        const { count } = await bobComesBack(100);
        assert.deepStrictEqual(count, { Alice: 40, Carol: 40, Dave: 20 });
    });

    it('with the default limits, one sender cannot store more than 1 000 messages for an offline user', async function () {
        await start();
        await bobGoesAway();
        const alice = await as('Alice');
        const big = 'y'.repeat(20 * 1024);
        for (let i = 0; i < 1100; i++) {
            await alice.publishAsync('IMS/Bob/Inbox/Chat/Alice', envelope({ type: 'chat', from: 'Alice', text: big }), { qos: 1 });
        }
        const queued = await new Promise((resolve, reject) => {
            let n = 0;
            const stream = broker.aedes.persistence.outgoingStream({ id: BOB_PHONE });
            stream.on('data', () => n++);
            stream.on('end', () => resolve(n));
            stream.on('error', reject);
        });
        assert.strictEqual(queued, 1000, 'messages in the store for the offline session');
    });
});
