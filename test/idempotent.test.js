'use strict';
// Doing again what is already done (befriending a friend, following a followee, joining a group one
// is in) changes nothing, sends nothing, raises no error, and says so on the node's status; the next
// action brings the connection status back.

const assert = require('assert');
const { AedesUnderTest } = require('./helpers/brokers');
const { helper, load, unloadAll, waitForStatus } = require('./helpers/red');
const { accounts, imNode, send, record, allConnected, catchNode } = require('./helpers/flows');
const { until } = require('./helpers/wait');

// The test runtime shows catalogue keys (node-red-node-test-helper loads no node catalogue); the
// i18n test checks every key has its text in both languages.
const blue = (key) => (s) => s.fill === 'blue' && s.text === key;
const green = (s) => s.fill === 'green';

describe('idempotent actions', function () {
    let broker;
    before(async function () {
        broker = await new AedesUnderTest().start();
    });
    after(async function () {
        await broker.stop();
    });
    afterEach(() => unloadAll());

    it('befriending a friend again sends nothing and says "already a friend"', async function () {
        await load([
            ...accounts(broker.url, ['A', 'B']),
            ...imNode('ims-friend-request', 'fA', 'A'),
            ...imNode('ims-friend-request', 'fB', 'B', { autoAccept: true }),
            ...catchNode(),
        ]);
        await allConnected(['A', 'B']);
        const [fA, fB] = ['fA', 'fB'].map(record);
        const caught = [];
        helper.getNode('caught').on('input', (m) => caught.push(m));
        send('fA', { action: 'request', topic: 'UserB' });
        assert.strictEqual((await fA.next((m) => m.ims.type === 'friend.response')).ims.data.accepted, true);
        const noted = waitForStatus(helper.getNode('fA'), blue('ims-friend-request.status.alreadyFriends'));
        send('fA', { action: 'request', topic: 'UserB' });
        await noted;
        // The next action brings the connection status back.
        const back = waitForStatus(helper.getNode('fA'), green);
        send('fA', { action: 'list' });
        assert.deepStrictEqual((await fA.next((m) => m.ims.type === 'friends')).payload.friends, ['UserB']);
        await back;
        assert.strictEqual(fB.seen.filter((m) => m.ims.type === 'friend.request').length, 1, 'B was asked once');
        assert.deepStrictEqual(caught, []);
    });

    it('following a followee again and joining a group one is in are no-ops that say so', async function () {
        await load([
            ...accounts(broker.url, ['A', 'B']),
            ...imNode('ims-moments', 'mA', 'A'),
            ...imNode('ims-group', 'gA', 'A'),
            ...imNode('ims-group', 'gB', 'B'),
            ...catchNode(),
        ]);
        await allConnected(['A', 'B']);
        const gB = record('gB');
        const caught = [];
        helper.getNode('caught').on('input', (m) => caught.push(m));
        const a = helper.getNode('cfgA').account.session;

        send('mA', { action: 'follow', topic: 'UserB' });
        // A follow counts once the broker granted it: then following again changes nothing.
        assert.ok(await until(() => a.state.has('following', 'UserB')));
        const following = waitForStatus(helper.getNode('mA'), blue('ims-moments.status.alreadyFollowing'));
        send('mA', { action: 'follow', topic: 'UserB' });
        await following;
        assert.deepStrictEqual(a.state.list('following'), ['UserB']);

        send('gB', { action: 'create', topic: 'Group1' });
        send('gA', { action: 'join', topic: 'Group1' });
        await gB.next((m) => m.ims.type === 'group.join' && m.ims.from === 'UserA');
        const member = waitForStatus(helper.getNode('gA'), blue('ims-group.status.alreadyMember'));
        send('gA', { action: 'join', topic: 'Group1' });
        await member;
        // Only one join reached the group: a message said after the second join arrives next.
        send('gA', { action: 'say', topic: 'Group1', payload: 'after the second join' });
        const next = await gB.next((m) => m.ims.from === 'UserA');
        assert.deepStrictEqual([next.ims.type, next.payload], ['group.message', 'after the second join']);
        assert.deepStrictEqual(caught, []);
    });
});
