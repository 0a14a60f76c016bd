'use strict';
// The seed's five scenarios, end to end: three accounts (three ims-config nodes, three connections)
// in one flow exchange real messages over the seed's topics on a real broker.

const assert = require('assert');
const { forEachBroker } = require('./helpers/brokers');
const { helper, load, unloadAll } = require('./helpers/red');
const { accounts, imNode, send, act, record, allConnected, catchNode } = require('./helpers/flows');

const ABC = ['A', 'B', 'C'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

forEachBroker((kind) => {
    describe('scenarios', function () {
        let broker;
        before(async function () {
            broker = await kind.create().start();
        });
        after(async function () {
            await broker.stop();
        });
        afterEach(() => unloadAll());

        /** Loads the flow and waits for the accounts that have nodes (an account with none stays offline). */
        async function start(nodes, extra) {
            await load([...accounts(broker.url, ABC, extra), ...nodes, ...catchNode()]);
            await allConnected(ABC.filter((u) => nodes.some((n) => n.account === `cfg${u}`)));
        }

        describe('1. friend request and 1:1 chat', function () {
            it('A asks B, B accepts, both are friends, and they chat through their inboxes', async function () {
                await start([
                    ...imNode('ims-friend-request', 'fA', 'A'),
                    ...imNode('ims-friend-request', 'fB', 'B'),
                    ...imNode('ims-chat', 'chatA', 'A'),
                    ...imNode('ims-chat', 'chatB', 'B'),
                ]);
                const [fA, fB, chatA, chatB] = ['fA', 'fB', 'chatA', 'chatB'].map(record);
                send('fA', { action: 'request', topic: 'UserB', payload: 'Hi B, it is A' });
                const req = await fB.next();
                assert.strictEqual(req.topic, 'UserA', 'B knows the sender from the topic');
                assert.strictEqual(req.payload, 'Hi B, it is A');
                assert.strictEqual(req.ims.type, 'friend.request');
                assert.strictEqual(req.ims.topic, 'IMS/UserB/Inbox/Add/GFReq/UserA');

                // B answers by sending the request back in with action accept.
                send('fB', { ...req, action: 'accept', payload: 'Welcome' });
                const resp = await fA.next();
                assert.strictEqual(resp.ims.topic, 'IMS/UserA/Inbox/Add/GFResp/UserB');
                assert.strictEqual(resp.ims.data.accepted, true);
                assert.strictEqual(resp.payload, 'Welcome');

                send('fA', { action: 'list' });
                send('fB', { action: 'list' });
                assert.deepStrictEqual((await fA.next((m) => m.ims.type === 'friends')).payload.friends, ['UserB']);
                assert.deepStrictEqual((await fB.next((m) => m.ims.type === 'friends')).payload.friends, ['UserA']);

                send('chatA', { topic: 'UserB', payload: 'lunch?' });
                const chat = await chatB.next();
                assert.deepStrictEqual([chat.topic, chat.payload, chat.ims.topic], ['UserA', 'lunch?', 'IMS/UserB/Inbox/Chat/UserA']);
                send('chatB', { ...chat, payload: 'sure' }); // the same message shape replies to the sender
                const reply = await chatA.next();
                assert.deepStrictEqual([reply.topic, reply.payload], ['UserB', 'sure']);
            });

            it('a rejected request makes nobody friends, and an answer nobody asked for is refused', async function () {
                await start([...imNode('ims-friend-request', 'fB', 'B'), ...imNode('ims-friend-request', 'fC', 'C')]);
                const [fB, fC] = ['fB', 'fC'].map(record);
                send('fC', { action: 'request', topic: 'UserB' });
                const req = await fB.next();
                send('fB', { ...req, action: 'reject' });
                const resp = await fC.next();
                assert.strictEqual(resp.ims.data.accepted, false);
                send('fC', { action: 'list' });
                assert.deepStrictEqual((await fC.next((m) => m.ims.type === 'friends')).payload, {
                    friends: [],
                    requestsIn: [],
                    requestsOut: [],
                });

                // B "accepts" C again although C never asked again: C refuses it as unexpected.
                const caught = record.caught || helper.getNode('caught');
                const error = new Promise((resolve) => caught.once('input', resolve));
                send('fB', { action: 'accept', topic: 'UserC' });
                const msg = await error;
                assert.match(msg.error.message, /Friend response from UserB, who was never asked by UserC/);
                send('fC', { action: 'list' });
                assert.deepStrictEqual((await fC.next((m) => m.ims.type === 'friends')).payload.friends, []);
            });

            it('a bot with auto-accept accepts every request as it arrives', async function () {
                await start([
                    ...imNode('ims-friend-request', 'fA', 'A'),
                    ...imNode('ims-friend-request', 'fBot', 'B', { autoAccept: true }),
                ]);
                const [fA, fBot] = ['fA', 'fBot'].map(record);
                send('fA', { action: 'request', topic: 'UserB' });
                const req = await fBot.next();
                assert.strictEqual(req.ims.data.autoAccepted, true);
                assert.strictEqual((await fA.next()).ims.data.accepted, true);
            });
        });

        describe('2. moments: follow, unfollow, block', function () {
            it('followers receive posts; an unfollowed user does not', async function () {
                await start([
                    ...imNode('ims-moments', 'mA', 'A'),
                    ...imNode('ims-moments', 'mB', 'B'),
                    ...imNode('ims-moments', 'mC', 'C'),
                ]);
                const [mA, , mC] = ['mA', 'mB', 'mC'].map(record);
                // Each follow ends on its SUBACK: only then is a post sure to reach the follower.
                await Promise.all([act('mA', { action: 'follow', topic: 'UserB' }), act('mC', { action: 'follow', topic: 'UserB' })]);
                send('mB', { payload: 'sunset at the lake' }); // the node's default action: post
                const [a, c] = await Promise.all([mA.next(), mC.next()]);
                for (const m of [a, c])
                    assert.deepStrictEqual(
                        [m.topic, m.payload, m.ims.topic, m.ims.type],
                        ['UserB', 'sunset at the lake', 'IMS/UserB', 'moment'],
                    );

                await act('mA', { action: 'unfollow', topic: 'UserB' });
                send('mB', { action: 'post', payload: 'second post' });
                await mC.next((m) => m.payload === 'second post');
                // Proving a negative, bounded, after the positive round trip above: nothing else arrives late.
                await sleep(200);
                assert.deepStrictEqual(mA.texts(), ['sunset at the lake'], 'A unfollowed B');
            });

            it("B blocks C: C is told on its inbox, unfollows B, and B's later posts do not reach C", async function () {
                await start([
                    ...imNode('ims-moments', 'mA', 'A'),
                    ...imNode('ims-moments', 'mB', 'B'),
                    ...imNode('ims-moments', 'mC', 'C'),
                ]);
                const [mA, , mC] = ['mA', 'mB', 'mC'].map(record);
                await Promise.all([act('mA', { action: 'follow', topic: 'UserB' }), act('mC', { action: 'follow', topic: 'UserB' })]);
                send('mB', { action: 'block', topic: 'UserC' });
                const notice = await mC.next((m) => m.ims.type === 'unsub');
                assert.deepStrictEqual([notice.topic, notice.ims.topic], ['UserB', 'IMS/UserC/Inbox/Update/UserB/Unsub']);
                send('mC', { action: 'list' });
                const list = await mC.next((m) => m.ims.type === 'following');
                assert.deepStrictEqual(list.payload, { following: [], blocked: [], blockedBy: ['UserB'] });

                send('mB', { action: 'post', payload: 'after the block' });
                await mA.next((m) => m.payload === 'after the block');
                // Proving a negative, bounded, after the positive round trip above: nothing else arrives late.
                await sleep(200);
                assert.ok(!mC.texts().includes('after the block'));

                const error = new Promise((resolve) => helper.getNode('caught').once('input', resolve));
                send('mC', { action: 'follow', topic: 'UserB' });
                assert.match((await error).error.message, /UserB has blocked UserC/);

                // B lifts the block: C is told, and may follow B again.
                send('mB', { action: 'unblock', topic: 'UserC' });
                const lifted = await mC.next((m) => m.ims.type === 'unsub');
                assert.deepStrictEqual([lifted.topic, lifted.ims.data], ['UserB', { lifted: true }]);
                await act('mC', { action: 'follow', topic: 'UserB' });
                send('mB', { action: 'post', payload: 'after the unblock' });
                await mC.next((m) => m.payload === 'after the unblock');
            });
        });

        describe('3. group chat', function () {
            it('A creates Group123 and invites B and C; members hear each other, non-members and leavers do not', async function () {
                await start([
                    ...imNode('ims-group', 'gA', 'A'),
                    ...imNode('ims-group', 'gB', 'B', { autoJoin: true }),
                    ...imNode('ims-group', 'gC', 'C'),
                ]);
                const [gA, gB, gC] = ['gA', 'gB', 'gC'].map(record);
                send('gA', { action: 'create', topic: 'Group123' });
                send('gA', { action: 'invite', topic: 'Group123', payload: ['UserB'] });
                const invite = await gB.next((m) => m.ims.type === 'group.invite');
                assert.deepStrictEqual(
                    [invite.topic, invite.ims.from, invite.ims.topic, invite.ims.data.autoJoined],
                    ['Group123', 'UserA', 'IMS/UserB/Inbox/Group/Invite/UserA', true],
                );
                const joined = await gA.next((m) => m.ims.type === 'group.join');
                assert.strictEqual(joined.ims.from, 'UserB');

                send('gB', { action: 'say', topic: 'Group123', payload: 'hello group' });
                const heard = await gA.next((m) => m.ims.type === 'group.message');
                assert.deepStrictEqual(
                    [heard.topic, heard.payload, heard.ims.from, heard.ims.topic],
                    ['Group123', 'hello group', 'UserB', 'IMS/Group123/UserB'],
                );
                assert.ok(!gC.seen.length, 'C is not a member yet');

                send('gA', { action: 'invite', topic: 'Group123', payload: 'UserC' });
                const invC = await gC.next((m) => m.ims.type === 'group.invite');
                send('gC', { ...invC, action: 'join' }); // accept by joining: msg.topic is the group
                await gA.next((m) => m.ims.type === 'group.join' && m.ims.from === 'UserC');
                send('gB', { action: 'say', topic: 'Group123', payload: 'welcome C' });
                await Promise.all([gA.next((m) => m.payload === 'welcome C'), gC.next((m) => m.payload === 'welcome C')]);
                assert.ok(!gB.texts().includes('welcome C'), 'own messages are ignored');

                send('gC', { action: 'leave', topic: 'Group123' });
                await gA.next((m) => m.ims.type === 'group.leave' && m.ims.from === 'UserC');
                send('gB', { action: 'say', topic: 'Group123', payload: 'bye C' });
                await gA.next((m) => m.payload === 'bye C');
                // Proving a negative, bounded, after the positive round trip above: nothing else arrives late.
                await sleep(200);
                assert.ok(!gC.texts().includes('bye C'), 'C left');
                send('gC', { action: 'list' });
                assert.deepStrictEqual((await gC.next((m) => m.ims.type === 'groups')).payload, []);
            });
        });

        describe('4. greetings to many friends', function () {
            it('greets every friend with one inbox publish each, with progress and a report', async function () {
                await start([
                    ...imNode('ims-friend-request', 'fA', 'A'),
                    ...imNode('ims-friend-request', 'fB', 'B', { autoAccept: true }),
                    ...imNode('ims-friend-request', 'fC', 'C', { autoAccept: true }),
                    ...imNode('ims-broadcast', 'bA', 'A', { rate: '50' }),
                    ...imNode('ims-chat', 'chatB', 'B'),
                    ...imNode('ims-chat', 'chatC', 'C'),
                ]);
                const [fA, bA, chatB, chatC] = ['fA', 'bA', 'chatB', 'chatC'].map(record);
                send('fA', { action: 'request', topic: 'UserB' });
                send('fA', { action: 'request', topic: 'UserC' });
                await fA.next((m) => m.ims.type === 'friend.response');
                await fA.next((m) => m.ims.type === 'friend.response');

                const progress = [];
                helper.getNode('bA').on('call:status', (c) => progress.push(c.args[0].text));
                send('bA', { action: 'greet', payload: 'Happy New Year!' });
                const report = await bA.next((m) => m.ims.type === 'greeting.done');
                assert.deepStrictEqual(report.payload, { published: ['UserB', 'UserC'], refused: [], failed: [] });
                for (const [chat, peer] of [
                    [chatB, 'UserB'],
                    [chatC, 'UserC'],
                ]) {
                    const g = await chat.next();
                    assert.deepStrictEqual(
                        [g.topic, g.payload, g.ims.type, g.ims.topic],
                        ['UserA', 'Happy New Year!', 'greeting', `IMS/${peer}/Inbox/Chat/UserA`],
                    );
                }
                assert.ok(progress.includes('ims-broadcast.status.progress'), 'progress shows on the status');
            });

            it('greets a given list, and refuses a list with an invalid ID before sending anything', async function () {
                await start([
                    ...imNode('ims-broadcast', 'bA', 'A', { rate: '100' }),
                    ...imNode('ims-chat', 'chatB', 'B'),
                    ...imNode('ims-chat', 'chatC', 'C'),
                ]);
                const [bA, chatB, chatC] = ['bA', 'chatB', 'chatC'].map(record);
                const error = new Promise((resolve) => helper.getNode('caught').once('input', resolve));
                send('bA', { action: 'greet', topic: ['UserB', 'bad/id'], payload: 'x' });
                assert.match((await error).error.message, /Invalid user ID "bad\/id"/);
                send('bA', { action: 'greet', topic: ['UserC'], payload: 'just you' });
                assert.deepStrictEqual((await bA.next()).payload.published, ['UserC']);
                assert.strictEqual((await chatC.next()).payload, 'just you');
                assert.strictEqual(chatB.seen.length, 0, 'nothing was sent for the refused list');
            });
        });

        describe('5. regional system push', function () {
            it('reaches exactly the users of the region, and follows a user who changes region', async function () {
                await start(
                    [...imNode('ims-broadcast', 'bA', 'A'), ...imNode('ims-broadcast', 'bB', 'B'), ...imNode('ims-broadcast', 'bC', 'C')],
                    { A: { region: 'Beijing' }, B: { region: 'Hangzhou' }, C: { region: 'Beijing' } },
                );
                const [bA, bB, bC] = ['bA', 'bB', 'bC'].map(record);
                send('bB', { action: 'push', topic: 'Beijing', payload: '新年快乐, 北京!' });
                const [a, c] = await Promise.all([bA.next(), bC.next()]);
                for (const m of [a, c])
                    assert.deepStrictEqual(
                        [m.topic, m.payload, m.ims.type, m.ims.topic],
                        ['Beijing', '新年快乐, 北京!', 'system', 'IMS/System/Beijing'],
                    );
                send('bA', { action: 'push', topic: 'Hangzhou', payload: '新年快乐, 杭州!' });
                assert.strictEqual((await bB.next()).payload, '新年快乐, 杭州!');
                // Proving a negative, bounded, after the positive round trip above: nothing else arrives late.
                await sleep(200);
                assert.strictEqual(bC.seen.length, 1, "Hangzhou's push did not reach Beijing");

                await act('bC', { action: 'region', topic: 'Hangzhou' });
                send('bA', { action: 'push', topic: 'Hangzhou', payload: 'second' });
                assert.strictEqual((await bC.next((m) => m.payload === 'second')).ims.topic, 'IMS/System/Hangzhou');
                send('bB', { action: 'push', topic: 'Beijing', payload: 'only A now' });
                await bA.next((m) => m.payload === 'only A now');
                // Proving a negative, bounded, after the positive round trip above: nothing else arrives late.
                await sleep(200);
                assert.ok(!bC.texts().includes('only A now'), 'C left Beijing');
            });
        });

        describe('presence', function () {
            it('friends see each other come online, log out and drop off (the will)', async function () {
                await start([
                    ...imNode('ims-friend-request', 'fA', 'A'),
                    ...imNode('ims-friend-request', 'fB', 'B', { autoAccept: true }),
                    ...imNode('ims-login', 'lA', 'A'),
                    ...imNode('ims-login', 'lB', 'B'),
                ]);
                const [fA, lA, lB] = ['fA', 'lA', 'lB'].map(record);
                send('fA', { action: 'request', topic: 'UserB' });
                await fA.next((m) => m.ims.type === 'friend.response');
                // Each now watches the other's presence: the retained "online" arrives at once.
                assert.strictEqual((await lB.next((m) => m.ims.type === 'presence' && m.topic === 'UserA')).payload, 'online');
                assert.strictEqual((await lA.next((m) => m.ims.type === 'presence' && m.topic === 'UserB')).payload, 'online');

                send('lA', { action: 'logout' });
                const off = await lB.next((m) => m.ims.type === 'presence' && m.payload === 'offline');
                assert.deepStrictEqual([off.topic, off.ims.topic], ['UserA', 'IMS/UserA/Presence']);
                assert.strictEqual((await lA.next((m) => m.ims.type === 'session' && m.payload === 'logout')).topic, 'UserA');
                send('lA', { action: 'login' });
                await lB.next((m) => m.ims.type === 'presence' && m.payload === 'online');

                // A connection that dies without a goodbye: the broker publishes A's will.
                await allConnected(['A']);
                helper.getNode('cfgA').account.session.connection.options.reconnectPeriod = 60000;
                helper.getNode('cfgA').account.session.connection['client'].stream.destroy();
                await lB.next((m) => m.ims.type === 'presence' && m.payload === 'offline', 10000);
            });
        });
    });
});
