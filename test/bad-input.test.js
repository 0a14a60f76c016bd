'use strict';
// Bad input never crashes and never delivers wrongly: invalid IDs, unknown actions, malformed payloads,
// spoofed senders, duplicates, oversized messages and the cloud profile's subscription limit each end
// in a clear error a Catch node receives, and the messages around them still get through.

const assert = require('assert');
const mqtt = require('mqtt');
const { forEachBroker } = require('./helpers/brokers');
const { helper, load, unloadAll, waitForStatus } = require('./helpers/red');
const { accounts, imNode, send, record, allConnected, catchNode } = require('./helpers/flows');
const { recorder, when } = require('./helpers/wait');

forEachBroker((kind) => {
    describe('bad input', function () {
        let broker;
        let raw; // an ordinary MQTT client, free to publish anything
        before(async function () {
            broker = await kind.create().start();
            raw = await mqtt.connectAsync(broker.url, { clientId: 'GID_IMS@@@raw', reconnectPeriod: 0 });
        });
        after(async function () {
            await raw.endAsync();
            await broker.stop();
        });
        afterEach(() => unloadAll());

        async function start(nodes, extra) {
            await load([...accounts(broker.url, ['A', 'B'], extra), ...nodes, ...catchNode()]);
            await allConnected(['A', 'B'].filter((u) => nodes.some((n) => n.account === `cfg${u}`)));
        }

        /** Errors reaching the flow's Catch node, waited for as they arrive. */
        function errors() {
            return recorder(helper.getNode('caught'), 'input', { show: (seen) => JSON.stringify(seen.map((m) => m.error.message)) });
        }

        it('refuses invalid IDs before publishing, with a red status', async function () {
            await start([...imNode('ims-chat', 'chatA', 'A'), ...imNode('ims-group', 'gA', 'A'), ...imNode('ims-moments', 'mA', 'A')]);
            const errs = errors();
            const cases = [
                ['chatA', { topic: 'User/B', payload: 'x' }, /Invalid user ID "User\/B" contains "\/"/],
                ['chatA', { topic: 'UserB\u200b', payload: 'x' }, /Invalid user ID .* contains U\+200B/],
                ['gA', { action: 'create', topic: 'Team1' }, /must start with the group prefix "Group"/],
                ['mA', { action: 'follow', topic: '$SYS' }, /starts with "\$"/],
                ['chatA', { payload: 'no recipient' }, /ims-config.errors.noPeer/],
                ['gA', { action: 'say', topic: 'Group9', payload: 'x' }, /UserA is not a member of Group9/],
            ];
            for (const [id, msg, why] of cases) {
                send(id, msg);
                const err = await errs.next();
                assert.match(err.error.message, why);
                assert.strictEqual(err.error.source.id, id);
                assert.strictEqual(helper.getNode(id).status.lastCall.args[0].fill, 'red');
            }
        });

        it('ends an unknown action with an error that lists the known ones', async function () {
            await start([...imNode('ims-moments', 'mA', 'A')]);
            const errs = errors();
            send('mA', { action: 'dance', topic: 'UserB' });
            const err = await errs.next();
            assert.match(err.error.message, /ims-config.errors.unknownAction/);
            assert.strictEqual(err.action, 'dance');
        });

        it('reports malformed payloads and spoofed senders, delivers neither, and delivers what follows', async function () {
            await start([...imNode('ims-chat', 'chatB', 'B')]);
            const chatB = record('chatB');
            const errs = errors();
            const bad = [
                ['{"v":1,"id":"m1","type":"nope","text":"x"}', /unknown type/],
                ['{"v":1,"id":"m2","type":"friend.request"}', /does not belong on a chat topic/],
                [Buffer.from([0xc3, 0x28]), /not valid UTF-8/],
                [
                    '{"v":1,"id":"m3","type":"chat","from":"Mallory","text":"I am UserA"}',
                    /Spoofed sender .* claims "Mallory" but the topic says "UserA"/,
                ],
            ];
            for (const [payload, why] of bad) {
                await raw.publishAsync('IMS/UserB/Inbox/Chat/UserA', payload, { qos: 1 });
                const err = await errs.next();
                assert.match(err.error.message, why);
                assert.strictEqual(err.error.source.id, 'chatB');
                assert.strictEqual(err.ims.topic, 'IMS/UserB/Inbox/Chat/UserA');
            }
            await raw.publishAsync('IMS/UserB/Inbox/Chat/UserA', 'a plain hello', { qos: 1 });
            const ok = await chatB.next();
            assert.deepStrictEqual([ok.topic, ok.payload, ok.ims.verified], ['UserA', 'a plain hello', true]);
            assert.strictEqual(chatB.seen.length, 1, 'nothing bad was delivered');
        });

        it('delivers a message sent twice with the same id once', async function () {
            await start([...imNode('ims-chat', 'chatB', 'B')]);
            const chatB = record('chatB');
            const envelope = JSON.stringify({ v: 1, id: '01JDUPLICATE0000000000000', type: 'chat', from: 'UserA', text: 'once' });
            await raw.publishAsync('IMS/UserB/Inbox/Chat/UserA', envelope, { qos: 1 });
            await raw.publishAsync('IMS/UserB/Inbox/Chat/UserA', envelope, { qos: 1 });
            await raw.publishAsync('IMS/UserB/Inbox/Chat/UserA', JSON.stringify({ v: 1, id: 'other', type: 'chat', text: 'twice?' }), {
                qos: 1,
            });
            await chatB.next((m) => m.payload === 'twice?');
            assert.deepStrictEqual(chatB.texts(), ['once', 'twice?']);
        });

        it('refuses oversized messages in both directions', async function () {
            await start([...imNode('ims-chat', 'chatA', 'A'), ...imNode('ims-chat', 'chatB', 'B')], {
                A: { maxPayload: '500' },
                B: { maxPayload: '500' },
            });
            const chatB = record('chatB');
            const errs = errors();
            send('chatA', { topic: 'UserB', payload: 'x'.repeat(600) });
            let err = await errs.next();
            assert.match(err.error.message, /bytes; the limit is 500/);
            assert.strictEqual(err.error.source.id, 'chatA');
            await raw.publishAsync('IMS/UserB/Inbox/Chat/UserA', 'y'.repeat(501), { qos: 1 });
            err = await errs.next();
            assert.match(err.error.message, /is 501 bytes; the limit is 500/);
            send('chatA', { topic: 'UserB', payload: 'small' });
            assert.strictEqual((await chatB.next()).payload, 'small');
        });

        it('names the 30-subscription limit of the cloud MQ profile when a follow would pass it', async function () {
            await start([...imNode('ims-moments', 'mA', 'A')], { A: { profile: 'cloud', deviceId: 'DeviceA' } });
            const mA = record('mA');
            const errs = errors();
            // The inbox holds one subscription; 29 follows fill the 30.
            for (let i = 1; i <= 29; i++) send('mA', { action: 'follow', topic: `User${i}` });
            const session = helper.getNode('cfgA').account.session;
            // A follow is recorded on its SUBACK: wait for all 29.
            await when(session.state, 'change', () => session.state.list('following').length === 29, 5000, '29 follows recorded');
            send('mA', { action: 'list' });
            assert.strictEqual((await mA.next((m) => m.ims.type === 'following')).payload.following.length, 29);
            assert.strictEqual(session.connection.subscriptions.size, 30);
            send('mA', { action: 'follow', topic: 'User30' });
            const err = await errs.next();
            assert.match(err.error.message, /the broker allows 30 subscriptions per client and 30 are in use/);
        });

        it('fails sends while the broker is away, then works again when it is back', async function () {
            await start([...imNode('ims-chat', 'chatA', 'A'), ...imNode('ims-chat', 'chatB', 'B')]);
            const chatB = record('chatB');
            const errs = errors();
            const down = waitForStatus(helper.getNode('chatA'), (status) => status.fill !== 'green', 10000);
            await raw.endAsync();
            await broker.stop();
            await down; // the account saw the broker go
            send('chatA', { topic: 'UserB', payload: 'while down' });
            const err = await errs.until((m) => m.payload === 'while down');
            assert.match(err.error.message, /Not connected to mqtt:\/\/127.0.0.1:\d+: .*ECONNREFUSED/);
            assert.strictEqual(err.error.source.id, 'chatA');
            const report = await errs.until((m) => m.ims && m.ims.event === 'connection-error');
            assert.match(report.payload, /ECONNREFUSED/, 'the outage itself is reported too');
            await broker.start(broker.port);
            raw = await mqtt.connectAsync(broker.url, { clientId: 'GID_IMS@@@raw', reconnectPeriod: 0 });
            await allConnected(['A', 'B']);
            send('chatA', { topic: 'UserB', payload: 'back again' });
            assert.strictEqual((await chatB.next()).payload, 'back again');
        });
    });
});
