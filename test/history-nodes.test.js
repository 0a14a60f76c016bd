'use strict';
// The `history` action of ims-chat and ims-group (issue 14), in the real Node-RED runtime on a secured
// ims-broker node: a page of the conversation in the nodes' message shape, paging back with
// msg.ims.before, members only; and on a broker without history, an IMS_NO_HISTORY error a Catch node gets.

const assert = require('assert');
const { freePort } = require('./helpers/brokers');
const { helper, load, unloadAll, account, connected } = require('./helpers/red');
const { imNode, send, act, record, recordAt, catchNode } = require('./helpers/flows');

const ACCOUNTS = [
    { user: 'UserA', password: 'a-pass' },
    { user: 'UserB', password: 'b-pass' },
];

describe('ims-chat and ims-group: the history action', function () {
    this.timeout(30000);
    afterEach(() => unloadAll());

    async function start(nodes, brokerProps = {}) {
        const port = await freePort();
        const url = `mqtt://127.0.0.1:${port}`;
        await load(
            [
                { id: 'broker', type: 'ims-broker', port: String(port), security: true, wires: [[]], ...brokerProps },
                ...['A', 'B'].map((u) => account(`cfg${u}`, `User${u}`, url)),
                ...nodes,
                ...catchNode(),
            ],
            { broker: { accounts: JSON.stringify(ACCOUNTS) }, cfgA: { password: 'a-pass' }, cfgB: { password: 'b-pass' } },
        );
        const used = ['A', 'B'].filter((u) => nodes.some((n) => n.account === `cfg${u}`));
        await Promise.all(used.map((u) => connected(helper.getNode(`cfg${u}`), 8000)));
    }

    it('ims-chat returns pages of the 1:1 conversation, oldest first, in the shape it emits messages', async function () {
        await start([...imNode('ims-chat', 'chatA', 'A'), ...imNode('ims-chat', 'chatB', 'B')]);
        const chatA = record('chatA');
        const chatB = record('chatB');
        for (let i = 1; i <= 5; i++) await act('chatA', { topic: 'UserB', payload: `a${i}` });
        await act('chatB', { topic: 'UserA', payload: 'b1' });
        await chatA.next((m) => m.payload === 'b1');
        send('chatB', { topic: 'UserA', action: 'history', ims: { limit: 4 } });
        const page = await chatB.next((m) => m.ims.type === 'history');
        assert.strictEqual(page.topic, 'UserA');
        assert.deepStrictEqual(
            page.payload.map((m) => [m.topic, m.payload, m.ims.type, m.ims.from, m.ims.seq]),
            [
                ['UserA', 'a3', 'chat', 'UserA', 3],
                ['UserA', 'a4', 'chat', 'UserA', 4],
                ['UserA', 'a5', 'chat', 'UserA', 5],
                ['UserB', 'b1', 'chat', 'UserB', 6],
            ],
        );
        assert.deepStrictEqual(page.payload[0].ims.topic, 'IMS/UserB/Inbox/Chat/UserA');
        assert.deepStrictEqual([page.ims.more, page.ims.before, page.ims.lastSeq], [true, 3, 6]);
        // The page before: send ims.before back in.
        send('chatB', { topic: 'UserA', action: 'history', ims: { before: page.ims.before } });
        const older = await chatB.next((m) => m.ims.type === 'history' && m.ims.before === 1);
        assert.deepStrictEqual(
            older.payload.map((m) => m.payload),
            ['a1', 'a2'],
        );
        assert.strictEqual(older.ims.more, false);
    });

    it('ims-group returns the group’s history to its members', async function () {
        await start([
            ...imNode('ims-group', 'groupA', 'A', { group: 'Group1' }),
            ...imNode('ims-group', 'groupB', 'B', { group: 'Group1' }),
        ]);
        const groupA = record('groupA');
        await act('groupA', { action: 'create' });
        await act('groupA', { action: 'invite', payload: ['UserB'] });
        await act('groupB', { action: 'join' });
        await act('groupA', { payload: 'hello group' });
        await act('groupB', { payload: 'hi all' });
        await groupA.next((m) => m.payload === 'hi all');
        send('groupA', { action: 'history' });
        const page = await groupA.next((m) => m.ims.type === 'history');
        assert.strictEqual(page.topic, 'Group1');
        const said = page.payload.filter((m) => m.ims.type === 'group.message');
        assert.deepStrictEqual(
            said.map((m) => [m.topic, m.payload, m.ims.from, m.ims.group]),
            [
                ['Group1', 'hello group', 'UserA', 'Group1'],
                ['Group1', 'hi all', 'UserB', 'Group1'],
            ],
        );
        assert.strictEqual(page.ims.unread, 1, 'UserB’s message is unread for UserA');
    });

    it('says IMS_NO_HISTORY, to a Catch node, where the broker keeps none', async function () {
        await start([...imNode('ims-chat', 'chatA', 'A')], { historyPerConversation: '0' });
        const caught = recordAt('caught');
        send('chatA', { topic: 'UserB', action: 'history' });
        const error = await caught.next();
        assert.strictEqual(error.error.source.id, 'chatA');
        // The test runtime shows shared messages by their key (as test/bad-input.test.js does).
        assert.match(error.error.message, /errors.noHistory|keeps no history/);
    });
});
