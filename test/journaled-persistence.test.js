'use strict';
// The disk store's journaled persistence (src/lib/broker/journaledPersistence.ts): aedes works on its
// memory persistence and the changes reach aedes-persistence-level a window later. A QoS 1 message
// enqueued and cleared within the window never reaches LevelDB; one left uncleared does; a store
// reopened after close() has everything; a burst for an offline session survives restarts in order;
// and aedes-persistence's own conformance suite passes on it.

const assert = require('assert');
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const mqtt = require('mqtt');
const { ClassicLevel } = require('classic-level');
const { BatchedLevel } = require('../nodes/lib/broker/batchedPersistence');
const { JournaledPersistence } = require('../nodes/lib/broker/journaledPersistence');
const { DiskStore } = require('../nodes/lib/broker/diskStore');
const { levelPersistence, memoryPersistence, storedSessions } = require('../nodes/lib/broker/aedesAdapter');
const { EmbeddedBroker } = require('../nodes/lib/broker');
const { sleep, until } = require('./helpers/wait');

/** `until` for a check that must read the store (asynchronously). */
async function untilAsync(check, ms) {
    const deadline = Date.now() + ms;
    while (!(await check()) && Date.now() < deadline) await sleep(10);
    return check();
}

async function drain(stream) {
    const items = [];
    for await (const item of stream) items.push(item);
    return items;
}

function packet(counter, text = `m${counter}`) {
    return {
        cmd: 'publish',
        topic: 'IMS/Bob/Inbox/Chat/Alice',
        payload: Buffer.from(text),
        qos: 1,
        retain: false,
        brokerId: 'b1',
        brokerCounter: counter,
    };
}

