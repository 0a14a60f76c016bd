'use strict';
// IM nodes on a secured ims-broker in one flow: accounts log in with their passwords, a spoofing client
// is refused and the refusal comes out of the broker node, the flow adds an account, and a greeting to
// many friends is one publish through a virtual group.

const assert = require('assert');
const mqtt = require('mqtt');
const { freePort } = require('./helpers/brokers');
const { helper, load, unloadAll, account, connected } = require('./helpers/red');
const { imNode, send, record, recordAt } = require('./helpers/flows');

const ACCOUNTS = [
    { user: 'UserA', password: 'a-pass' },
    { user: 'UserB', password: 'b-pass' },
    { user: 'UserC', password: 'c-pass' },
];

describe('IM nodes on a secured ims-broker', function () {
    let port;
    afterEach(() => unloadAll());

    async function start(nodes, extra = {}) {
        port = await freePort();
        const url = `mqtt://127.0.0.1:${port}`;
        await load(
            [
                { id: 'broker', type: 'ims-broker', port: String(port), security: true, wires: [['refused']] },
                { id: 'refused', type: 'helper' },
                ...['A', 'B', 'C'].map((u) => account(`cfg${u}`, `User${u}`, url, extra[u] || {})),
                ...nodes,
            ],
            {
                broker: { accounts: JSON.stringify(ACCOUNTS) },
                cfgA: { password: 'a-pass' },
                cfgB: { password: 'b-pass' },
                cfgC: { password: 'c-pass' },
            },
        );
        const used = ['A', 'B', 'C'].filter((u) => nodes.some((n) => n.account === `cfg${u}`));
        await Promise.all(used.map((u) => connected(helper.getNode(`cfg${u}`), 8000)));
    }

    it("lets the accounts chat, and reports a spoofing client on the broker node's output", async function () {
        await start([...imNode('ims-chat', 'chatA', 'A'), ...imNode('ims-chat', 'chatB', 'B')]);
        const chatB = record('chatB');
        const refused = recordAt('refused');
        const mallory = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
            clientId: 'GID_IMS@@@m',
            username: 'UserC',
            password: 'c-pass',
            reconnectPeriod: 0,
        });
        await mallory.publishAsync('IMS/UserB/Inbox/Chat/UserA', 'I am UserA', { qos: 1 });
        const report = await refused.next();
        assert.deepStrictEqual(
            [report.topic, report.payload.action, report.payload.topic],
            ['UserC', 'publish', 'IMS/UserB/Inbox/Chat/UserA'],
        );
        send('chatA', { topic: 'UserB', payload: 'the real UserA' });
        assert.strictEqual((await chatB.next()).payload, 'the real UserA');
        assert.strictEqual(chatB.seen.length, 1, 'the forged message never arrived');
        await mallory.endAsync();
    });

    it('takes new accounts from the flow', async function () {
        await start([...imNode('ims-chat', 'chatA', 'A')]);
        const url = `mqtt://127.0.0.1:${port}`;
        await assert.rejects(
            mqtt.connectAsync(url, { clientId: 'GID_IMS@@@d', username: 'Dave', password: 'd-pass', reconnectPeriod: 0 }),
            (e) => e.code === 4,
        );
        helper.getNode('broker').receive({ action: 'account', payload: { user: 'Dave', password: 'd-pass' } });
        await new Promise((resolve) => setTimeout(resolve, 100));
        const dave = await mqtt.connectAsync(url, { clientId: 'GID_IMS@@@d', username: 'Dave', password: 'd-pass', reconnectPeriod: 0 });
        assert.ok(dave.connected);
        await dave.endAsync();
    });

    it('greets every friend with one publish through a virtual group', async function () {
        await start(
            [
                ...imNode('ims-friend-request', 'fA', 'A'),
                ...imNode('ims-friend-request', 'fB', 'B', { autoAccept: true }),
                ...imNode('ims-friend-request', 'fC', 'C', { autoAccept: true }),
                ...imNode('ims-broadcast', 'bA', 'A'),
                ...imNode('ims-chat', 'chatB', 'B'),
                ...imNode('ims-chat', 'chatC', 'C'),
            ],
            // No setting: the account learns from the broker's $IMS/capabilities that it has virtual groups.
        );
        const [fA, bA, chatB, chatC] = ['fA', 'bA', 'chatB', 'chatC'].map(record);
        // Count what UserA's connection publishes.
        const connection = helper.getNode('cfgA').account.session.connection;
        const publishes = [];
        const original = connection.publish.bind(connection);
        connection.publish = (topic, ...rest) => {
            publishes.push(topic);
            return original(topic, ...rest);
        };
        send('fA', { action: 'request', topic: 'UserB' });
        send('fA', { action: 'request', topic: 'UserC' });
        await fA.next((m) => m.ims.type === 'friend.response');
        await fA.next((m) => m.ims.type === 'friend.response');
        publishes.length = 0;
        send('bA', { action: 'greet', payload: 'one publish, two friends' });
        assert.deepStrictEqual((await bA.next()).payload, { published: ['UserB', 'UserC'], refused: [], failed: [] });
        assert.deepStrictEqual(publishes, ['IMS/UserA/Greet/friends']);
        for (const [chat, user] of [
            [chatB, 'UserB'],
            [chatC, 'UserC'],
        ]) {
            const g = await chat.next();
            assert.deepStrictEqual(
                [g.topic, g.payload, g.ims.type, g.ims.topic],
                ['UserA', 'one publish, two friends', 'greeting', `IMS/${user}/Inbox/Chat/UserA`],
            );
            assert.ok(!('members' in (g.ims.data || {})), 'members never see the list');
        }
    });
});
