'use strict';
// Every socket IMS owns has Nagle off and coalesces the writes of one event-loop turn into one
// system call, without holding anything past that turn. Real TCP sockets on 127.0.0.1.

const assert = require('assert');
const net = require('net');
const { once } = require('events');
const { tuneSocket } = require('../nodes/lib/socketTuning');

/** A connected pair: `client` (ours, to tune) and the server's end, which collects what arrives. */
async function socketPair() {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = net.connect(server.address().port, '127.0.0.1');
    const [peer] = await once(server, 'connection');
    await once(client, 'connect');
    const received = [];
    peer.on('data', (chunk) => received.push(chunk.toString()));
    return {
        client,
        peer,
        received,
        async close() {
            client.destroy();
            peer.destroy();
            await new Promise((resolve) => server.close(resolve));
        },
    };
}

/** Counts how the socket hands data to the kernel: one `_writev` per batch, one `_write` per lone chunk. */
function countSystemWrites(socket) {
    const counts = { write: 0, writev: 0, chunks: 0 };
    const write = socket._write;
    const writev = socket._writev;
    socket._write = function (...args) {
        counts.write++;
        counts.chunks++;
        return write.apply(this, args);
    };
    socket._writev = function (chunks, ...rest) {
        counts.writev++;
        counts.chunks += chunks.length;
        return writev.call(this, chunks, ...rest);
    };
    return counts;
}

/** Writes packets the way MQTT.js does: one per tick, each corked and uncorked on the next tick by mqtt-packet. */
function writePackets(socket, packets) {
    const next = (i) => {
        if (i >= packets.length) return;
        socket.cork();
        socket.write(packets[i]);
        process.nextTick(() => {
            socket.uncork();
            next(i + 1);
        });
    };
    next(0);
}

async function until(condition, ms = 2000) {
    const deadline = Date.now() + ms;
    while (!condition()) {
        if (Date.now() > deadline) throw new Error('timed out');
        await new Promise((resolve) => setTimeout(resolve, 5));
    }
}

describe('socket tuning', function () {
    let pair;
    afterEach(async function () {
        await pair?.close();
        pair = undefined;
    });

    it('turns Nagle off', async function () {
        pair = await socketPair();
        const calls = [];
        const setNoDelay = pair.client.setNoDelay;
        pair.client.setNoDelay = function (value) {
            calls.push(value);
            return setNoDelay.call(this, value);
        };
        tuneSocket(pair.client);
        assert.deepStrictEqual(calls, [true]);
    });

    it('sends the packets written in one turn in one system call, and holds nothing past the turn', async function () {
        pair = await socketPair();
        tuneSocket(pair.client);
        const counts = countSystemWrites(pair.client);
        writePackets(pair.client, ['PUBACK;', 'PUBLISH;', 'PINGREQ;']);
        await until(() => pair.received.join('') === 'PUBACK;PUBLISH;PINGREQ;');
        assert.deepStrictEqual(counts, { write: 0, writev: 1, chunks: 3 });
    });

    it('an untuned socket makes one system call per packet (what the tuning saves)', async function () {
        pair = await socketPair();
        pair.client.setNoDelay(true);
        const counts = countSystemWrites(pair.client);
        writePackets(pair.client, ['PUBACK;', 'PUBLISH;', 'PINGREQ;']);
        await until(() => pair.received.join('') === 'PUBACK;PUBLISH;PINGREQ;');
        assert.strictEqual(counts.write + counts.writev, 3);
    });

    it('writes of later turns go out in turn, in order', async function () {
        pair = await socketPair();
        tuneSocket(pair.client);
        const counts = countSystemWrites(pair.client);
        pair.client.write('1;');
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setImmediate(resolve));
        pair.client.write('2;');
        pair.client.write('3;');
        await until(() => pair.received.join('') === '1;2;3;');
        assert.strictEqual(counts.chunks, 3);
        assert.strictEqual(counts.write + counts.writev, 2);
    });

    it('is applied once per socket, and a write after the socket closed does not throw', async function () {
        pair = await socketPair();
        tuneSocket(pair.client);
        const wrapped = pair.client.write;
        tuneSocket(pair.client);
        assert.strictEqual(pair.client.write, wrapped);
        pair.client.destroy();
        const errors = [];
        pair.client.on('error', (error) => errors.push(error.code));
        assert.doesNotThrow(() => pair.client.write('late', () => undefined));
        await new Promise((resolve) => setImmediate(resolve));
    });

    it('leaves a stream without cork (or no stream) alone', function () {
        assert.doesNotThrow(() => tuneSocket(undefined));
        const plain = { write: () => true };
        const write = plain.write;
        tuneSocket(plain);
        assert.strictEqual(plain.write, write);
    });
});