describe('journaled persistence of the disk store', function () {
    let dir;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-journal-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('never writes a message enqueued and cleared within one window, and writes one left uncleared', async function () {
        const db = new ClassicLevel(dir);
        await db.open();
        // Every key LevelDB is asked to write, by batch.
        const written = [];
        const counting = {
            get: (key, options) => db.get(key, options),
            batch: (ops, options) => (written.push(...ops.map((op) => `${op.type} ${op.key}`)), db.batch(ops, options)),
            clear: (range) => db.clear(range),
            values: (options) => db.values(options),
            iterator: (options) => db.iterator(options),
            close: () => db.close(),
        };
        const level = new BatchedLevel(counting);
        // A window long enough that this test's changes all fall in one.
        const journal = new JournaledPersistence(memoryPersistence(), levelPersistence(level), {
            windowMs: 60000,
            storedSessions: () => storedSessions((range) => db.keys(range)),
        });
        // Bob is connected (aedes's client table, as the persistence sees the broker); Alice is away.
        await journal.setup({ id: 'b1', clients: { bob: {} } });
        const bob = { id: 'bob' };
        const COUNT = 100;
        for (let i = 1; i <= COUNT; i++) {
            // As aedes queues a message for a persistent session; Bob's PUBACK comes turns later.
            await journal.outgoingEnqueueCombi([{ clientId: 'bob' }], packet(i));
            await journal.outgoingUpdate(bob, { ...packet(i), messageId: i });
            await new Promise((resolve) => setImmediate(resolve));
            await journal.outgoingUpdate(bob, { ...packet(i), messageId: i, dup: true });
            if (i < COUNT) assert.strictEqual((await journal.outgoingClearMessageId(bob, { messageId: i })).brokerCounter, i);
        }
        assert.strictEqual(journal.journalLength, COUNT * 4 - 1, 'every change is journaled');
        assert.deepStrictEqual(written, [], 'nothing written before the window ends');
        // A message for a session that is away is handed to the level store at the end of its turn
        // (its call resolves then), ahead of the traffic that waits.
        await journal.outgoingEnqueueCombi([{ clientId: 'alice' }], packet(COUNT + 1));
        assert.strictEqual(journal.journalLength, COUNT * 4 - 1);
        await level.flush();
        assert.deepStrictEqual(written, ['put outgoing:alice:b1:0000000000000101']);
        await journal.flush();
        assert.strictEqual(journal.journalLength, 0);
        await level.flush();
        const outgoing = written.filter((op) => op.includes('outgoing'));
        assert.deepStrictEqual(outgoing.sort(), [
            'put outgoing-id:bob:0000000000000100',
            'put outgoing:alice:b1:0000000000000101',
            'put outgoing:bob:b1:0000000000000100',
        ]);
        assert.strictEqual(journal.changesWritten, 3, "Bob's enqueue and last update, Alice's enqueue");
        const [stored] = await drain(journal.outgoingStream(bob));
        assert.strictEqual(stored.messageId, COUNT);
        await journal.destroy();

        // Reopened: the uncleared message alone, with its packet ID, cleared by its PUBACK.
        const store = await DiskStore.open(dir);
        await store.persistence.setup({ id: 'b2' });
        const queued = await drain(store.persistence.outgoingStream(bob));
        assert.deepStrictEqual(
            queued.map((p) => [p.brokerCounter, p.messageId, p.dup, p.payload.toString()]),
            [[COUNT, COUNT, true, `m${COUNT}`]],
        );
        assert.strictEqual((await store.persistence.outgoingClearMessageId(bob, { messageId: COUNT })).brokerCounter, COUNT);
        await store.close();
        const again = await DiskStore.open(dir);
        await again.persistence.setup({ id: 'b3' });
        assert.deepStrictEqual(await drain(again.persistence.outgoingStream(bob)), [], 'the PUBACK reached the disk');
        await again.close();
    });

    it('has everything after close() and reopening: subscriptions, queues, QoS 2 packets, wills, retained messages', async function () {
        let store = await DiskStore.open(dir);
        let p = store.persistence;
        await p.setup({ id: 'b1' });
        const bob = { id: 'GID_IMS@@@Bob:dev/1' }; // an ID that needs URI encoding
        await p.addSubscriptions(bob, [
            { topic: 'IMS/Bob/Inbox/#', qos: 1 },
            { topic: 'IMS/Bob/Status', qos: 0 },
        ]);
        await p.addSubscriptions({ id: 'gone' }, [{ topic: 'IMS/x', qos: 1 }]);
        await p.cleanSubscriptions({ id: 'gone' });
        for (let i = 1; i <= 3; i++) await p.outgoingEnqueueCombi([{ clientId: bob.id }], packet(i));
        await p.outgoingUpdate(bob, { ...packet(1), messageId: 42 });
        await p.incomingStorePacket(bob, { ...packet(9), qos: 2, messageId: 7 });
        await p.incomingStorePacket(bob, { ...packet(10), qos: 2, messageId: 8 });
        await p.incomingDelPacket(bob, { messageId: 8 });
        await p.putWill(bob, { cmd: 'publish', topic: 'IMS/Bob/Status', payload: Buffer.from('offline'), qos: 1, retain: true });
        await p.storeRetained({ cmd: 'publish', topic: 'IMS/Bob/Status', payload: Buffer.from('online'), qos: 0, retain: true });
        await p.storeRetained({ cmd: 'publish', topic: 'IMS/Alice/Status', payload: Buffer.from('online'), qos: 0, retain: true });
        await p.storeRetained({ cmd: 'publish', topic: 'IMS/Alice/Status', payload: Buffer.alloc(0), qos: 0, retain: true });
        assert.ok(store.pendingWrites > 0, 'all of it still in the journal');
        await store.close();

        store = await DiskStore.open(dir);
        p = store.persistence;
        await p.setup({ id: 'b2' });
        assert.deepStrictEqual((await p.subscriptionsByClient(bob)).map((s) => [s.topic, s.qos]).sort(), [
            ['IMS/Bob/Inbox/#', 1],
            ['IMS/Bob/Status', 0],
        ]);
        assert.deepStrictEqual(
            (await p.subscriptionsByTopic('IMS/Bob/Inbox/Chat/Alice')).map((s) => s.clientId),
            [bob.id],
        );
        assert.deepStrictEqual(await p.countOffline(), { subsCount: 1, clientsCount: 1 });
        const queued = await drain(p.outgoingStream(bob));
        assert.deepStrictEqual(
            queued.map((q) => [q.brokerCounter, q.messageId ?? undefined, q.payload.toString()]),
            [
                [1, 42, 'm1'],
                [2, undefined, 'm2'],
                [3, undefined, 'm3'],
            ],
        );
        assert.strictEqual((await p.incomingGetPacket(bob, { messageId: 7 })).payload.toString(), 'm9');
        await assert.rejects(p.incomingGetPacket(bob, { messageId: 8 }), /no such packet/);
        const wills = await drain(p.streamWill({ b2: Date.now() }));
        assert.deepStrictEqual(
            wills.map((w) => [w.clientId, w.brokerId, w.payload.toString()]),
            [[bob.id, 'b1', 'offline']],
            "the will keeps the old broker's id, so aedes publishes it",
        );
        const retained = await drain(p.createRetainedStream('#'));
        assert.deepStrictEqual(
            retained.map((r) => [r.topic, r.payload.toString()]),
            [['IMS/Bob/Status', 'online']],
        );
        await store.close();
    });

    it('restores a burst for an offline session in order after a restart, and not again once acknowledged', async function () {
        this.timeout(60000);
        const accounts = [
            { user: 'Alice', password: 'a' },
            { user: 'Bob', password: 'b' },
        ];
        const COUNT = 500;
        const options = { port: 0, storeDir: dir, security: { accounts } };
        let broker = await EmbeddedBroker.start(options);
        const as = (user, extra) =>
            mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, {
                clientId: `GID_IMS@@@${user}_dev`,
                username: user,
                password: accounts.find((a) => a.user === user).password,
                reconnectPeriod: 0,
                ...extra,
            });
        const connected = (client) => new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject));
        let bob = as('Bob', { clean: false });
        await connected(bob);
        await bob.subscribeAsync('IMS/Bob/Inbox/#', { qos: 1 });
        await bob.endAsync();
        let alice = as('Alice');
        await connected(alice);
        await Promise.all(Array.from({ length: COUNT }, (_, i) => alice.publishAsync('IMS/Bob/Inbox/Chat/Alice', `m${i}`, { qos: 1 })));
        alice.end(true);
        // Closed at once: the burst is still in the journal; close() writes it.
        await broker.close();

        broker = await EmbeddedBroker.start(options);
        let received = [];
        bob = as('Bob', { clean: false });
        bob.on('message', (_topic, payload) => received.push(payload.toString()));
        assert.ok(await until(() => received.length >= COUNT, 30000), `got ${received.length} of ${COUNT}`);
        assert.deepStrictEqual(
            received,
            Array.from({ length: COUNT }, (_, i) => `m${i}`),
            'every message once, in order',
        );
        // mqtt.js acknowledges on receipt; the last PUBACK is in once Bob's queue in memory is empty.
        const bobSession = { id: 'GID_IMS@@@Bob_dev' };
        assert.ok(await untilAsync(async () => (await drain(broker.store.persistence.outgoingStream(bobSession))).length === 0, 10000));
        await bob.endAsync();
        await broker.close();

        // Restarted again: the acknowledged burst is gone; a new message is all Bob gets.
        broker = await EmbeddedBroker.start(options);
        alice = as('Alice');
        await connected(alice);
        await alice.publishAsync('IMS/Bob/Inbox/Chat/Alice', 'last', { qos: 1 });
        await alice.endAsync();
        received = [];
        bob = as('Bob', { clean: false });
        bob.on('message', (_topic, payload) => received.push(payload.toString()));
        try {
            assert.ok(await until(() => received.includes('last'), 10000), `got ${received.length}`);
            assert.deepStrictEqual(received, ['last']);
        } finally {
            await bob.endAsync();
            await broker.close();
        }
    });

    it("passes aedes-persistence's conformance suite", function () {
        this.timeout(120000);
        const result = spawnSync(process.execPath, ['--test', path.join(__dirname, 'fixtures', 'journaled-conformance.js')], {
            encoding: 'utf8',
        });
        assert.match(
            result.stdout,
            /^# fail 0$/m,
            result.stdout
                .split('\n')
                .filter((l) => l.startsWith('not ok'))
                .join('\n'),
        );
        assert.match(result.stdout, /^# pass [1-9]\d*$/m);
        assert.strictEqual(result.status, 0);
    });
});
