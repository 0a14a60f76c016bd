'use strict';
// What a red team (a developer attacking the hardened broker with fresh eyes) found after issue 10's
// first round, and what holds now: each test is the attack, with a plain MQTT client or a raw socket on
// 127.0.0.1 against the real broker, and failed while the hole was open. The assertion states what
// docs/SECURITY.md promises. (The offline session's queue, R8's other half, has its own file:
// test/offline-quota.test.js.)

const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const v8 = require('v8');
const vm = require('vm');
const { EmbeddedBroker } = require('../nodes/lib/broker');
const { ACCOUNTS, PASSWORD, connectAs, grants, nextOn, envelope, rawLogin, rawConnack } = require('./helpers/mqtt-clients');
const { until } = require('./helpers/wait');

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ims-redteam-'));

// A full GC before each memory reading, so buffers freed by earlier tests do not hide what is held now.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
/** Bytes of Buffers alive after a full GC. */
function heldBuffers() {
    gc();
    return process.memoryUsage().arrayBuffers;
}

/** The longest gap of the event loop (the broker runs in this process) while `run` runs. */
async function maxEventLoopLag(run) {
    let max = 0;
    let last = Date.now();
    const timer = setInterval(() => {
        const now = Date.now();
        max = Math.max(max, now - last - 20);
        last = now;
    }, 20);
    try {
        await run();
    } finally {
        clearInterval(timer);
    }
    return max;
}

/** All messages queued in the store for an offline persistent session. */
function queuedFor(broker, clientId) {
    return new Promise((resolve, reject) => {
        const topics = [];
        const stream = broker.aedes.persistence.outgoingStream({ id: clientId });
        stream.on('data', (packet) => topics.push(packet.topic));
        stream.on('end', () => resolve(topics));
        stream.on('error', reject);
    });
}

/**
 * Upgrades a raw socket to WebSocket (no login) and sends one binary frame declaring ~100 MiB, then
 * `mb` MiB of its body. Resolves with what was sent and whether the broker closed the socket.
 */
function webSocketFrameAttack(port, mb) {
    return new Promise((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        let sent = 0;
        let closed = false;
        socket.on('error', () => undefined);
        socket.on('close', () => {
            closed = true;
            resolve({ socket, sent, closed });
        });
        socket.once('connect', () =>
            socket.write(
                'GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
                    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
                    'Sec-WebSocket-Protocol: mqtt\r\n\r\n',
            ),
        );
        socket.once('data', (data) => {
            if (!/ 101 /.test(data.toString().split('\r\n')[0])) return resolve({ socket, sent, closed: true });
            const header = Buffer.alloc(14);
            header[0] = 0x82; // FIN, binary
            header[1] = 0x80 | 127; // masked, 64-bit length
            header.writeBigUInt64BE(BigInt(100 * 1024 * 1024 - 1), 2);
            header.writeUInt32BE(0, 10); // mask key 0
            socket.write(header);
            const chunk = Buffer.alloc(256 * 1024, 0x10);
            const pump = () => {
                while (!closed && sent < mb * 1024 * 1024) {
                    sent += chunk.length;
                    if (!socket.write(chunk)) return socket.once('drain', pump);
                }
                resolve({ socket, sent, closed });
            };
            pump();
        });
    });
}

/** The fixed header of a QoS 0 PUBLISH declaring `length` bytes of remaining length. */
function publishHeader(length) {
    const bytes = [0x30];
    let rest = length;
    do {
        let digit = rest % 128;
        rest = Math.floor(rest / 128);
        if (rest > 0) digit |= 0x80;
        bytes.push(digit);
    } while (rest > 0);
    return Buffer.from(bytes);
}

