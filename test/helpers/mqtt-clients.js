'use strict';
// Plain MQTT.js clients for the broker's security tests: log in as an account, record what arrives,
// read SUBACK codes, and wait for a marker message instead of sleeping to show that nothing else came.

const net = require('net');
const mqtt = require('mqtt');
const mqttPacket = require('mqtt-packet');

/** The secured broker's accounts in the attack tests, and each one's password. */
const ACCOUNTS = [
    { user: 'Alice', password: 'alice-pass', attributes: { region: 'Hangzhou' } },
    { user: 'Bob', password: 'bob-pass', attributes: { region: 'Beijing' } },
    { user: 'Carol', password: 'carol-pass', attributes: { region: 'Beijing' } },
    { user: 'Ops', password: 'ops-pass', system: true },
];
const PASSWORD = Object.fromEntries(ACCOUNTS.map((a) => [a.user, a.password]));

/** A connected client that records [topic, payload] of everything it receives (and each one's topic, QoS and retain flag). */
async function connectAs(url, user, password, options = {}) {
    const client = await mqtt.connectAsync(url, {
        clientId: `GID_IMS@@@${user}_dev`,
        username: user,
        password,
        reconnectPeriod: 0,
        ...options,
    });
    client.received = [];
    client.packets = [];
    client.on('message', (topic, payload, packet) => {
        client.received.push([topic, payload.toString()]);
        client.packets.push({ topic, qos: packet.qos, retain: packet.retain });
    });
    return client;
}

/** SUBACK codes, one per topic; MQTT.js rejects a SUBSCRIBE with any refusal but keeps the SUBACK. */
async function grants(client, topics, qos = 1) {
    const list = Array.isArray(topics) ? topics : [topics];
    try {
        return (await client.subscribeAsync(list, { qos })).map((g) => g.qos);
    } catch (error) {
        if (!error.packet || !Array.isArray(error.packet.granted)) throw error;
        return error.packet.granted;
    }
}

/** Resolves with the first message on `topic` (already received or next); rejects after `ms`. */
function nextOn(client, topic, ms = 3000) {
    const seen = client.received.find(([t]) => t === topic);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            client.off('message', onMessage);
            reject(new Error(`nothing on ${topic} within ${ms} ms; got ${JSON.stringify(client.received.map(([t]) => t))}`));
        }, ms);
        function onMessage(t, payload) {
            if (t !== topic) return;
            clearTimeout(timer);
            client.off('message', onMessage);
            resolve([t, payload.toString()]);
        }
        client.on('message', onMessage);
    });
}

/** Resolves with the CONNACK error code of a refused login (or throws when the login succeeds). */
async function refusedCode(url, user, password, options = {}) {
    try {
        const client = await connectAs(url, user, password, options);
        await client.endAsync(true);
    } catch (error) {
        return error.code;
    }
    throw new Error(`${user} logged in with ${JSON.stringify(options.clientId ?? '')}; a refusal was expected`);
}

/** A raw socket to 127.0.0.1:`port` (from `localAddress`, any 127.x being another address to the broker) that sent a clean CONNECT. */
function rawConnect(port, { clientId, username, password, keepalive, localAddress }) {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    socket.once('connect', () =>
        socket.write(
            mqttPacket.generate({
                cmd: 'connect',
                protocolId: 'MQTT',
                protocolVersion: 4,
                clean: true,
                clientId,
                username,
                password: Buffer.from(password),
                keepalive,
            }),
        ),
    );
    return socket;
}

/** A raw MQTT connection that logs in (clean session) and then does only what the test writes; rejects unless CONNACK 0. */
function rawLogin(port, { clientId, username, password, keepalive = 60 }) {
    return new Promise((resolve, reject) => {
        const socket = rawConnect(port, { clientId, username, password, keepalive });
        socket.once('error', reject);
        socket.once('data', (data) =>
            data[0] === 0x20 && data[3] === 0 ? resolve(socket) : reject(new Error(`CONNACK ${data.toString('hex')}`)),
        );
    });
}

/** A raw CONNECT from `localAddress`; resolves with its CONNACK code and closes the socket. */
function rawConnack(port, localAddress, { clientId, username, password }) {
    return new Promise((resolve, reject) => {
        const socket = rawConnect(port, { clientId, username, password, keepalive: 0, localAddress });
        const timer = setTimeout(() => {
            socket.destroy();
            reject(new Error('no CONNACK within 5 s'));
        }, 5000);
        socket.once('error', (error) => {
            clearTimeout(timer);
            reject(error);
        });
        socket.once('data', (data) => {
            clearTimeout(timer);
            socket.destroy();
            resolve(data[3]);
        });
    });
}

const envelope = (fields) => JSON.stringify({ v: 1, id: `m${Math.random().toString(36).slice(2)}`, ts: Date.now(), ...fields });

module.exports = { ACCOUNTS, PASSWORD, connectAs, grants, nextOn, refusedCode, envelope, rawLogin, rawConnack };
