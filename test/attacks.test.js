'use strict';
// The attack catalogue of the secured broker (issue 10): each attack a hostile user of the IM tried,
// as a plain MQTT client or a raw socket against the real broker, and beside it the honest path that
// must still work. The crash cases run the broker in a child process killed with SIGKILL.

const assert = require('assert');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const mqttPacket = require('mqtt-packet');
const { EmbeddedBroker } = require('../nodes/lib/broker');
const { BrokerProcess } = require('./helpers/broker-process');
const { RedisUnderTest } = require('./helpers/redis');
const { ACCOUNTS, PASSWORD, connectAs, grants, nextOn, refusedCode, envelope, rawLogin } = require('./helpers/mqtt-clients');
const { until } = require('./helpers/wait');

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ims-attack-'));

// Every attack runs on one broker and on a cluster of two instances sharing a real redis-server, where
// clients alternate between the instances so that attacker and victim sit on different ones.
for (const mode of ['single', 'cluster'])
    describe(`attacks on the secured broker (${mode})`, function () {
        this.timeout(60000);
        const cluster = mode === 'cluster';
        let redis;
        /** Instance A (the one tests inspect) and, in a cluster, instance B. */
        let broker;
        let other;
        let url;
        let refusals;
        let clients;
        let dirs;
        let options;
        let placed = 0;

        async function start(extra = {}) {
            options = { port: 0, security: { accounts: ACCOUNTS }, ...extra };
            if (cluster) {
                delete options.storeDir; // Redis is the store
                options.redisUrl = redis.url;
            }
            broker = await EmbeddedBroker.start(options);
            broker.on('refused', (r) => refusals.push(r));
            if (cluster) {
                other = await EmbeddedBroker.start(options);
                other.on('refused', (r) => refusals.push(r));
            }
            url = `mqtt://127.0.0.1:${broker.port}`;
            return broker;
        }
        /** A restart on the same store (the same directory, or the same Redis). */
        async function restart() {
            await Promise.all([broker.close(), other?.close()]);
            const extra = { ...options };
            delete extra.redisUrl;
            await start(cluster ? extra : { ...extra });
        }
        /** The next client's instance: always A alone, alternately A and B in a cluster. */
        function nextUrl() {
            return cluster && other && placed++ % 2 === 1 ? `mqtt://127.0.0.1:${other.port}` : url;
        }
        async function as(user, opts = {}) {
            const client = await connectAs(nextUrl(), user, PASSWORD[user], opts);
            clients.push(client);
            return client;
        }
        const refused = (pred) => refusals.some(pred);
        const connectedCount = () => broker.clientCount + (other?.clientCount ?? 0);
        /** For what holds per instance (its own sockets, accounts, disk store), not across a cluster. */
        const singleOnly = (test, why) => {
            if (cluster) test.skip(`per instance: ${why}`);
        };

        before(async function () {
            if (cluster) redis = await new RedisUnderTest().start();
        });
        after(async function () {
            await redis?.stop();
        });
        beforeEach(async function () {
            refusals = [];
            clients = [];
            dirs = [];
            placed = 0;
            if (cluster) await redis.flush();
        });
        afterEach(async function () {
            await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
            await Promise.all([broker?.close(), other?.close()]);
            broker = undefined;
            other = undefined;
            for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
        });

        describe('1. session hijack', function () {
            it("refuses another user's Client ID (CONNACK 0x02), and the owner keeps its session and queued chats", async function () {
                const dir = tmpDir();
                dirs.push(dir);
                await start({ storeDir: dir });
                const bobId = 'GID_IMS@@@Bob_phone';
                const bob = await as('Bob', { clientId: bobId, clean: false });
                assert.deepStrictEqual(await grants(bob, 'IMS/Bob/Inbox/#'), [1]);
                await bob.endAsync();
                const carol = await as('Carol');
                await carol.publishAsync('IMS/Bob/Inbox/Chat/Carol', envelope({ type: 'chat', from: 'Carol', text: 'for Bob only' }), {
                    qos: 1,
                });
                // Alice, with her own password and Bob's Client ID, persistent like Bob's.
                assert.strictEqual(await refusedCode(url, 'Alice', PASSWORD.Alice, { clientId: bobId, clean: false }), 2);
                assert.strictEqual(await refusedCode(url, 'Alice', PASSWORD.Alice, { clientId: bobId, clean: true }), 2);
                assert.ok(refused((r) => r.action === 'connect' && r.user === 'Alice' && /belongs to another user/.test(r.reason)));
                // The binding survives a restart on the same store.
                await restart();
                assert.strictEqual(await refusedCode(url, 'Alice', PASSWORD.Alice, { clientId: bobId, clean: false }), 2);
                // Bob gets what was queued for him.
                const back = await as('Bob', { clientId: bobId, clean: false });
                const [, payload] = await nextOn(back, 'IMS/Bob/Inbox/Chat/Carol');
                assert.strictEqual(JSON.parse(payload).text, 'for Bob only');
            });

            it('leaves the owner connected while someone else presents its Client ID', async function () {
                await start();
                const bob = await as('Bob', { clientId: 'GID_IMS@@@Bob_NodeRED', clean: false });
                await grants(bob, 'IMS/Bob/Inbox/#');
                assert.strictEqual(await refusedCode(url, 'Alice', PASSWORD.Alice, { clientId: 'GID_IMS@@@Bob_NodeRED' }), 2);
                const carol = await as('Carol');
                await carol.publishAsync('IMS/Bob/Inbox/Chat/Carol', 'still here?', { qos: 1 });
                await nextOn(bob, 'IMS/Bob/Inbox/Chat/Carol');
                assert.ok(bob.connected);
            });

            it("lets a user take over its own device (a reconnect), and keeps a clean session's ID its own after it closes", async function () {
                await start();
                const first = await as('Alice', { clientId: 'GID_IMS@@@Alice_laptop' });
                const second = await as('Alice', { clientId: 'GID_IMS@@@Alice_laptop' });
                await until(() => !first.connected);
                assert.ok(second.connected);
                await second.endAsync();
                await until(() => connectedCount() === 0);
                // Gone, but still Alice's device: nobody else may bind it (and read the p2p messages sent to it)...
                assert.strictEqual(await refusedCode(url, 'Bob', PASSWORD.Bob, { clientId: 'GID_IMS@@@Alice_laptop' }), 2);
                // ...until the flow removes the device.
                assert.strictEqual(broker.removeDevice('GID_IMS@@@Alice_laptop'), true);
                await until(() => other === undefined || other.removeDevice('GID_IMS@@@Alice_laptop') !== undefined);
                const bob = await connectAs(url, 'Bob', PASSWORD.Bob, { clientId: 'GID_IMS@@@Alice_laptop' });
                clients.push(bob);
                assert.ok(bob.connected);
            });
        });

        describe('2. blocks against persistent sessions', function () {
            it('a block removes the stored follow and drops what was queued on it, also after a restart', async function () {
                const dir = tmpDir();
                dirs.push(dir);
                await start({ storeDir: dir });
                const aliceId = 'GID_IMS@@@Alice_phone';
                let alice = await as('Alice', { clientId: aliceId, clean: false });
                assert.deepStrictEqual(await grants(alice, ['IMS/Alice/Inbox/#', 'IMS/Bob']), [1, 1]);
                await alice.endAsync();
                const bob = await as('Bob');
                await bob.publishAsync('IMS/Bob', envelope({ type: 'moment', from: 'Bob', text: 'queued before the block' }), { qos: 1 });
                // After a restart the broker still knows Alice's devices.
                await restart();
                const bob2 = await as('Bob');
                await bob2.publishAsync('IMS/Alice/Inbox/Update/Bob/Unsub', envelope({ type: 'unsub', from: 'Bob' }), { qos: 1 });
                await bob2.publishAsync('IMS/Bob', envelope({ type: 'moment', from: 'Bob', text: 'after the block' }), { qos: 1 });
                await bob2.publishAsync('IMS/Alice/Inbox/Chat/Bob', 'marker', { qos: 1 });
                alice = await as('Alice', { clientId: aliceId, clean: false });
                await nextOn(alice, 'IMS/Alice/Inbox/Chat/Bob');
                await nextOn(alice, 'IMS/Alice/Inbox/Update/Bob/Unsub');
                assert.deepStrictEqual(
                    alice.received.filter(([t]) => t === 'IMS/Bob'),
                    [],
                    'no moment of Bob reaches Alice, queued or new',
                );
                // Carol, not blocked, still follows Bob.
                const carol = await as('Carol');
                await grants(carol, 'IMS/Bob');
                await bob2.publishAsync('IMS/Bob', envelope({ type: 'moment', from: 'Bob', text: 'for followers' }), { qos: 1 });
                await nextOn(carol, 'IMS/Bob');
            });

            it('a burst of SUBSCRIBEs racing the block never delivers a later moment', async function () {
                await start();
                const bob = await as('Bob');
                for (let round = 0; round < 10; round++) {
                    const alice = await as('Alice', { clientId: `GID_IMS@@@Alice_race${round}` });
                    const burst = Array.from({ length: 10 }, () => grants(alice, 'IMS/Bob').catch(() => [128]));
                    await bob.publishAsync('IMS/Alice/Inbox/Update/Bob/Unsub', envelope({ type: 'unsub', from: 'Bob' }), { qos: 1 });
                    await Promise.all(burst);
                    await bob.publishAsync('IMS/Bob', envelope({ type: 'moment', from: 'Bob', text: `round ${round}` }), { qos: 1 });
                    await bob.publishAsync('IMS/Alice/Inbox/Chat/Bob', 'marker', { qos: 1 });
                    await grants(alice, 'IMS/Alice/Inbox/#');
                    await bob.publishAsync('IMS/Alice/Inbox/Chat/Bob', 'marker', { qos: 1 });
                    await nextOn(alice, 'IMS/Alice/Inbox/Chat/Bob');
                    assert.deepStrictEqual(
                        alice.received.filter(([t]) => t === 'IMS/Bob'),
                        [],
                        `round ${round}`,
                    );
                    broker.unblock('Bob', 'Alice');
                    await alice.endAsync();
                }
            });

            it('ignores a self-block', async function () {
                await start();
                const alice = await as('Alice');
                await alice.publishAsync('IMS/Alice/Inbox/Update/Alice/Unsub', envelope({ type: 'unsub', from: 'Alice' }), { qos: 1 });
                assert.deepStrictEqual(await grants(alice, 'IMS/Alice'), [1]);
                assert.strictEqual(broker.policy.facts.isBlocked('Alice', 'Alice'), false);
            });
        });

        describe('3. wildcard and malformed Client IDs', function () {
            for (const clientId of ['#', '+', 'IMS/p2p/#', 'a/b', 'GID_IMS@@@#', '$SYS', 'tab\there', 'GID_IMS@@@']) {
                it(`refuses Client ID ${JSON.stringify(clientId)} with CONNACK 0x02`, async function () {
                    await start();
                    assert.strictEqual(await refusedCode(url, 'Alice', PASSWORD.Alice, { clientId }), 2);
                });
            }

            it('grants a device only its own p2p topic, and accepts ordinary and broker-assigned IDs', async function () {
                await start();
                const device = await as('Alice', { clientId: 'GID_IMS@@@Alice_tablet' });
                assert.deepStrictEqual(await grants(device, ['IMS/p2p/GID_IMS@@@Alice_tablet', 'IMS/p2p/#', 'IMS/p2p/+']), [1, 128, 128]);
                const plain = await as('Alice', { clientId: 'nodered_1234abcd' });
                assert.ok(plain.connected);
                const assigned = await as('Alice', { clientId: '', clean: true });
                assert.ok(assigned.connected);
            });
        });

        describe('4. forged wills after a crash', function () {
            it('drops wills the policy refuses at CONNECT; after kill -9 only honest wills are published', async function () {
                const dir = tmpDir();
                dirs.push(dir);
                const store = cluster ? { redisUrl: redis.url } : { storeDir: dir };
                const child = new BrokerProcess({ security: { accounts: ACCOUNTS }, ...store, heartbeatIntervalMs: 250 });
                await child.start();
                url = child.url;
                try {
                    const forged = [
                        ['IMS/Bob/Inbox/Chat/Carol', envelope({ type: 'chat', from: 'Carol', text: 'forged' }), false],
                        ['IMS/System/Beijing', envelope({ type: 'system', text: 'forged push' }), true],
                        ['IMS/Bob/Presence', envelope({ type: 'presence', from: 'Bob', data: { status: 'offline' } }), true],
                    ];
                    for (const [i, [topic, payload, retain]] of forged.entries()) {
                        await as('Alice', { clientId: `GID_IMS@@@Alice_will${i}`, clean: false, will: { topic, payload, qos: 1, retain } });
                    }
                    const honest = await as('Carol', {
                        clientId: 'GID_IMS@@@Carol_phone',
                        clean: false,
                        will: {
                            topic: 'IMS/Carol/Presence',
                            payload: envelope({ type: 'presence', from: 'Carol', data: { status: 'offline' } }),
                            qos: 1,
                            retain: true,
                        },
                    });
                    assert.ok(honest.connected);
                    await until(() => child.refusals.filter((r) => r.action === 'will').length === 3, 3000);
                    await child.kill();
                    clients.splice(0).forEach((c) => c.end(true));
                    await child.start();
                    url = child.url;
                    const bob = await as('Bob', { clientId: 'GID_IMS@@@Bob_phone', clean: false });
                    await grants(bob, ['IMS/Bob/Inbox/#', 'IMS/Bob/Presence', 'IMS/System/Beijing', 'IMS/Carol/Presence']);
                    // Carol's honest will comes after the restart (4 heartbeats), as retained presence.
                    const [, carolWill] = await nextOn(bob, 'IMS/Carol/Presence', 10000);
                    assert.strictEqual(JSON.parse(carolWill).data.status, 'offline');
                    const checker = await as('Carol', { clientId: 'GID_IMS@@@Carol_checker' });
                    await grants(checker, ['IMS/Bob/Presence', 'IMS/System/Beijing']);
                    await checker.publishAsync('IMS/Bob/Inbox/Chat/Carol', 'marker', { qos: 1 });
                    await nextOn(bob, 'IMS/Bob/Inbox/Chat/Carol');
                    const chats = bob.received.filter(([t]) => t === 'IMS/Bob/Inbox/Chat/Carol');
                    assert.deepStrictEqual(
                        chats.map(([, p]) => p),
                        ['marker'],
                        'no forged chat from Carol',
                    );
                    assert.deepStrictEqual(
                        bob.received.filter(([t]) => t === 'IMS/System/Beijing'),
                        [],
                    );
                    assert.deepStrictEqual(checker.received, [], 'no forged retained push or presence was stored');
                } finally {
                    await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
                    await child.kill();
                }
            });
        });

        describe('5. a slow consumer', function () {
            it('is disconnected, and others keep chatting in the meantime', async function () {
                await start();
                // A raw socket of Alice's that subscribes her moments, then never reads again.
                const slow = await rawLogin(broker.port, {
                    clientId: 'GID_IMS@@@Alice_slow',
                    username: 'Alice',
                    password: PASSWORD.Alice,
                });
                slow.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'IMS/Alice', qos: 0 }] }));
                await new Promise((r) => setTimeout(r, 50));
                slow.pause();
                const publishers = await Promise.all([1, 2, 3, 4, 5].map((i) => as('Alice', { clientId: `GID_IMS@@@Alice_pub${i}` })));
                const big = envelope({ type: 'moment', from: 'Alice', text: 'x'.repeat(60000) });
                let flooding = true;
                const flood = publishers.map(async (p) => {
                    for (let i = 0; i < 400 && flooding; i++) await p.publishAsync('IMS/Alice', big, { qos: 0 });
                });
                const bob = await as('Bob');
                const carol = await as('Carol');
                await grants(carol, 'IMS/Carol/Inbox/#');
                await grants(bob, 'IMS/Bob/Inbox/#');
                const trips = [];
                for (let i = 0; i < 20; i++) {
                    const t0 = Date.now();
                    const reply = nextOn(carol, `IMS/Carol/Inbox/Chat/Bob`, 5000);
                    bob.once('message', () => bob.publish('IMS/Carol/Inbox/Chat/Bob', `pong ${i}`, { qos: 1 }));
                    await carol.publishAsync('IMS/Bob/Inbox/Chat/Carol', `ping ${i}`, { qos: 1 });
                    await reply;
                    carol.received.length = 0;
                    trips.push(Date.now() - t0);
                }
                await until(() => slow.destroyed, 10000);
                flooding = false;
                await Promise.all(flood);
                slow.destroy();
                assert.ok(slow.destroyed, 'the slow consumer was disconnected');
                assert.ok(refused((r) => r.action === 'limit' && /slow consumer/.test(r.reason)));
                trips.sort((a, b) => a - b);
                assert.ok(trips[Math.floor(trips.length / 2)] < 100, `Carol's median round trip ${trips[10]} ms stays under 100 ms`);
            });
        });

        describe('6. oversized packets', function () {
            it('closes a connection whose CONNECT declares 255 MiB before buffering it; memory stays flat', async function () {
                await start();
                global.gc?.();
                const before = process.memoryUsage().rss;
                const attacks = [];
                for (let i = 0; i < 12; i++) attacks.push(hugePacketAttack(broker.port, 0x10));
                const outcomes = await Promise.all(attacks);
                assert.ok(
                    outcomes.every((o) => o.closed),
                    'every oversized CONNECT was closed',
                );
                assert.ok(
                    outcomes.every((o) => o.sent < 32 * 1024 * 1024),
                    'each was closed before 32 MiB of its body arrived',
                );
                const grown = (process.memoryUsage().rss - before) / 1024 / 1024;
                assert.ok(grown < 64, `RSS grew by ${grown.toFixed(1)} MB`);
                // The honest path: a normal login right after.
                const alice = await as('Alice');
                assert.ok(alice.connected);
            });

            it('closes a logged-in connection holding a partial 255 MiB PUBLISH open', async function () {
                await start();
                const socket = await rawLogin(broker.port, {
                    clientId: 'GID_IMS@@@Alice_raw',
                    username: 'Alice',
                    password: PASSWORD.Alice,
                    keepalive: 0,
                });
                const outcome = await hugePacketAttack(broker.port, 0x30, socket);
                assert.ok(outcome.closed);
                assert.ok(refused((r) => r.action === 'limit' && /over the limit/.test(r.reason) && r.user === 'Alice'));
            });
        });

        describe("7. the broker's own topics", function () {
            it('refuses $SYS and $queue to ordinary accounts, and $share of anything one may not read itself', async function () {
                await start();
                const alice = await as('Alice');
                assert.deepStrictEqual(
                    await grants(alice, [
                        '$SYS/#',
                        '$SYS/+/clients/connected',
                        '$queue/IMS/Alice/Inbox/#',
                        '$share/g/IMS/Bob/Inbox/#',
                        '$share/+/IMS/Alice/Inbox/#',
                        '$share/g',
                    ]),
                    [128, 128, 128, 128, 128, 128],
                );
                // Sharing one's own inbox among one's own devices is fine.
                assert.deepStrictEqual(await grants(alice, ['$share/g/IMS/Alice/Inbox/#']), [1]);
                const ops = await as('Ops');
                assert.deepStrictEqual(await grants(ops, ['$SYS/#']), [1]);
                assert.deepStrictEqual(await grants(ops, ['$share/g/IMS/Alice/Inbox/#']), [128]);
            });

            it("keeps each user's share groups apart: nobody takes half of another user's messages by picking the same name", async function () {
                await start();
                const alice = await as('Alice');
                const bob = await as('Bob');
                assert.deepStrictEqual(await grants(alice, '$share/feed/IMS/Carol'), [1]);
                assert.deepStrictEqual(await grants(bob, '$share/feed/IMS/Carol'), [1]);
                const carol = await as('Carol');
                for (let i = 0; i < 10; i++)
                    await carol.publishAsync('IMS/Carol', envelope({ type: 'moment', from: 'Carol', text: `m${i}` }), { qos: 1 });
                await until(() => alice.received.length === 10 && bob.received.length === 10, 5000);
                assert.strictEqual(alice.received.length, 10);
                assert.strictEqual(bob.received.length, 10);
            });
        });

        describe('8. friendship injection', function () {
            it('learns a friendship only from an answer to a request the broker saw', async function () {
                await start();
                const alice = await as('Alice');
                await grants(alice, 'IMS/Alice/Inbox/#');
                const carol = await as('Carol');
                await grants(carol, 'IMS/Carol/Inbox/#');
                const bob = await as('Bob');
                await grants(bob, 'IMS/Bob/Inbox/#');
                // Alice answers a request nobody made: "Bob, we are friends".
                await alice.publishAsync(
                    'IMS/Bob/Inbox/Add/GFResp/Alice',
                    envelope({ type: 'friend.response', from: 'Alice', data: { accepted: true } }),
                    { qos: 1 },
                );
                // Carol asks, Bob accepts: the honest friendship.
                await carol.publishAsync('IMS/Bob/Inbox/Add/GFReq/Carol', envelope({ type: 'friend.request', from: 'Carol' }), { qos: 1 });
                // Bob answers the request once he has it, as a client does.
                await nextOn(bob, 'IMS/Bob/Inbox/Add/GFReq/Carol');
                await bob.publishAsync(
                    'IMS/Carol/Inbox/Add/GFResp/Bob',
                    envelope({ type: 'friend.response', from: 'Bob', data: { accepted: true } }),
                    { qos: 1 },
                );
                await until(() => broker.policy.facts.friendsOf('Bob').length > 0);
                assert.deepStrictEqual(broker.policy.facts.friendsOf('Bob'), ['Carol']);
                await bob.publishAsync('IMS/Bob/Greet/friends', envelope({ type: 'greeting', from: 'Bob', text: 'hello friends' }), {
                    qos: 1,
                });
                await nextOn(carol, 'IMS/Carol/Inbox/Chat/Bob');
                await bob.publishAsync('IMS/Alice/Inbox/Chat/Bob', 'marker', { qos: 1 });
                await nextOn(alice, 'IMS/Alice/Inbox/Chat/Bob');
                assert.deepStrictEqual(
                    alice.received.map(([, p]) => p),
                    ['marker'],
                );
                // Once Bob blocks Carol, his friends greetings skip her.
                await bob.publishAsync('IMS/Carol/Inbox/Update/Bob/Unsub', envelope({ type: 'unsub', from: 'Bob' }), { qos: 1 });
                carol.received.length = 0;
                await bob.publishAsync('IMS/Bob/Greet/friends', envelope({ type: 'greeting', from: 'Bob', text: 'second' }), { qos: 1 });
                await bob.publishAsync('IMS/Carol/Inbox/Chat/Bob', 'marker', { qos: 1 });
                await until(() => carol.received.some(([, p]) => p === 'marker'));
                assert.ok(!carol.received.some(([, p]) => p.includes('second')));
            });
        });

        describe('9. costly paths', function () {
            it('caps subscriptions per client; publishes stay fast beside 20 000 refused ones', async function () {
                await start({ limits: { subscriptionsPerClient: 100 } });
                const alice = await as('Alice');
                const topics = Array.from({ length: 20000 }, (_, i) => `other/app/${i}`);
                const codes = [];
                for (let i = 0; i < topics.length; i += 100) codes.push(...(await grants(alice, topics.slice(i, i + 100))));
                assert.strictEqual(codes.filter((c) => c === 1).length, 100);
                assert.ok(refused((r) => r.action === 'subscribe' && /the limit/.test(r.reason)));
                const bob = await as('Bob');
                await grants(bob, 'IMS/Bob/Inbox/#');
                const t0 = Date.now();
                await Promise.all(
                    Array.from({ length: 3000 }, (_, i) => alice.publishAsync('IMS/Bob/Inbox/Chat/Alice', `m${i}`, { qos: 1 })),
                );
                await until(() => bob.received.length === 3000, 20000);
                assert.strictEqual(bob.received.length, 3000);
                assert.ok(Date.now() - t0 < 20000);
            });

            it('bounds the devices a user may bind', async function () {
                singleOnly(this, 'each instance counts the devices it has seen');
                await start({ limits: { devicesPerUser: 5 } });
                for (let i = 0; i < 5; i++) await as('Alice', { clientId: `GID_IMS@@@Alice_d${i}`, clean: false });
                assert.strictEqual(await refusedCode(url, 'Alice', PASSWORD.Alice, { clientId: 'GID_IMS@@@Alice_d5', clean: false }), 2);
                assert.ok(refused((r) => /devices/.test(r.reason)));
                // An existing device still comes back, and other users are not affected.
                await as('Alice', { clientId: 'GID_IMS@@@Alice_d0', clean: false });
                await as('Bob', { clientId: 'GID_IMS@@@Bob_d5', clean: false });
            });

            it('refuses a virtual-group greeting naming more members than the limit, and stays responsive', async function () {
                await start();
                const alice = await as('Alice');
                const bob = await as('Bob');
                await grants(bob, 'IMS/Bob/Inbox/#');
                const members = Array.from({ length: 20000 }, (_, i) => `U${i}`);
                await alice.publishAsync('IMS/Alice/Greet/list', envelope({ type: 'greeting', from: 'Alice', data: { members } }), {
                    qos: 1,
                });
                assert.ok(refused((r) => r.action === 'limit' && /members/.test(r.reason)));
                await alice.publishAsync(
                    'IMS/Alice/Greet/list',
                    envelope({ type: 'greeting', from: 'Alice', text: 'hi', data: { members: ['Bob'] } }),
                    { qos: 1 },
                );
                const [, payload] = await nextOn(bob, 'IMS/Bob/Inbox/Chat/Alice');
                assert.strictEqual(JSON.parse(payload).data.members, undefined, 'the list is not delivered');
            });

            it('backs off password guesses per address and per user; other addresses log in at once', async function () {
                await start({ host: '::' });
                const v4 = `mqtt://127.0.0.1:${broker.port}`;
                const v6 = `mqtt://[::1]:${broker.port}`;
                for (let i = 0; i < 5; i++) assert.strictEqual(await refusedCode(v4, 'Alice', 'guess' + i), 4);
                // Now even the right password waits, from that address.
                assert.strictEqual(await refusedCode(v4, 'Alice', PASSWORD.Alice), 5);
                assert.strictEqual(await refusedCode(v4, 'Carol', PASSWORD.Carol), 5);
                assert.ok(refused((r) => /too many failed logins/.test(r.reason)));
                // Carol from another address is not slowed down.
                const carol = await connectAs(v6, 'Carol', PASSWORD.Carol);
                clients.push(carol);
                // After the back-off, the right password works again.
                await new Promise((r) => setTimeout(r, 1100));
                const alice = await connectAs(v4, 'Alice', PASSWORD.Alice);
                clients.push(alice);
            });

            it('limits the connections one address may hold', async function () {
                singleOnly(this, 'each instance counts its own sockets');
                await start({ limits: { connectionsPerAddress: 3 } });
                await as('Alice', { clientId: 'a1' });
                await as('Alice', { clientId: 'a2' });
                await as('Alice', { clientId: 'a3' });
                // The fourth is closed before it can send a byte (an MQTT client would just see the socket close).
                const fourth = net.connect(broker.port, '127.0.0.1');
                await new Promise((resolve) => fourth.once('close', resolve).on('error', () => undefined));
                assert.ok(refused((r) => r.action === 'limit' && /connections/.test(r.reason)));
                await clients.pop().endAsync();
                await until(() => broker.clientCount === 2);
                await as('Bob');
            });
        });

        describe('10. smaller holes', function () {
            it('delivers one copy at the highest QoS on a restored persistent session', async function () {
                await start();
                let alice = await as('Alice', { clientId: 'GID_IMS@@@Alice_qos', clean: false });
                await grants(alice, 'IMS/Alice/Inbox/#', 1);
                await grants(alice, 'IMS/Alice/Inbox/Chat/Bob', 0);
                await alice.endAsync();
                alice = await as('Alice', { clientId: 'GID_IMS@@@Alice_qos', clean: false });
                const bob = await as('Bob');
                await bob.publishAsync('IMS/Alice/Inbox/Chat/Bob', 'once at QoS 1', { qos: 1 });
                await bob.publishAsync('IMS/Alice/Inbox/Add/GFReq/Bob', 'marker', { qos: 1 });
                await nextOn(alice, 'IMS/Alice/Inbox/Add/GFReq/Bob');
                assert.deepStrictEqual(
                    alice.packets.filter((p) => p.topic === 'IMS/Alice/Inbox/Chat/Bob').map((p) => p.qos),
                    [1],
                );
            });

            it('reports a store that cannot save (a warning, a refusal) instead of losing a block silently', async function () {
                singleOnly(this, 'the LevelDB store (a cluster reports Redis errors the same way)');
                const dir = tmpDir();
                dirs.push(dir);
                await start({ storeDir: dir });
                const errors = [];
                broker.on('storeError', (e) => errors.push(e));
                // The disk fails under the store (a full disk, a lost mount).
                broker.store.db.put = () => Promise.reject(new Error('disk full'));
                const bob = await as('Bob');
                await bob.publishAsync('IMS/Alice/Inbox/Update/Bob/Unsub', envelope({ type: 'unsub', from: 'Bob' }), { qos: 1 });
                await until(() => errors.length > 0);
                assert.ok(refused((r) => r.action === 'store'));
                // The block holds in memory all the same.
                const alice = await as('Alice');
                assert.deepStrictEqual(await grants(alice, 'IMS/Bob'), [128]);
            });

            it('ends the sessions of an account whose password, rights or existence change', async function () {
                singleOnly(this, "accounts are each instance's configuration");
                await start();
                const alice = await as('Alice');
                const closed = new Promise((r) => alice.once('close', r));
                broker.setAccount({ user: 'Alice', password: 'new-pass', attributes: { region: 'Hangzhou' } });
                await closed;
                assert.strictEqual(await refusedCode(url, 'Alice', PASSWORD.Alice), 4);
                clients.push(await connectAs(url, 'Alice', 'new-pass'));
                const ops = await as('Ops');
                const opsClosed = new Promise((r) => ops.once('close', r));
                broker.setAccount({ user: 'Ops', password: PASSWORD.Ops, system: false });
                await opsClosed;
                const carol = await as('Carol');
                const carolClosed = new Promise((r) => carol.once('close', r));
                assert.strictEqual(broker.removeAccount('Carol'), true);
                await carolClosed;
                assert.strictEqual(await refusedCode(url, 'Carol', PASSWORD.Carol), 4);
                // Bob, unchanged, stays.
                const bob = await as('Bob');
                broker.setAccount({ user: 'Bob', password: PASSWORD.Bob, attributes: { region: 'Beijing' } });
                await bob.publishAsync('IMS/Bob', 'still connected', { qos: 1 });
                assert.ok(bob.connected);
            });

            it('stops delivering group messages to a member as soon as it leaves', async function () {
                await start();
                const alice = await as('Alice');
                const bob = await as('Bob');
                await grants(alice, ['IMS/GroupX/#', 'IMS/Alice/Inbox/#']);
                await alice.publishAsync('IMS/Bob/Inbox/Group/Invite/Alice', JSON.stringify({ group: 'GroupX' }), { qos: 1 });
                assert.deepStrictEqual(await grants(bob, 'IMS/GroupX/#'), [1], 'the short invitation form admits Bob too');
                await bob.publishAsync('IMS/GroupX/Bob', envelope({ type: 'group.leave', from: 'Bob', data: { group: 'GroupX' } }), {
                    qos: 1,
                });
                await alice.publishAsync('IMS/GroupX/Alice', envelope({ type: 'group.message', from: 'Alice', text: 'after the leave' }), {
                    qos: 1,
                });
                await alice.publishAsync('IMS/Bob/Inbox/Chat/Alice', 'marker', { qos: 1 });
                await grants(bob, 'IMS/Bob/Inbox/#');
                await alice.publishAsync('IMS/Bob/Inbox/Chat/Alice', 'marker', { qos: 1 });
                await nextOn(bob, 'IMS/Bob/Inbox/Chat/Alice');
                assert.deepStrictEqual(
                    bob.received.filter(([t]) => t.startsWith('IMS/GroupX/')),
                    [],
                );
                assert.deepStrictEqual(await grants(bob, 'IMS/GroupX/#'), [128], 'and may not come back uninvited');
            });

            it('keeps no retained message on inbox, p2p, group or moment topics; presence stays retained', async function () {
                await start();
                const alice = await as('Alice');
                await alice.publishAsync('IMS/Bob/Inbox/Chat/Alice', 'retained chat?', { qos: 1, retain: true });
                await alice.publishAsync('IMS/p2p/GID_IMS@@@Bob_dev', envelope({ type: 'chat', from: 'Alice', text: 'retained p2p?' }), {
                    qos: 1,
                    retain: true,
                });
                await alice.publishAsync('IMS/Alice', envelope({ type: 'moment', from: 'Alice', text: 'retained moment?' }), {
                    qos: 1,
                    retain: true,
                });
                await alice.publishAsync('IMS/Alice/Presence', envelope({ type: 'presence', from: 'Alice', data: { status: 'online' } }), {
                    qos: 1,
                    retain: true,
                });
                const bob = await as('Bob');
                await grants(bob, ['IMS/Bob/Inbox/#', 'IMS/p2p/GID_IMS@@@Bob_dev', 'IMS/Alice', 'IMS/Alice/Presence']);
                await nextOn(bob, 'IMS/Alice/Presence');
                assert.deepStrictEqual(
                    bob.received.map(([t]) => t),
                    ['IMS/Alice/Presence'],
                );
            });
        });
    });

/** A raw MQTT connection that logs in and then does only what the test writes. */
/** Sends a fixed header declaring 255 MiB (CONNECT or PUBLISH), then streams body bytes until closed. */
function hugePacketAttack(port, firstByte, existing) {
    return new Promise((resolve) => {
        const socket = existing || net.connect(port, '127.0.0.1');
        let sent = 0;
        let done = false;
        const finish = () => {
            if (done) return;
            done = true;
            resolve({ closed: true, sent });
        };
        socket.on('close', finish);
        socket.on('error', () => undefined);
        const chunk = Buffer.alloc(256 * 1024, 0x41);
        const pump = () => {
            while (!socket.destroyed && sent < 64 * 1024 * 1024) {
                sent += chunk.length;
                if (!socket.write(chunk)) return socket.once('drain', pump);
            }
            if (!socket.destroyed) setTimeout(() => resolve({ closed: false, sent }), 3000);
        };
        const start = () => {
            socket.write(Buffer.from([firstByte, 0xff, 0xff, 0xff, 0x7f]));
            pump();
        };
        if (existing) start();
        else socket.once('connect', start);
    });
}
