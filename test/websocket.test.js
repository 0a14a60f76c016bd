'use strict';
// IM accounts connected over WebSocket (ws://), as a browser-facing deployment would: the shared
// connection's socket tuning applies to MQTT.js's WebSocket stream as well as to TCP.

const assert = require('assert');
const { AedesUnderTest, freePort } = require('./helpers/brokers');
const { load, unloadAll } = require('./helpers/red');
const { accounts, imNode, send, record, allConnected, catchNode } = require('./helpers/flows');

describe('IM over WebSocket', function () {
    let broker;
    before(async function () {
        broker = await new AedesUnderTest({ wsPort: await freePort(), wsPath: '/mqtt' }).start();
    });
    after(async function () {
        await broker.stop();
    });
    afterEach(() => unloadAll());

    it('two accounts on ws:// chat both ways, many messages in order', async function () {
        const url = `ws://127.0.0.1:${broker.broker.wsPort}/mqtt`;
        await load([
            ...accounts(url, ['A', 'B']),
            ...imNode('ims-chat', 'chatA', 'A'),
            ...imNode('ims-chat', 'chatB', 'B'),
            ...catchNode(),
        ]);
        await allConnected(['A', 'B']);
        const [chatA, chatB] = ['chatA', 'chatB'].map(record);
        // Written in one turn: the coalesced writes must all arrive, in order.
        for (let i = 0; i < 50; i++) send('chatA', { topic: 'UserB', payload: `m${i}` });
        const got = [];
        for (let i = 0; i < 50; i++) got.push((await chatB.next()).payload);
        assert.deepStrictEqual(
            got,
            Array.from({ length: 50 }, (_, i) => `m${i}`),
        );
        send('chatB', { topic: 'UserA', payload: 'all 50 here' });
        assert.strictEqual((await chatA.next()).payload, 'all 50 here');
    });
});