describe('red team: attacks on the hardened secured broker', function () {
    this.timeout(60000);
    let broker;
    let url;
    let refusals;
    let clients;
    let sockets;
    let dirs;

    async function start(options = {}) {
        broker = await EmbeddedBroker.start({ port: 0, security: { accounts: ACCOUNTS }, ...options });
        url = `mqtt://127.0.0.1:${broker.port}`;
        broker.on('refused', (r) => refusals.push(r));
        return broker;
    }
    function newDir() {
        const dir = tmpDir();
        dirs.push(dir);
        return dir;
    }
    async function as(user, options = {}) {
        const client = await connectAs(url, user, PASSWORD[user], options);
        client.on('error', () => undefined);
        clients.push(client);
        return client;
    }

    beforeEach(function () {
        refusals = [];
        clients = [];
        sockets = [];
        dirs = [];
    });
    afterEach(async function () {
        for (const socket of sockets) socket.destroy();
        await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
        if (broker) await broker.close();
        broker = undefined;
        for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    });

    describe('R1. a broker-assigned Client ID escapes account changes', function () {
        it('ends the connection of a demoted system account that logged in with an empty Client ID', async function () {
            await start();
            // Empty Client ID with clean session: aedes assigns a random one, which the broker does not bind.
            const ops = await as('Ops', { clientId: '', clean: true });
            const bob = await as('Bob');
            assert.deepStrictEqual(await grants(bob, ['IMS/Bob/Inbox/#', 'IMS/System/Beijing']), [1, 1]);
            broker.setAccount({ user: 'Ops', password: 'ops-pass', system: false });
            // SECURITY.md: "changing an account's password, system flag or attributes ... ends its open connections".
            await until(() => !ops.connected, 2000);
            if (ops.connected) {
                await ops.publishAsync('IMS/System/Beijing', envelope({ type: 'system', from: 'Ops', text: 'still a system account' }), {
                    qos: 1,
                });
                await ops.publishAsync('IMS/Bob/Inbox/Chat/Ops', 'marker', { qos: 1 });
                await nextOn(bob, 'IMS/Bob/Inbox/Chat/Ops');
            }
            assert.deepStrictEqual(
                bob.received.filter(([t]) => t === 'IMS/System/Beijing'),
                [],
                'a demoted system account still pushed to a region',
            );
            assert.strictEqual(ops.connected, false, 'the demoted account is still connected');
        });

        it('ends the connection of a removed account that logged in with an empty Client ID', async function () {
            await start();
            const alice = await as('Alice', { clientId: '', clean: true });
            assert.deepStrictEqual(await grants(alice, 'IMS/Alice/Inbox/#'), [1]);
            assert.strictEqual(broker.removeAccount('Alice'), true);
            // SECURITY.md: removing an account (action removeAccount) "ends its open connections".
            await until(() => !alice.connected, 2000);
            assert.strictEqual(alice.connected, false, 'a removed account keeps its connection and its inbox');
        });
    });

    describe('R2. one SUBSCRIBE packet from a persistent session', function () {
        it('stalls the broker for every user (aedes stores the whole packet once per filter: n² writes)', async function () {
            await start({ storeDir: newDir() });
            const bob = await as('Bob');
            assert.deepStrictEqual(await grants(bob, 'IMS/Bob/Inbox/#'), [1]);
            const carol = await as('Carol');
            const alice = await as('Alice', { clientId: 'GID_IMS@@@Alice_phone', clean: false });
            // 200 ordinary filters (4 KB), well under the 5 000 subscriptions a client may hold.
            const filters = Array.from({ length: 200 }, (_, i) => `junk/${i}`);
            let roundTrip;
            const lag = await maxEventLoopLag(async () => {
                const t0 = Date.now();
                const subscribed = grants(alice, filters, 0);
                // Carol chats with Bob 50 ms after Alice's SUBSCRIBE: measured from when she meant to send.
                const arrived = new Promise((resolve) =>
                    setTimeout(() => {
                        const next = nextOn(bob, 'IMS/Bob/Inbox/Chat/Carol', 55000).then(() => Date.now() - (t0 + 50));
                        carol.publish('IMS/Bob/Inbox/Chat/Carol', 'ping', { qos: 1 });
                        resolve(next);
                    }, 50),
                );
                roundTrip = await arrived;
                await subscribed;
            });
            assert.ok(roundTrip < 1000, `Carol's chat to Bob took ${roundTrip} ms while Alice's SUBSCRIBE was processed`);
            assert.ok(lag < 1000, `the broker's event loop stopped for ${lag} ms`);
        });

        it('bypasses the subscriptions-per-client limit (all filters of one packet are checked against the count before any is added)', async function () {
            await start({ storeDir: newDir(), limits: { subscriptionsPerClient: 20 } });
            const alice = await as('Alice', { clientId: 'GID_IMS@@@Alice_phone', clean: false });
            const granted = await grants(
                alice,
                Array.from({ length: 40 }, (_, i) => `junk/${i}`),
                0,
            );
            const held = granted.filter((code) => code !== 128).length;
            assert.ok(held <= 20, `a client holding a limit of 20 subscriptions was granted ${held}`);
        });

        it('with clean session, 4 000 filters in one packet (under the limit) stop the event loop for seconds', async function () {
            await start();
            const alice = await as('Alice', { clean: true });
            const filters = Array.from({ length: 4000 }, (_, i) => `IMS/GroupJunk${i}/#`);
            const closed = new Promise((resolve) => alice.once('close', resolve));
            const lag = await maxEventLoopLag(async () => {
                alice.subscribe(filters, { qos: 0 }, () => undefined);
                await closed;
            });
            assert.ok(lag < 1000, `the broker's event loop stopped for ${lag} ms on one SUBSCRIBE`);
            assert.ok(
                refusals.some((r) => r.action === 'limit' && /4000 filters/.test(r.reason)),
                'the connection was closed and reported',
            );
            // 150 filters (a client's batch past the allowance): the extra 50 are refused, the connection stays.
            const bob = await as('Bob');
            const codes = await grants(
                bob,
                Array.from({ length: 150 }, (_, i) => `IMS/Bob/x${i}`),
                0,
            );
            assert.deepStrictEqual([codes.filter((c) => c === 0).length, codes.filter((c) => c === 128).length], [100, 50]);
            assert.ok(bob.connected);
        });
    });

    describe('R3. refused filters are kept in a persistent session', function () {
        it("stores a refused `#` and another user's inbox filter, and queues that user's chats for the attacker", async function () {
            await start({ storeDir: newDir() });
            const aliceId = 'GID_IMS@@@Alice_phone';
            const alice = await as('Alice', { clientId: aliceId, clean: false });
            // One granted filter in the packet makes aedes store the whole packet, refused ones included.
            assert.deepStrictEqual(await grants(alice, ['foo', '#', 'IMS/Bob/Inbox/#']), [1, 128, 128]);
            const stored = (await broker.aedes.persistence.subscriptionsByClient({ id: aliceId })).map((s) => s.topic).sort();
            await alice.endAsync();
            const carol = await as('Carol');
            await carol.publishAsync('IMS/Bob/Inbox/Chat/Carol', envelope({ type: 'chat', from: 'Carol', text: 'for Bob only' }), {
                qos: 1,
            });
            await carol.publishAsync('other/topic', 'anything', { qos: 1 });
            const queued = await queuedFor(broker, aliceId);
            assert.deepStrictEqual(stored, ['foo'], 'refused filters were written to the stored session');
            assert.deepStrictEqual(queued, [], "Bob's chat (and all traffic, through `#`) was queued on disk for Alice");
        });
    });

    describe('R4. what the broker learns grows without bound', function () {
        it('records friend requests to any number of made-up users from one sender', async function () {
            await start({ storeDir: newDir() });
            const alice = await as('Alice', { clean: true });
            for (let i = 0; i < 5000; i++) alice.publish(`IMS/Ghost${i}/Inbox/Add/GFReq/Alice`, '{}', { qos: 0 });
            await alice.publishAsync('IMS/Alice', 'marker', { qos: 1 });
            const requests = broker.policy.facts.toJSON().requests;
            const pending = Object.values(requests).filter((askers) => askers.includes('Alice')).length;
            // Every one of them stays in memory and is rewritten to disk (the whole state as one JSON
            // document) after each burst of changes. The same holds for groups (any SUBSCRIBE of
            // P/Group<anything>/# creates one, kept after UNSUBSCRIBE), invitations and blocks.
            assert.ok(pending <= 1000, `${pending} pending friend requests of one sender are kept`);
        });

        it('bounds the groups one user may create and drop (groupsPerUser)', async function () {
            await start({ limits: { subscriptionsPerClient: 10, groupsPerUser: 10 } });
            const alice = await as('Alice', { clean: true });
            const codes = [];
            for (let round = 0; round < 5; round++) {
                const filters = Array.from({ length: 10 }, (_, i) => `IMS/GroupSquat${round}x${i}/#`);
                codes.push(...(await grants(alice, filters, 0)));
                await alice.unsubscribeAsync(filters);
            }
            assert.strictEqual(codes.filter((c) => c === 0).length, 10, 'the first 10 groups, then refusals');
            const groups = Object.entries(broker.policy.facts.toJSON().groups).filter(([, g]) => g.members.includes('Alice'));
            assert.ok(groups.length <= 10, `${groups.length} groups created by one user are kept (no bound)`);
        });
    });

    describe('R5. partial packets on many logged-in connections of one user', function () {
        it('holds at most 1 MiB per connection on at most 20 connections of one user, whatever their Client IDs', async function () {
            await start({ limits: { devicesPerUser: 5 } });
            // Buffers the broker holds (the parsers' partial packets), not RSS: RSS stays high after
            // earlier tests and would hide the growth.
            const held = heldBuffers;
            const before = held();
            const body = Buffer.alloc(1000 * 1000, 0x41);
            let refusedLogins = 0;
            for (let i = 0; i < 100; i++) {
                const socket = await rawLogin(broker.port, {
                    clientId: '',
                    username: 'Alice',
                    password: PASSWORD.Alice,
                    keepalive: 0,
                }).catch(() => undefined);
                if (!socket) {
                    refusedLogins++; // connectionsPerUser: the rest of the attempts
                    continue;
                }
                socket.on('error', () => undefined);
                sockets.push(socket);
                // A PUBLISH just under the 1 MiB limit, its last 40 000 bytes never sent (keepalive 0).
                socket.write(publishHeader(1040000));
                socket.write(Buffer.from([0, 1, 0x78]));
                socket.write(body);
            }
            const grownMb = () => (held() - before) / 1024 / 1024;
            await until(() => grownMb() >= 64, 5000);
            const alive = sockets.filter((s) => !s.destroyed).length;
            assert.strictEqual(refusedLogins, 80, 'one user holds at most 20 connections (connectionsPerUser)');
            // Issue 10: one attacker must not grow memory without bound. Here one user (device limit 5)
            // holds 100 logged-in connections (up to 1 000 per address) of ~1 MiB each.
            assert.ok(
                grownMb() < 64,
                `the broker holds ${grownMb().toFixed(0)} MB more with ${alive} connections of one user (device limit 5) holding partial packets`,
            );
        });
    });
    describe("R6. the policy's topic cache", function () {
        it('keeps up to 10 000 topics of up to 64 KB each that one user made up (hundreds of MB)', async function () {
            await start();
            const alice = await as('Alice', { clean: true });
            const pad = 'x'.repeat(60000);
            // Refused publishes (no such user) on made-up 60 KB topics: each is parsed and cached for good.
            for (let i = 0; i < 1000; i++) {
                alice.publish(`IMS/${i}${pad}`, '', { qos: 0 });
                if (i % 100 === 99) await alice.publishAsync('IMS/Alice', 'marker', { qos: 1 });
            }
            await alice.publishAsync('IMS/Alice', 'marker', { qos: 1 });
            let cachedBytes = 0;
            for (const topic of broker.policy.parsedCache.keys()) cachedBytes += topic.length;
            const mb = cachedBytes / 1024 / 1024;
            // 10 000 entries of 64 KB: about 640 MB held by one user's refused traffic.
            assert.ok(mb < 16, `the topic cache holds ${mb.toFixed(0)} MB of one user's made-up topics`);
        });
    });

    describe('R7. failed logins of one user name', function () {
        it('lock the owner out even on its own address with the right password and its own bound device', async function () {
            await start();
            const bobId = 'GID_IMS@@@Bob_phone';
            const bob = { clientId: bobId, username: 'Bob', password: PASSWORD.Bob };
            assert.strictEqual(await rawConnack(broker.port, '127.0.0.1', bob), 0, 'Bob logs in before the attack');
            // Ten wrong guesses from two other addresses (five each: the per-address allowance).
            for (const address of ['127.0.0.2', '127.0.0.3']) {
                for (let i = 0; i < 5; i++) {
                    const code = await rawConnack(broker.port, address, { clientId: '', username: 'Bob', password: `guess${i}` });
                    assert.strictEqual(code, 4);
                }
            }
            // The owner, from the address that never failed, with the right password and its own device:
            // refused with CONNACK 5 without its password being checked. One attacking address can keep
            // this going with about one guess a minute (both back-offs top out at 60 s).
            assert.strictEqual(await rawConnack(broker.port, '127.0.0.1', bob), 0, "Bob is locked out by someone else's guesses");
        });
    });
    describe('R8. no quota on what one user makes the broker store', function () {
        it('keeps any number of retained messages outside the parent topic', async function () {
            await start({ storeDir: newDir() });
            const alice = await as('Alice', { clean: true });
            const big = Buffer.alloc(900 * 1024, 0x41);
            for (let i = 0; i < 40; i++) await alice.publishAsync(`junk/${i}`, big, { qos: 1, retain: true });
            const retained = await new Promise((resolve, reject) => {
                let bytes = 0;
                const stream = broker.aedes.persistence.createRetainedStream('junk/#');
                stream.on('data', (packet) => (bytes += packet.payload.length));
                stream.on('end', () => resolve(bytes));
                stream.on('error', reject);
            });
            const mb = retained / 1024 / 1024;
            assert.ok(
                mb <= 8 || refusals.some((r) => r.action === 'limit'),
                `${mb.toFixed(0)} MB of retained messages stored for one user, no limit hit`,
            );
        });
    });
    describe('R9. wills of an account the flow demotes or removes', function () {
        it("publishes a demoted system account's will with its old rights (a regional push)", async function () {
            await start();
            const bob = await as('Bob');
            assert.deepStrictEqual(await grants(bob, ['IMS/Bob/Inbox/#', 'IMS/System/Beijing']), [1, 1]);
            await as('Ops', {
                clientId: 'GID_IMS@@@Ops_console',
                will: {
                    topic: 'IMS/System/Beijing',
                    payload: envelope({ type: 'system', from: 'Ops', text: 'pushed after demotion' }),
                    qos: 1,
                    retain: false,
                },
            });
            // The flow takes the system flag away: the connection is ended (as promised) and its will is
            // then published by aedes, checked against the identity the connection had at login.
            broker.setAccount({ user: 'Ops', password: 'ops-pass', system: false });
            const carol = await as('Carol');
            await carol.publishAsync('IMS/Bob/Inbox/Chat/Carol', 'marker', { qos: 1 });
            await nextOn(bob, 'IMS/Bob/Inbox/Chat/Carol');
            await until(() => bob.received.some(([t]) => t === 'IMS/System/Beijing'), 500);
            assert.deepStrictEqual(
                bob.received.filter(([t]) => t === 'IMS/System/Beijing'),
                [],
                'a will published with rights the account no longer has',
            );
        });

        it('publishes the will of a removed account', async function () {
            await start();
            const bob = await as('Bob');
            assert.deepStrictEqual(await grants(bob, 'IMS/Bob/Inbox/#'), [1]);
            await as('Carol', {
                clientId: 'GID_IMS@@@Carol_phone',
                will: { topic: 'IMS/Bob/Inbox/Chat/Carol', payload: 'from a removed account', qos: 1, retain: false },
            });
            assert.strictEqual(broker.removeAccount('Carol'), true);
            await until(() => bob.received.length > 0, 1000);
            assert.deepStrictEqual(bob.received, [], "a removed account's will reached Bob");
        });
    });
    describe('R10. MQTT over WebSocket before login', function () {
        it('buffers a WebSocket frame of up to 100 MiB per connection: the 64 KiB pre-login limit never sees it', async function () {
            await start({ wsPort: 0 });
            const held = heldBuffers;
            const before = held();
            const attacks = [];
            for (let i = 0; i < 3; i++) attacks.push(await webSocketFrameAttack(broker.wsPort, 32));
            for (const attack of attacks) sockets.push(attack.socket);
            const grownMb = () => (held() - before) / 1024 / 1024;
            await until(() => grownMb() >= 64, 3000);
            // Each of these connections may hold 100 MiB for the 10 s CONNECT timeout; 1 000 per address.
            assert.ok(
                grownMb() < 64,
                `the broker holds ${grownMb().toFixed(0)} MB for ${attacks.filter((a) => !a.closed).length} WebSocket connections that never logged in`,
            );
        });
    });
    describe('R11. device IDs that a user has used', function () {
        it("keeps a clean session's Client ID its user's after it disconnects: nobody else reads the p2p messages sent to it", async function () {
            await start();
            const tabletId = 'GID_IMS@@@Bob_tablet';
            const tablet = await as('Bob', { clientId: tabletId, clean: true });
            assert.deepStrictEqual(await grants(tablet, `IMS/p2p/${tabletId}`), [1]);
            await tablet.endAsync();
            // Bob's tablet is offline: Alice tries to bind its ID persistently, to read what is sent to it.
            await assert.rejects(as('Alice', { clientId: tabletId, clean: false }), (e) => e.code === 2);
            const alice = { received: [] };
            let bobBack = true;
            try {
                clients.push(await connectAs(url, 'Bob', PASSWORD.Bob, { clientId: tabletId, clean: true }));
            } catch {
                bobBack = false;
            }
            assert.deepStrictEqual(alice.received, [], "Alice read a p2p message meant for Bob's device");
            assert.ok(bobBack, 'Bob can no longer use his own device ID');
        });

        it('lets any user greet a virtual group the flow named, which it is not part of', async function () {
            await start();
            broker.setVirtualGroup('team', ['Bob', 'Carol']);
            const bob = await as('Bob');
            assert.deepStrictEqual(await grants(bob, 'IMS/Bob/Inbox/#'), [1]);
            const alice = await as('Alice');
            await alice.publishAsync('IMS/Alice/Greet/team', envelope({ type: 'greeting', from: 'Alice', text: 'to a team I am not in' }), {
                qos: 1,
            });
            await until(() => bob.received.length > 0, 1000);
            assert.deepStrictEqual(bob.received, [], "an outsider's greeting reached every member of the flow's group");
        });
    });
});
