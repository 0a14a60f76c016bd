'use strict';
// The disk store's batched LevelDB (src/lib/broker/batchedPersistence.ts) on a real classic-level
// database and aedes's real level persistence: reads see every write at once, the disk ends up with
// exactly the last write of every key in order, a burst queued for an offline session comes back
// whole after a restart, and a failed batch is reported, kept and written once the disk works again.

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const fc = require('fast-check');
const mqtt = require('mqtt');
const { ClassicLevel } = require('classic-level');
const { BatchedLevel } = require('../nodes/lib/broker/batchedPersistence');
const { EmbeddedBroker } = require('../nodes/lib/broker');
const { until } = require('./helpers/wait');

const BUFFER = { valueEncoding: 'buffer' };
const KEYS = ['outgoing:a:1', 'outgoing:a:2', 'outgoing:b:1', 'retained:x', 'retained:é', 'retained:😀'];

async function openDb(dir) {
    const db = new ClassicLevel(dir);
    await db.open();
    return db;
}

async function diskContents(db) {
    const entries = {};
    for await (const [key, value] of db.iterator(BUFFER)) entries[key] = value.toString();
    return entries;
}

async function valuesOf(level, range) {
    const values = [];
    for await (const value of level.values({ ...range, ...BUFFER })) values.push(value.toString());
    return values;
}

