'use strict';
// The broker reaches into aedes's internals only through src/lib/broker/aedesAdapter.ts. This test
// checks every one of those reaches on a live client, so an aedes upgrade that moves one fails here
// instead of silently switching off a defence (the packet-size limit, the outgoing queue, wills...).

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const mqtt = require('mqtt');
const { EmbeddedBroker, DEFAULT_LIMITS } = require('../nodes/lib/broker');
const os = require('os');
const { ClassicLevel } = require('classic-level');
const {
    adapterProblems,
    connectedClients,
    levelPersistence,
    memoryPersistence,
    restoreWill,
    storedSessions,
    LEVEL_METHODS_USED,
} = require('../nodes/lib/broker/aedesAdapter');
const { BatchedLevel } = require('../nodes/lib/broker/batchedPersistence');

describe('aedes adapter', function () {
    it("finds every internal it relies on in this aedes version's broker and clients", async function () {
        const broker = await EmbeddedBroker.start({ port: 0 });
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'GID_IMS@@@probe', reconnectPeriod: 0 });
        try {
            const live = connectedClients(broker.aedes)['GID_IMS@@@probe'];
            assert.ok(live, 'aedes.clients holds the connected client by its ID');
            assert.deepStrictEqual(adapterProblems(broker.aedes, live), []);
        } finally {
            await client.endAsync();
            await broker.close();
        }
    });

    it("calls on the disk store's batched LevelDB only the methods it has, through every persistence call", async function () {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-adapter-'));
        const db = new ClassicLevel(dir);
        await db.open();
        const used = new Set();
        const batched = new BatchedLevel(db);
        const watched = new Proxy(batched, {
            get(target, name) {
                if (typeof name === 'string' && typeof target[name] === 'function') used.add(name);
                const value = target[name];
                return typeof value === 'function' ? value.bind(target) : value;
            },
        });
        const persistence = levelPersistence(watched);
        const drain = async (stream) => {
            const items = [];
            for await (const item of stream) items.push(item);
            return items;
        };
        try {
            const client = { id: 'GID_IMS@@@probe' };
            const packet = {
                cmd: 'publish',
                topic: 'IMS/a/Inbox/Chat/b',
                payload: Buffer.from('x'),
                qos: 1,
                retain: false,
                brokerId: 'b1',
                brokerCounter: 1,
            };
            await persistence.setup({ id: 'b1' });
            await persistence.storeRetained({ ...packet, retain: true });
            await drain(persistence.createRetainedStream('IMS/#'));
            await drain(persistence.createRetainedStreamCombi(['IMS/#']));
            await persistence.addSubscriptions(client, [{ topic: 'IMS/a/#', qos: 1 }]);
            await persistence.subscriptionsByClient(client);
            await persistence.subscriptionsByTopic('IMS/a/x');
            await persistence.countOffline();
            await persistence.outgoingEnqueueCombi([{ clientId: client.id }], packet);
            await persistence.outgoingUpdate(client, { ...packet, messageId: 7 });
            await drain(persistence.outgoingStream(client));
            await persistence.outgoingClearMessageId(client, { messageId: 7 });
            await persistence.incomingStorePacket(client, { ...packet, messageId: 8 });
            await persistence.incomingGetPacket(client, { messageId: 8 });
            await persistence.incomingDelPacket(client, { messageId: 8 });
            await persistence.cleanIncoming(client);
            await persistence.putWill(client, { ...packet });
            await persistence.getWill(client);
            await drain(persistence.streamWill());
            await drain(persistence.getClientList('IMS/a/#'));
            await persistence.delWill(client);
            await persistence.removeSubscriptions(client, ['IMS/a/#']);
            await persistence.cleanSubscriptions(client);
            await persistence.destroy();
            assert.deepStrictEqual([...used].sort(), [...LEVEL_METHODS_USED].sort());
        } finally {
            await batched.close();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("reads the sessions out of aedes-persistence-level's keys, and restores a will under its old broker", async function () {
        // The journaled store loads what is on disk by listing Client IDs from the level store's key
        // format, and keeps a crashed broker's will under that broker's id: both are internals.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-adapter-keys-'));
        const db = new ClassicLevel(dir);
        await db.open();
        try {
            const persistence = levelPersistence(db);
            await persistence.setup({ id: 'b1' });
            const packet = (topic, extra) => ({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, retain: false, ...extra });
            const withColon = 'GID_IMS@@@Bob:tablet/1';
            await persistence.addSubscriptions({ id: 'GID_IMS@@@Alice_phone' }, [{ topic: 'IMS/Alice/Inbox/#', qos: 1 }]);
            await persistence.outgoingEnqueue(
                { clientId: withColon },
                packet('IMS/Bob/Inbox/Chat/Alice', { brokerId: 'b1', brokerCounter: 1 }),
            );
            await persistence.incomingStorePacket(
                { id: 'GID_IMS@@@Carol_phone' },
                packet('IMS/Alice/Inbox/Chat/Carol', { qos: 2, messageId: 42 }),
            );
            const sessions = await storedSessions((range) => db.keys(range));
            assert.deepStrictEqual([...sessions.clientIds].sort(), ['GID_IMS@@@Alice_phone', withColon, 'GID_IMS@@@Carol_phone'].sort());
            assert.deepStrictEqual(sessions.incoming, [{ clientId: 'GID_IMS@@@Carol_phone', messageId: 42 }]);

            const memory = memoryPersistence();
            await memory.setup({ id: 'b2' });
            await restoreWill(memory, { ...packet('IMS/Alice/Presence'), clientId: 'GID_IMS@@@Alice_phone', brokerId: 'b1' });
            const will = await memory.getWill({ id: 'GID_IMS@@@Alice_phone' });
            assert.strictEqual(will.brokerId, 'b1', "the crashed broker's id, so aedes publishes the will");
            await memory.destroy();
        } finally {
            await db.close();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it('reports what is missing on an object that is not an aedes client', function () {
        const problems = adapterProblems({}, {});
        assert.ok(problems.includes('aedes.clients'));
        assert.ok(problems.includes('client._parser._parseLength/_emitError'));
    });

    it("lists every limit in the ims-broker dialog, with the runtime's defaults", function () {
        const html = fs.readFileSync(path.join(__dirname, '..', 'nodes', 'ims-broker.html'), 'utf8');
        const listed = JSON.parse(html.match(/var LIMITS = (\[[^\]]*\])/)[1].replace(/'/g, '"'));
        assert.deepStrictEqual(listed, Object.keys(DEFAULT_LIMITS));
        for (const lang of ['en-US', 'zh-CN']) {
            const catalogue = require(`../nodes/locales/${lang}/ims-broker.json`)['ims-broker'].limits;
            assert.deepStrictEqual(Object.keys(catalogue).sort(), Object.keys(DEFAULT_LIMITS).sort(), lang);
        }
    });
});
