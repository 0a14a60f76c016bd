'use strict';
// The store where MQTT.js keeps QoS 1 publishes until their PUBACK: its contract, and a real re-send
// after a connection is cut with the PUBACK still owed.

const assert = require('assert');
const net = require('net');
const mqtt = require('mqtt');
const { OutgoingStore } = require('../nodes/lib/outgoingStore');
const { ImsConnection } = require('../nodes/lib/connection');
const { AedesUnderTest } = require('./helpers/brokers');

const call = (fn) => new Promise((resolve) => fn((error, packet) => resolve({ error, packet })));

async function readAll(stream) {
    const packets = [];
    for await (const packet of stream) packets.push(packet);
    return packets;
}

describe('outgoing store', function () {
    it('keeps a packet by message ID until it is deleted, and says when one is missing', async function () {
        const store = new OutgoingStore();
        const packet = { cmd: 'publish', messageId: 7, topic: 'IMS/B/Inbox/Chat/A', payload: Buffer.from('hi'), qos: 1 };
        let put = false;
        store.put(packet, () => {
            put = true;
        });
        assert.ok(put);
        assert.strictEqual((await call((cb) => store.get({ messageId: 7 }, cb))).packet, packet);
        assert.strictEqual((await call((cb) => store.del({ messageId: 7 }, cb))).packet, packet);
        assert.match((await call((cb) => store.get({ messageId: 7 }, cb))).error.message, /missing packet/);
        assert.match((await call((cb) => store.del({ messageId: 7 }, cb))).error.message, /missing packet/);
        assert.strictEqual(store.size, 0);
    });

    it('streams what is left in the order it was put, also across the wrap of message IDs', async function () {
        const store = new OutgoingStore();
        for (const messageId of [65534, 65535, 1, 2]) store.put({ cmd: 'publish', messageId, qos: 1 }, () => undefined);
        store.del({ messageId: 65535 }, () => undefined);
        assert.deepStrictEqual(
            (await readAll(store.createStream())).map((p) => p.messageId),
            [65534, 1, 2],
        );
    });

    it('forgets everything when MQTT.js closes it', async function () {
        const store = new OutgoingStore();
        store.put({ cmd: 'publish', messageId: 1, qos: 1 }, () => undefined);
        store.close(() => undefined);
        assert.deepStrictEqual(await readAll(store.createStream()), []);
    });

    describe('on a real broker', function () {
        let broker;
        let proxy;
        let connection;
        let watcher;
        afterEach(async function () {
            await connection?.close();
            await watcher?.endAsync();
            proxy?.close();
            await broker?.stop();
        });

        /** A TCP relay to the broker that can swallow what the broker sends back, and cut every connection. */
        function startProxy(port) {
            const sockets = new Set();
            const state = { swallow: false };
            const server = net.createServer((downstream) => {
                const upstream = net.connect(port, '127.0.0.1');
                for (const s of [downstream, upstream]) {
                    sockets.add(s);
                    s.on('close', () => sockets.delete(s));
                    s.on('error', () => undefined);
                }
                downstream.on('data', (chunk) => upstream.write(chunk));
                upstream.on('data', (chunk) => {
                    if (!state.swallow) downstream.write(chunk);
                });
                downstream.on('close', () => upstream.destroy());
                upstream.on('close', () => downstream.destroy());
            });
            return new Promise((resolve) =>
                server.listen(0, '127.0.0.1', () =>
                    resolve({
                        port: server.address().port,
                        state,
                        cut() {
                            for (const s of sockets) s.destroy();
                        },
                        close() {
                            this.cut();
                            server.close();
                        },
                    }),
                ),
            );
        }

        it('re-sends a QoS 1 publish whose PUBACK was lost once the connection is back', async function () {
            broker = await new AedesUnderTest().start();
            proxy = await startProxy(broker.port);
            watcher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
            const arrivals = [];
            watcher.on('message', (topic, payload, packet) => arrivals.push({ text: payload.toString(), dup: packet.dup }));
            await watcher.subscribeAsync('IMS/Bob/Inbox/Chat/Alice', { qos: 1 });

            connection = new ImsConnection({
                url: `mqtt://127.0.0.1:${proxy.port}`,
                clientId: 'GID_IMS@@@Alice_store',
                reconnectPeriod: 100,
                clean: true,
            });
            connection.open();
            await connection.whenConnected();

            proxy.state.swallow = true; // the broker's PUBACK never reaches us
            let settled = false;
            const publishing = connection.publish('IMS/Bob/Inbox/Chat/Alice', 'hello', { qos: 1 }).then(() => {
                settled = true;
            });
            const deadline = Date.now() + 5000;
            while (arrivals.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
            assert.strictEqual(arrivals.length, 1, 'the broker got it the first time');
            await new Promise((r) => setTimeout(r, 100));
            assert.strictEqual(settled, false, 'no PUBACK, so the publish is still owed');

            proxy.state.swallow = false;
            proxy.cut(); // MQTT.js reconnects and re-sends from the store
            await publishing;
            assert.ok(settled);
            while (arrivals.length < 2 && Date.now() < deadline + 5000) await new Promise((r) => setTimeout(r, 10));
            assert.deepStrictEqual(
                arrivals.map((a) => a.text),
                ['hello', 'hello'],
                'the re-sent copy arrived too (IM receivers drop it by its id)',
            );
        });
    });
});
