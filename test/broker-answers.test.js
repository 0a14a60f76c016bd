'use strict';
// The client on every broker of the matrix (aedes, Mosquitto, NATS, RabbitMQ): one ordered lifecycle per
// account, state that follows the broker's answers, and errors instead of silence where a broker cannot
// do what the account asks. What a broker cannot do is listed once, in helpers/brokers.js BROKER_LIMITS.

const assert = require('assert');
const mqtt = require('mqtt');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { forEachBroker, AedesUnderTest, NatsUnderTest, NATS, MOSQUITTO, MosquittoUnderTest } = require('./helpers/brokers');
const { helper, load, unloadAll, waitForStatus } = require('./helpers/red');
const { accounts, imNode, send, act, record, allConnected, catchNode } = require('./helpers/flows');
const { recorder, sleep } = require('./helpers/wait');

/** Errors reaching the flow's Catch node; `until(pred)` waits for one that matches. */
function caughtErrors() {
    return recorder(helper.getNode('caught'), 'input', { show: (seen) => JSON.stringify(seen.map((m) => m.payload)) });
}

forEachBroker((kind) => {
    describe('broker answers', function () {
        let broker;
        before(async function () {
            broker = await kind.create().start();
        });
        after(async function () {
            await broker.stop();
        });
        afterEach(() => unloadAll());

        async function start(nodes, extra) {
            await load([...accounts(broker.url, ['A', 'B'], extra), ...nodes, ...catchNode()]);
            await allConnected(['A', 'B'].filter((u) => nodes.some((n) => n.account === `cfg${u}`)));
        }

        describe('one ordered lifecycle per account', function () {
            it('logs out and in quickly, three times, and every login can send at once', async function () {
                await start([...imNode('ims-login', 'lA', 'A'), ...imNode('ims-chat', 'chatA', 'A'), ...imNode('ims-chat', 'chatB', 'B')]);
                const chatB = record('chatB');
                const connection = helper.getNode('cfgA').account.session.connection;
                for (let round = 1; round <= 3; round++) {
                    const replaced = connection['client'];
                    await act('lA', { action: 'logout' });
                    await act('lA', { action: 'login' });
                    await allConnected(['A']);
                    // The replaced MQTT.js client's `close` may come late, once the new one is up (it did
                    // on Mosquitto 2 rounds in 3): it used to mark the new connection down. Here it comes
                    // for sure, and it must change nothing.
                    replaced.emit('close');
                    replaced.emit('error', Object.assign(new Error('late error of the replaced client'), { code: 'ECONNRESET' }));
                    assert.strictEqual(connection.state, 'connected');
                    await act('chatA', { topic: 'UserB', payload: `round ${round}` }, 3000);
                    assert.strictEqual((await chatB.next((m) => m.payload === `round ${round}`)).topic, 'UserA');
                }
                assert.strictEqual(helper.getNode('cfgA').account.session.connection.state, 'connected');
            });

            it('runs a login sent during a logout after it, instead of dropping it', async function () {
                await start([...imNode('ims-login', 'lA', 'A'), ...imNode('ims-chat', 'chatA', 'A'), ...imNode('ims-chat', 'chatB', 'B')]);
                const chatB = record('chatB');
                const lA = record('lA');
                const loggedOut = act('lA', { action: 'logout' });
                const loggedIn = act('lA', { action: 'login' }); // while the logout waits for the broker
                await Promise.all([loggedOut, loggedIn]);
                const events = lA.seen.filter((m) => m.ims.type === 'session').map((m) => m.payload);
                assert.deepStrictEqual(
                    events.filter((e) => e === 'logout' || e === 'login'),
                    ['logout', 'login'],
                );
                assert.ok(helper.getNode('cfgA').account.session.loggedIn, 'the login was not dropped');
                await act('chatA', { topic: 'UserB', payload: 'still here' });
                await chatB.next((m) => m.payload === 'still here');
            });

            it('keeps the account logged in through a redeploy of its only node: friends see no presence flap', async function () {
                const flow = [
                    ...accounts(broker.url, ['A', 'B']),
                    ...imNode('ims-chat', 'chatA', 'A'),
                    ...imNode('ims-login', 'lB', 'B'),
                    ...catchNode(),
                ];
                await load(flow);
                await allConnected(['A', 'B']);
                const sessionA = helper.getNode('cfgA').account.session;
                const watcher = await mqtt.connectAsync(broker.url, { clientId: 'GID_IMS@@@watcher', reconnectPeriod: 0 });
                const statuses = recorder(watcher, 'message', { map: (topic, payload) => JSON.parse(payload.toString()).data.status });
                const presence = statuses.seen;
                await watcher.subscribeAsync('IMS/UserA/Presence', { qos: 1 });
                await statuses.until((status) => status === 'online', 3000);
                assert.deepStrictEqual(presence, ['online'], 'the retained status');

                // A "modified nodes" deploy that changes only ims-chat: Node-RED closes it with removed = false.
                const changed = flow.map((n) => (n.id === 'chatA' ? { ...n, name: 'renamed' } : n));
                const tab = { id: 'tab1', type: 'tab', label: 'test' };
                await helper.setFlows(
                    [tab, ...changed.map((n, i) => (n.type === 'ims-config' ? n : { x: 100, y: 40 * (i + 1), ...n, z: 'tab1' }))],
                    'nodes',
                );
                // Proving a negative (no offline/online flap), bounded: longer than the account's grace for a
                // node to come back, after the redeploy finished and the retained status arrived.
                await sleep(1500);
                assert.strictEqual(helper.getNode('chatA').name, 'renamed', 'the node was redeployed');
                assert.strictEqual(helper.getNode('cfgA').account.session, sessionA, 'same account');
                assert.ok(sessionA.connection.connected, 'still connected');
                assert.deepStrictEqual(presence, ['online'], 'no offline/online flap');
                await watcher.endAsync();
            });
        });

        describe('state follows the broker', function () {
            it('stops delivering a group at once on leave, before the broker acknowledges it', async function () {
                await start([...imNode('ims-group', 'gA', 'A'), ...imNode('ims-group', 'gB', 'B')]);
                const gA = record('gA');
                await act('gA', { action: 'create', topic: 'GroupLeave' });
                await act('gB', { action: 'join', topic: 'GroupLeave' });
                await gA.next((m) => m.ims.type === 'group.join');
                // B speaks in the same turn as A's leave: its message may still arrive at A's client,
                // which must not deliver it.
                send('gA', { action: 'leave', topic: 'GroupLeave' });
                send('gB', { action: 'say', topic: 'GroupLeave', payload: 'after the leave' });
                await act('gB', { action: 'say', topic: 'GroupLeave', payload: 'marker' });
                // Proving a negative, bounded: B's publishes are acknowledged by the broker; nothing of
                // them may reach A in the next moment either.
                await sleep(300);
                assert.ok(!gA.texts().includes('after the leave'));
                assert.ok(!gA.texts().includes('marker'));
                assert.deepStrictEqual(helper.getNode('cfgA').account.session.state.list('groups'), []);
            });

            it('records a follow only when the broker grants it', async function () {
                await start([...imNode('ims-moments', 'mA', 'A'), ...imNode('ims-moments', 'mB', 'B')]);
                const session = helper.getNode('cfgA').account.session;
                const following = act('mA', { action: 'follow', topic: 'UserB' });
                assert.deepStrictEqual(session.state.list('following'), [], 'not before the SUBACK');
                await following;
                assert.deepStrictEqual(session.state.list('following'), ['UserB']);
            });

            it('ignores, with a warning, an inbox message that is not addressed to the account', async function () {
                await start([...imNode('ims-chat', 'chatA', 'A')]);
                const chatA = record('chatA');
                const cfgA = helper.getNode('cfgA');
                const warned = recorder(cfgA, 'call:warn', { map: (call) => call.args[0] });
                const warnings = warned.seen;
                // What NATS or RabbitMQ delivered to a user named `*` before IDs refused it: someone else's inbox.
                const body = Buffer.from(JSON.stringify({ v: 1, id: 'x1', type: 'chat', from: 'UserC', text: 'for B only' }));
                cfgA.account.session.connection.emit('message', 'IMS/UserB/Inbox/Chat/UserC', body, { qos: 1, dup: false });
                await warned.next(); // the message was handled: ignored, with this warning
                assert.strictEqual(chatA.seen.length, 0);
                assert.match(
                    warnings.join('\n'),
                    /UserA ignored a message on IMS\/UserB\/Inbox\/Chat\/UserC: it is not addressed to this account/,
                );
            });

            it('delivers a bare payload redelivered with the dup flag once', async function () {
                await start([...imNode('ims-chat', 'chatA', 'A')]);
                const chatA = record('chatA');
                const connection = helper.getNode('cfgA').account.session.connection;
                const payload = Buffer.from('plain hello');
                connection.emit('message', 'IMS/UserA/Inbox/Chat/UserB', payload, { qos: 1, dup: false });
                connection.emit('message', 'IMS/UserA/Inbox/Chat/UserB', payload, { qos: 1, dup: true }); // the redelivery
                connection.emit('message', 'IMS/UserA/Inbox/Chat/UserB', payload, { qos: 1, dup: false }); // said again
                // Handled in order: once a marker sent after them is out, all three were handled.
                connection.emit('message', 'IMS/UserA/Inbox/Chat/UserB', Buffer.from('marker'), { qos: 1, dup: false });
                await chatA.next((m) => m.payload === 'marker');
                assert.deepStrictEqual(chatA.texts(), ['plain hello', 'plain hello', 'marker']);
            });
        });

        describe('what the broker offers', function () {
            it('learns virtual groups from $IMS/capabilities, or plain MQTT where nothing is announced', async function () {
                await start([...imNode('ims-chat', 'chatA', 'A')]);
                const capabilities = await helper.getNode('cfgA').account.session.capabilities();
                const announces = !kind.cannot('capabilities');
                assert.strictEqual(capabilities.announced, announces);
                assert.strictEqual(capabilities.virtualGroups, announces);
                assert.ok(helper.getNode('cfgA').account.session.connection.connected, 'the subscription broke nothing');
            });

            it('greets a list and reports what was published; the greeting reaches its recipient on every broker', async function () {
                await start([...imNode('ims-broadcast', 'bA', 'A'), ...imNode('ims-chat', 'chatB', 'B')]);
                const bA = record('bA');
                const chatB = record('chatB');
                await act('bA', { action: 'greet', topic: ['UserB'], payload: 'hello' });
                assert.deepStrictEqual((await bA.next()).payload, { published: ['UserB'], refused: [], failed: [] });
                assert.strictEqual((await chatB.next()).payload, 'hello', 'it reached B on every broker');
            });
        });

        describe('errors instead of silence', function () {
            it('reports a refused MQTT 5 login to a Catch node and the status, with what to change', async function () {
                if (!kind.cannot('mqtt5')) {
                    console.log(`      - skipped on ${kind.name}: it speaks MQTT 5 (the config suite tests it)`);
                    this.skip();
                }
                await load([
                    ...accounts(broker.url, ['A'], { A: { protocolVersion: '5' } }),
                    ...imNode('ims-chat', 'chatA', 'A'),
                    ...catchNode(),
                ]);
                const errors = caughtErrors();
                const report = await errors.until((m) => m.ims && m.ims.event === 'connection-error');
                assert.match(report.payload, /(MQTT 5|protocol version).*3\.1\.1/i);
                await waitForStatus(helper.getNode('chatA'), (s) => s.fill === 'red', 3000).catch(() =>
                    assert.strictEqual(helper.getNode('chatA').status.lastCall.args[0].fill, 'red'),
                );
            });

            it('reports a QoS the broker does not grant, and sends at the QoS it does', async function () {
                if (!kind.cannot('qos2')) {
                    console.log(`      - skipped on ${kind.name}: it grants QoS 2`);
                    this.skip();
                }
                await start([...imNode('ims-chat', 'chatA', 'A'), ...imNode('ims-chat', 'chatB', 'B')], {
                    A: { qos: '2' },
                    B: { qos: '2' },
                });
                const chatB = record('chatB');
                // Reported at login (before this test could listen on the Catch node): every node of the account has it.
                const reported = helper
                    .getNode('chatA')
                    .error.args.map(([text, msg]) => (msg && msg.payload) || text)
                    .find((text) => /supports QoS 1 at most/.test(text));
                assert.match(reported || '', /set the account's QoS to 1/);
                const status = helper.getNode('chatA').status.lastCall.args[0];
                assert.deepStrictEqual([status.fill, status.text], ['yellow', 'ims-config.status.limited'], 'the status says so too');
                for (let i = 1; i <= 3; i++) await act('chatA', { topic: 'UserB', payload: `q${i}` });
                await chatB.next((m) => m.payload === 'q3');
                assert.ok(helper.getNode('cfgA').account.session.connection.connected, 'no reconnect loop');
            });
        });
    });
});

describe('broker answers: refused subscriptions roll back', function () {
    afterEach(() => unloadAll());

    it('on a secured aedes: a region the account is not registered for is refused, not recorded, and reaches a Catch node', async function () {
        const broker = await new AedesUnderTest({ security: { accounts: [{ user: 'UserA', password: 'a-pass' }] } }).start();
        try {
            await load([...accounts(broker.url, ['A']), ...imNode('ims-broadcast', 'bA', 'A'), ...catchNode()], {
                cfgA: { password: 'a-pass' },
            });
            await allConnected(['A']);
            const session = helper.getNode('cfgA').account.session;
            await assert.rejects(
                act('bA', { action: 'region', topic: 'Shanghai' }),
                /The broker refused the subscription to IMS\/System\/Shanghai/,
            );
            assert.strictEqual(session.state.region, undefined, 'not recorded, so not saved nor retried at login');
            assert.ok(!session.connection.subscriptions.has('IMS/System/Shanghai'));
            assert.strictEqual(helper.getNode('bA').status.lastCall.args[0].fill, 'red');
            assert.ok(session.connection.connected, 'the account keeps working');
        } finally {
            await unloadAll();
            await broker.stop();
        }
    });

    it('on NATS: the broker refuses the 64th subscription; with the subscription limit set, the account says why first', async function () {
        if (!NATS) throw new Error('nats-server is needed for this test');
        const broker = await new NatsUnderTest().start();
        try {
            // Inbox, p2p and $IMS/capabilities: 3 subscriptions; 60 follows make NATS's 63.
            const users = Array.from({ length: 61 }, (_, i) => `User${i + 1}`);
            await load([...accounts(broker.url, ['A']), ...imNode('ims-moments', 'mA', 'A'), ...catchNode()]);
            await allConnected(['A']);
            const session = helper.getNode('cfgA').account.session;
            for (const user of users.slice(0, 60)) await act('mA', { action: 'follow', topic: user });
            await assert.rejects(act('mA', { action: 'follow', topic: 'User61' }), /The broker refused the subscription to IMS\/User61/);
            assert.strictEqual(session.state.list('following').length, 60);
            assert.ok(!session.state.has('following', 'User61'));
            await unloadAll();

            await load([
                ...accounts(broker.url, ['A'], { A: { subscriptionLimit: '63' } }),
                ...imNode('ims-moments', 'mA', 'A'),
                ...catchNode(),
            ]);
            await allConnected(['A']);
            for (const user of users.slice(0, 60)) await act('mA', { action: 'follow', topic: user });
            await assert.rejects(
                act('mA', { action: 'follow', topic: 'User61' }),
                /the broker allows 63 subscriptions per client and 63 are in use/,
            );
        } finally {
            await unloadAll();
            await broker.stop();
        }
    });
});

describe('broker answers: Mosquitto refusals', function () {
    let dir;
    before(function () {
        if (!MOSQUITTO) throw new Error('mosquitto is needed for this suite');
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-refusals-'));
    });
    after(function () {
        fs.rmSync(dir, { recursive: true, force: true });
    });
    afterEach(() => unloadAll());

    it('reports a greeting the broker refuses (an MQTT 5 PUBACK reason code) apart from those it took', async function () {
        const acl = path.join(dir, 'acl');
        fs.writeFileSync(acl, ['topic readwrite IMS/#', 'topic read $IMS/#', 'topic deny IMS/UserZ/#', ''].join('\n'));
        const broker = await new MosquittoUnderTest({ aclFile: acl }).start();
        try {
            await load([
                ...accounts(broker.url, ['A', 'B'], { A: { protocolVersion: '5' }, B: { protocolVersion: '5' } }),
                ...imNode('ims-broadcast', 'bA', 'A'),
                ...imNode('ims-chat', 'chatB', 'B'),
                ...catchNode(),
            ]);
            await allConnected(['A', 'B']);
            const bA = record('bA');
            const chatB = record('chatB');
            await act('bA', { action: 'greet', topic: ['UserB', 'UserZ'], payload: 'hello' });
            const report = (await bA.next()).payload;
            assert.deepStrictEqual(report.published, ['UserB']);
            assert.deepStrictEqual(
                report.refused.map((r) => r.user),
                ['UserZ'],
            );
            assert.match(report.refused[0].error, /Not authorized/i);
            assert.deepStrictEqual(report.failed, []);
            assert.strictEqual((await chatB.next()).payload, 'hello');
        } finally {
            await unloadAll();
            await broker.stop();
        }
    });

    it('reports a broker that keeps closing the connection soon after accepting it (a reconnect loop)', async function () {
        // Mosquitto drops a client that sends a packet over max_packet_size; MQTT.js resends the QoS 1
        // publish after every reconnect, so it would loop for ever without a word.
        const broker = await new MosquittoUnderTest({ extraConfig: ['max_packet_size 2000'] }).start();
        try {
            await load([...accounts(broker.url, ['A']), ...imNode('ims-chat', 'chatA', 'A'), ...catchNode()]);
            await allConnected(['A']);
            const errors = caughtErrors();
            send('chatA', { topic: 'UserB', payload: 'x'.repeat(3000) });
            const report = await errors.until(
                (m) => m.ims && m.ims.event === 'connection-error' && /times in a row/.test(m.payload),
                15000,
            );
            assert.match(report.payload, /closed the connection 3 times in a row within 5000 ms of accepting it/);
            await waitForStatus(helper.getNode('chatA'), (st) => st.fill === 'red', 5000).catch(() =>
                assert.strictEqual(helper.getNode('chatA').status.lastCall.args[0].fill, 'red'),
            );
        } finally {
            await unloadAll();
            await broker.stop();
        }
    });
});