describe('batched LevelDB of the disk store', function () {
    let dir;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-batched-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('writes the last write of each key, batch after batch, and reads every write at once', async function () {
        const db = await openDb(dir);
        const level = new BatchedLevel(db);
        await level.put('a', Buffer.from('1'));
        await level.put('b', Buffer.from('1'));
        await level.del('a');
        await level.put('a', Buffer.from('2'));
        assert.strictEqual((await level.get('a')).toString(), '2', 'read from memory before any batch');
        assert.deepStrictEqual(await diskContents(db), {}, 'nothing written within the turn');
        // A batch is on its way; the writes made meanwhile follow it in the next one.
        await new Promise((resolve) => setImmediate(resolve));
        await level.put('a', Buffer.from('3'));
        await level.batch().del('b').put('c', Buffer.from('1')).write();
        await level.flush();
        assert.deepStrictEqual(await diskContents(db), { a: '3', c: '1' });
        assert.strictEqual(level.pendingWrites, 0);
        assert.ok(level.batchesWritten >= 1 && level.batchesWritten <= 2, `${level.batchesWritten} batches`);
        await level.close();
    });

    it('agrees with a plain map over any sequence of writes, clears, reads and flushes, and after reopening', async function () {
        this.timeout(60000);
        const key = fc.constantFrom(...KEYS);
        const op = fc.oneof(
            fc.record({ kind: fc.constant('put'), key, value: fc.nat(99) }),
            fc.record({ kind: fc.constant('del'), key }),
            fc.record({ kind: fc.constant('clear'), prefix: fc.constantFrom('outgoing:a:', 'retained:') }),
            fc.record({ kind: fc.constant('turn') }),
            fc.record({ kind: fc.constant('flush') }),
        );
        let run = 0;
        await fc.assert(
            fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
                const where = path.join(dir, String(run++));
                let level = new BatchedLevel(await openDb(where));
                const model = new Map();
                const check = async () => {
                    for (const prefix of ['outgoing:', 'retained:']) {
                        const range = { gte: prefix, lt: `${prefix.slice(0, -1)};` };
                        const expected = [...model.keys()]
                            .filter((k) => k.startsWith(prefix))
                            .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
                            .map((k) => model.get(k));
                        assert.deepStrictEqual(await valuesOf(level, range), expected);
                    }
                    for (const k of KEYS) assert.strictEqual((await level.get(k, BUFFER))?.toString(), model.get(k));
                };
                for (const o of ops) {
                    if (o.kind === 'put') {
                        model.set(o.key, String(o.value));
                        await level.put(o.key, Buffer.from(String(o.value)), BUFFER);
                    } else if (o.kind === 'del') {
                        model.delete(o.key);
                        await level.del(o.key);
                    } else if (o.kind === 'clear') {
                        for (const k of [...model.keys()]) if (k.startsWith(o.prefix)) model.delete(k);
                        await level.clear({ gte: o.prefix, lt: `${o.prefix.slice(0, -1)};` });
                    } else if (o.kind === 'turn') {
                        await new Promise((resolve) => setImmediate(resolve));
                    } else {
                        await level.flush();
                    }
                    await check();
                }
                await level.close();
                level = new BatchedLevel(await openDb(where));
                await check();
                await level.close();
            }),
            { numRuns: 60 },
        );
    });

    it('reports a failed batch, keeps its writes readable and writes them once the disk works again', async function () {
        this.timeout(10000);
        const db = await openDb(dir);
        const level = new BatchedLevel(db);
        const errors = [];
        let recovered = 0;
        level.onError = (error) => errors.push(error);
        level.onRecovered = () => recovered++;
        await db.close(); // the disk goes away under the store
        await level.put('outgoing:a:1', Buffer.from('queued'));
        await level.flush();
        assert.strictEqual(errors.length, 1, 'the failure is reported');
        assert.match(errors[0].message, /not open/i);
        assert.strictEqual(level.pendingWrites, 1, 'the write is kept');
        assert.strictEqual((await level.get('outgoing:a:1')).toString(), 'queued');
        await level.put('outgoing:a:2', Buffer.from('later'));
        await db.open();
        assert.ok(await until(() => recovered === 1, 5000), 'recovered after the retry');
        await level.flush();
        assert.strictEqual(level.pendingWrites, 0);
        assert.deepStrictEqual(await diskContents(db), { 'outgoing:a:1': 'queued', 'outgoing:a:2': 'later' });
        await level.close();
    });

    it('restores every message of a burst queued for an offline session after the broker restarts', async function () {
        this.timeout(30000);
        const accounts = [
            { user: 'Alice', password: 'a' },
            { user: 'Bob', password: 'b' },
        ];
        const COUNT = 2000;
        // One sender's burst past the per-sender quota of an offline session (1 000 by default).
        const options = { port: 0, storeDir: dir, security: { accounts }, limits: { queuedPerSender: 0 } };
        let broker = await EmbeddedBroker.start(options);
        const as = (user, options) =>
            mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
                clientId: `GID_IMS@@@${user}_dev`,
                username: user,
                password: accounts.find((a) => a.user === user).password,
                reconnectPeriod: 0,
                ...options,
            });
        let bob = await as('Bob', { clean: false });
        await bob.subscribeAsync('IMS/Bob/Inbox/#', { qos: 1 });
        await bob.endAsync();
        const alice = await as('Alice');
        // All at once: many writes in each batch, acknowledged before the batches reach the disk.
        await Promise.all(Array.from({ length: COUNT }, (_, i) => alice.publishAsync('IMS/Bob/Inbox/Chat/Alice', `m${i}`, { qos: 1 })));
        // Closed in the turn the last acknowledgement arrived: its writes are still in memory.
        alice.end(true);
        await broker.close();
        broker = await EmbeddedBroker.start(options);
        const received = [];
        bob = await mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, {
            clientId: 'GID_IMS@@@Bob_dev',
            username: 'Bob',
            password: 'b',
            clean: false,
            reconnectPeriod: 0,
        });
        bob.on('message', (_topic, payload) => received.push(payload.toString()));
        try {
            assert.ok(await until(() => received.length >= COUNT, 20000), `got ${received.length} of ${COUNT}`);
            assert.deepStrictEqual(
                received,
                Array.from({ length: COUNT }, (_, i) => `m${i}`),
                'every message once, in order',
            );
        } finally {
            await bob.endAsync();
            await broker.close();
        }
    });
});
