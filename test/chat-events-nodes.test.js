'use strict';
// ims-chat and ims-group with typing, receipts, edit and recall, in the real Node-RED runtime on a real
// broker: off by default (nothing extra comes out), on when asked (each told apart by msg.ims.type),
// the actions read, typing, edit and recall, and forged events going to a Catch node.

const assert = require('assert');
const { forEachBroker } = require('./helpers/brokers');
const { load, unloadAll } = require('./helpers/red');
const mqtt = require('mqtt');
const { createEnvelope, encodeEnvelope } = require('../nodes/lib/envelope');
const { accounts, imNode, send, record, recordAt, allConnected, catchNode } = require('./helpers/flows');

const AB = ['A', 'B'];

forEachBroker((kind) => {
    describe('ims-chat and ims-group: typing, receipts, edit and recall', function () {
        let broker;
        before(async function () {
            broker = await kind.create().start();
        });
        after(async function () {
            await broker.stop();
        });
        afterEach(() => unloadAll());

        async function start(nodes) {
            await load([...accounts(broker.url, AB), ...nodes, ...catchNode()]);
            await allConnected(AB);
        }

        it('1:1: B marks A’s message read and types; A edits and recalls; only the node that asked sees them', async function () {
            await start([
                ...imNode('ims-chat', 'chatA', 'A', { chatEvents: true }),
                ...imNode('ims-chat', 'chatB', 'B', { chatEvents: true }),
                ...imNode('ims-chat', 'plainB', 'B'),
            ]);
            const [chatA, chatB, plainB] = ['chatA', 'chatB', 'plainB'].map(record);
            send('chatA', { topic: 'UserB', payload: 'helo' });
            const received = await chatB.next((m) => m.ims.type === 'chat');
            assert.strictEqual((await plainB.next()).payload, 'helo');

            // B sends the received message back in as "read", and types.
            send('chatB', { ...received, action: 'read' });
            const receipt = await chatA.next((m) => m.ims.type === 'receipt');
            assert.deepStrictEqual(receipt.payload, { status: 'read', ids: [received.ims.id], upTo: received.ims.id });
            assert.strictEqual(receipt.topic, 'UserB');
            send('chatB', { topic: 'UserA', action: 'typing' });
            assert.deepStrictEqual((await chatA.next((m) => m.ims.type === 'typing')).payload, { state: 'typing' });

            // A edits its last message to B, then recalls it (msg.ims.target defaults to that message).
            send('chatA', { topic: 'UserB', action: 'edit', payload: 'hello' });
            const edit = await chatB.next((m) => m.ims.type === 'edit');
            assert.deepStrictEqual([edit.payload, edit.ims.data.target], ['hello', received.ims.id]);
            send('chatA', { topic: 'UserB', action: 'recall', ims: { target: received.ims.id } });
            assert.strictEqual((await chatB.next((m) => m.ims.type === 'recall')).ims.data.target, received.ims.id);

            // B may not recall A's message: refused before anything is sent, with a catchable error.
            send('chatB', { topic: 'UserA', action: 'recall', ims: { target: received.ims.id } });
            const refused = await recordAt('caught').next((m) => m.error && /UserB cannot recall/.test(m.error.message));
            assert.match(refused.error.message, /UserA sent it, and only its sender may/);

            send('chatA', { topic: 'UserB', payload: 'after all that' });
            assert.strictEqual((await plainB.next((m) => m.payload === 'after all that')).ims.type, 'chat');
            assert.deepStrictEqual(
                plainB.seen.map((m) => m.ims.type),
                ['chat', 'chat'],
                'a node without the option emits chat messages only',
            );
        });

        it('group: a read receipt reaches the speaker; recalls of another’s message are refused on both sides', async function () {
            await start([
                ...imNode('ims-group', 'groupA', 'A', { group: 'Group1', chatEvents: true }),
                ...imNode('ims-group', 'groupB', 'B', { group: 'Group1', chatEvents: true }),
            ]);
            const [groupA, groupB] = ['groupA', 'groupB'].map(record);
            // In order on one connection: the SUBSCRIBE that creates the group goes before the invitation.
            send('groupA', { action: 'create' });
            send('groupA', { action: 'invite', payload: 'UserB' });
            await groupB.next((m) => m.ims.type === 'group.invite');
            send('groupB', { action: 'join' });
            await groupA.next((m) => m.ims.type === 'group.join');
            send('groupA', { payload: 'hello group' });
            const said = await groupB.next((m) => m.ims.type === 'group.message');

            send('groupB', { ...said, action: 'read' });
            const receipt = await groupA.next((m) => m.ims.type === 'receipt');
            assert.deepStrictEqual(receipt.payload, { status: 'read', ids: [said.ims.id], upTo: said.ims.id, group: 'Group1' });

            send('groupB', { action: 'typing' });
            assert.strictEqual((await groupA.next((m) => m.ims.type === 'typing')).topic, 'Group1');
            // B's own client will not recall A's message; a hand-made recall is refused by A's node.
            send('groupB', { action: 'recall', ims: { target: said.ims.id } });
            const caught = recordAt('caught');
            assert.strictEqual((await caught.next((m) => /UserB cannot recall/.test(m.error.message))).error.source.id, 'groupB');
            const raw = await mqtt.connectAsync(broker.url, { clientId: 'GID_IMS@@@raw_B', reconnectPeriod: 0 });
            const forged = createEnvelope({ type: 'recall', from: 'UserB', data: { target: said.ims.id } });
            await raw.publishAsync('IMS/Group1/UserB', encodeEnvelope(forged), { qos: 1 });
            await raw.endAsync();
            const refused = await caught.next((m) => m.ims && m.ims.code === 'IMS_NOT_OWNER');
            assert.strictEqual(refused.error.source.id, 'groupA');

            // A recalls its own last message in the group; B sees it.
            send('groupA', { action: 'recall' });
            assert.strictEqual((await groupB.next((m) => m.ims.type === 'recall')).ims.data.target, said.ims.id);
        });
    });
});
