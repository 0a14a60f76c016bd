'use strict';
// State that lasts: an account's follows, groups and region are kept in Node-RED context (here the
// real localfilesystem store, on disk), restored at login and subscribed again, with no action needed.

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { forEachBroker } = require('./helpers/brokers');
const { helper, load } = require('./helpers/red');
const { accounts, imNode, send, act, record, allConnected } = require('./helpers/flows');

forEachBroker((kind) =>
    describe('account state', function () {
        let broker;
        let dir;
        let originalLoadFlows;
        before(async function () {
            broker = await kind.create().start();
            dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-context-'));
            helper.settings({ contextStorage: { default: { module: 'localfilesystem', config: { dir, cache: false } } } });
            // The real runtime loads the context stores before it starts the flows; the test helper does not.
            const nodes = helper._redNodes;
            originalLoadFlows = nodes.loadFlows;
            nodes.loadFlows = async function (...args) {
                await nodes.loadContextsPlugin();
                return originalLoadFlows.apply(this, args);
            };
        });
        after(async function () {
            helper._redNodes.loadFlows = originalLoadFlows;
            helper.settings({ contextStorage: { default: { module: 'memory' } } });
            await broker.stop();
            fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
        });

        const flow = () => [
            ...accounts(broker.url, ['A', 'B'], { A: { region: 'Beijing' } }),
            ...imNode('ims-moments', 'mA', 'A'),
            ...imNode('ims-moments', 'mB', 'B'),
            ...imNode('ims-group', 'gA', 'A'),
            ...imNode('ims-group', 'gB', 'B'),
            ...imNode('ims-broadcast', 'bA', 'A'),
            ...imNode('ims-broadcast', 'bB', 'B'),
        ];

        it('survives a restart: follows, groups and region come back and are subscribed again', async function () {
            await load(flow());
            await allConnected(['A', 'B']);
            let [mA] = ['mA'].map(record);
            // Each is recorded (and saved) when the broker grants its subscription: wait for that.
            await act('mA', { action: 'follow', topic: 'UserB' });
            await act('gA', { action: 'create', topic: 'GroupBook' });
            await act('bA', { action: 'region', topic: 'Shanghai' });
            send('mA', { action: 'list' });
            await mA.next((m) => m.ims.type === 'following');
            await new Promise((r) => setTimeout(r, 100)); // the state is saved once per burst of changes
            await helper.unload(); // a restart: the flows stop, the context store keeps its files

            const onDisk = JSON.parse(fs.readFileSync(path.join(dir, 'context', 'global', 'global.json'), 'utf8'));
            assert.deepStrictEqual(onDisk.ims_state_IMS_UserA, {
                v: 1,
                friends: [],
                requestsOut: [],
                requestsIn: [],
                following: ['UserB'],
                blocked: [],
                blockedBy: [],
                groups: ['GroupBook'],
                region: 'Shanghai',
            });

            await load(flow());
            await allConnected(['A', 'B']);
            [mA] = ['mA'].map(record);
            const [gA, bA] = ['gA', 'bA'].map(record);
            const subscriptions = Object.keys(helper.getNode('cfgA').account.session.connection.subscriptions.all()).sort();
            assert.deepStrictEqual(subscriptions, [
                '$IMS/capabilities',
                'IMS/GroupBook/#',
                'IMS/System/Shanghai',
                'IMS/UserA/Inbox/#',
                'IMS/UserB',
                'IMS/p2p/GID_IMS@@@UserA_test',
            ]);
            send('mB', { action: 'post', payload: 'still following?' });
            assert.strictEqual((await mA.next()).payload, 'still following?');
            await act('gB', { action: 'join', topic: 'GroupBook' });
            send('gB', { action: 'say', topic: 'GroupBook', payload: 'hi book club' });
            assert.strictEqual((await gA.next((m) => m.ims.type === 'group.message')).payload, 'hi book club');
            send('bB', { action: 'push', topic: 'Shanghai', payload: 'to Shanghai' });
            assert.strictEqual((await bA.next()).payload, 'to Shanghai');
            await helper.unload(); // the store's directory goes with the test
        });
    }),
);

describe('account state format', function () {
    it('reads a state saved by 0.1.0, before the format had a version, and writes v: 1', function () {
        const { AccountState } = require('../nodes/lib/accountState');
        const old = { friends: ['UserB'], following: ['UserB'], groups: ['GroupBook'], region: 'Shanghai' };
        assert.deepStrictEqual(new AccountState(old).toJSON(), {
            v: 1,
            friends: ['UserB'],
            requestsOut: [],
            requestsIn: [],
            following: ['UserB'],
            blocked: [],
            blockedBy: [],
            groups: ['GroupBook'],
            region: 'Shanghai',
        });
    });
});
