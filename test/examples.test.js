'use strict';
// Every example flow, loaded into the runtime as a user imports it, and run: its injects clicked in
// order and its debug nodes checked for what the example is there to show. The demo bot is driven by
// an ordinary MQTT client, as the README tells a newcomer to do.

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const mqtt = require('mqtt');
const { forEachBroker, freePort } = require('./helpers/brokers');
const { helper, nodeModules, unloadAll, connected } = require('./helpers/red');
const { recordAt } = require('./helpers/flows');
const pkg = require('../package.json');

const DIR = path.join(__dirname, '..', 'examples');
const files = fs
    .readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
const read = (file) => JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'));
const { when } = require('./helpers/wait');

/** The example as the test runs it: accounts on `url`, any ims-broker on `brokerPort`, debug nodes as helpers. */
function prepare(flow, url, brokerPort) {
    return flow.map((n) => {
        if (n.type === 'ims-config') return { ...n, url, reconnectPeriod: 300 };
        // No WebSocket listener: the demo's fixed port 1884 may be taken by another run.
        if (n.type === 'ims-broker') return { ...n, port: String(brokerPort), wsPort: '' };
        if (n.type === 'debug') return { id: n.id, type: 'helper', z: n.z, x: n.x, y: n.y, wires: [] };
        return n;
    });
}

const click = (id) => helper.getNode(id).receive({});

async function loadExample(file, url, brokerPort) {
    const flow = prepare(read(file), url, brokerPort);
    await helper.load(nodeModules, flow);
    const used = new Set(flow.filter((n) => n.account).map((n) => n.account));
    await Promise.all([...used].map((id) => connected(helper.getNode(id), 8000)));
    const debug = {};
    for (const n of flow.filter((x) => x.type === 'helper')) debug[n.id] = recordAt(n.id);
    return debug;
}

/** Waits for `check` on the account state of `session`, which the broker's answer changes (a follow is recorded on its SUBACK). */
function stateSays(session, check, ms = 5000) {
    return when(session.state, 'change', check, ms);
}

const sessionOf = (configId) => helper.getNode(configId).account.session;

describe('examples', function () {
    it('are valid flows, one or more per node, and every non-config node appears in one', function () {
        assert.ok(files.length >= 7, files.join(', '));
        const types = new Set();
        for (const file of files) {
            const flow = read(file);
            assert.ok(Array.isArray(flow), `${file} is a JSON array`);
            const ids = new Set(flow.map((n) => n.id));
            assert.strictEqual(ids.size, flow.length, `${file}: ids are unique`);
            for (const n of flow) {
                types.add(n.type);
                for (const out of n.wires || [])
                    for (const target of out) assert.ok(ids.has(target), `${file}: ${n.id} wires to a node that exists`);
                if (n.account) assert.ok(ids.has(n.account), `${file}: ${n.id} has its ims-config`);
            }
        }
        for (const type of Object.keys(pkg['node-red'].nodes).filter((t) => t !== 'ims-config')) {
            assert.ok(types.has(type), `${type} appears in an example`);
        }
    });

    forEachBroker((kind) =>
        describe('scenario examples', function () {
            let broker;
            before(async function () {
                broker = await kind.create().start();
            });
            after(async function () {
                await broker.stop();
            });
            afterEach(() => unloadAll());

            it("01 friends and chat: Alice1 befriends Bob1, they chat, and p2p reaches Bob1's device", async function () {
                const d = await loadExample('01-friends-and-chat.json', broker.url);
                click('ims-ex1-ask');
                assert.strictEqual((await d['ims-ex1-dbg-fb'].next()).ims.type, 'friend.request');
                assert.strictEqual((await d['ims-ex1-dbg-fa'].next()).ims.data.accepted, true);
                click('ims-ex1-say');
                assert.strictEqual((await d['ims-ex1-dbg-cb'].next()).payload, 'Hello Bob1!');
                assert.strictEqual((await d['ims-ex1-dbg-ca'].next()).payload, 'Hi Alice1, you said: Hello Bob1!');
                click('ims-ex1-p2p');
                const p2p = await d['ims-ex1-dbg-cb'].next((m) => m.ims.topic.includes('/p2p/'));
                assert.deepStrictEqual([p2p.payload, p2p.ims.topic], ['Are you on your phone?', 'IMS/p2p/GID_IMS@@@Bob_ex1']);
            });

            it('02 moments: followers see posts, and a blocked follower stops seeing them', async function () {
                const d = await loadExample('02-moments-follow-block.json', broker.url);
                click('ims-ex2-fa');
                click('ims-ex2-fc');
                // A post reaches followers whose SUBACK came back; MQTT promises no order across connections.
                await Promise.all(
                    ['ims-ex2-alice', 'ims-ex2-carol'].map((id) =>
                        stateSays(sessionOf(id), () => sessionOf(id).state.has('following', 'Bob2')),
                    ),
                );
                click('ims-ex2-post');
                await Promise.all([d['ims-ex2-dbg-a'].next(), d['ims-ex2-dbg-c'].next()]);
                click('ims-ex2-block');
                assert.strictEqual((await d['ims-ex2-dbg-c'].next()).ims.type, 'unsub');
                click('ims-ex2-post2');
                assert.strictEqual((await d['ims-ex2-dbg-a'].next()).payload, 'Moon over West Lake 🌕');
                // Carol2 unfollowed on the notice, which came first: she never gets the second post.
                assert.deepStrictEqual(
                    d['ims-ex2-dbg-c'].seen.map((m) => m.ims.type),
                    ['moment', 'unsub'],
                );
            });

            it('03 group chat: Bob and Carol join Group123 and hear each other', async function () {
                const d = await loadExample('03-group-chat.json', broker.url);
                click('ims-ex3-create');
                await stateSays(sessionOf('ims-ex3-alice'), () => sessionOf('ims-ex3-alice').state.has('groups', 'Group123'));
                click('ims-ex3-invite');
                await d['ims-ex3-dbg-a'].next((m) => m.ims.type === 'group.join' && m.ims.from === 'Bob3');
                await d['ims-ex3-dbg-a'].next((m) => m.ims.type === 'group.join' && m.ims.from === 'Carol3');
                click('ims-ex3-say');
                for (const id of ['ims-ex3-dbg-a', 'ims-ex3-dbg-c']) {
                    const m = await d[id].next((x) => x.ims.type === 'group.message');
                    assert.deepStrictEqual([m.topic, m.payload, m.ims.from], ['Group123', 'Hello everyone!', 'Bob3']);
                }
            });

            it('04 greetings: Alice4 greets both friends and reports who was reached', async function () {
                const d = await loadExample('04-greetings.json', broker.url);
                const alice = helper.getNode('ims-ex4-alice').account.session;
                click('ims-ex4-friends');
                await stateSays(alice, () => alice.state.list('friends').length === 2);
                assert.deepStrictEqual(alice.state.list('friends'), ['Bob4', 'Carol4']);
                click('ims-ex4-greet');
                assert.deepStrictEqual((await d['ims-ex4-dbg-report'].next()).payload, {
                    published: ['Bob4', 'Carol4'],
                    refused: [],
                    failed: [],
                });
                for (const id of ['ims-ex4-dbg-b', 'ims-ex4-dbg-c']) assert.strictEqual((await d[id].next()).ims.type, 'greeting');
            });

            it('05 regional push: each push reaches its region only', async function () {
                const d = await loadExample('05-regional-push.json', broker.url);
                click('ims-ex5-bj');
                const [a, c] = await Promise.all([d['ims-ex5-dbg-a'].next(), d['ims-ex5-dbg-c'].next()]);
                assert.deepStrictEqual([a.topic, c.topic, a.payload], ['Beijing', 'Beijing', '北京的朋友们, 新年快乐!']);
                click('ims-ex5-hz');
                assert.strictEqual((await d['ims-ex5-dbg-b'].next()).payload, '杭州的朋友们, 新年快乐!');
                // Bob5 heard Hangzhou's push after Beijing's was delivered: had Beijing's reached him, it would have come first.
                assert.deepStrictEqual(
                    [d['ims-ex5-dbg-a'].seen.length, d['ims-ex5-dbg-b'].seen.length, d['ims-ex5-dbg-c'].seen.length],
                    [1, 1, 1],
                );
            });

            it('06 presence: Bob6 sees Alice6 go offline and come back', async function () {
                const d = await loadExample('06-login-and-presence.json', broker.url);
                click('ims-ex6-friends');
                await d['ims-ex6-dbg-b'].next((m) => m.ims.type === 'presence' && m.payload === 'online');
                click('ims-ex6-out');
                await d['ims-ex6-dbg-b'].next((m) => m.ims.type === 'presence' && m.payload === 'offline');
                click('ims-ex6-in');
                await d['ims-ex6-dbg-b'].next((m) => m.ims.type === 'presence' && m.payload === 'online');
            });
        }),
    );

    describe('demo bot', function () {
        let port;
        let client;
        let inbox;
        async function expectInbox(pred, ms = 5000) {
            await when(client, 'message', () => inbox.some(pred), ms, `a match in UserA's inbox (${JSON.stringify(inbox)})`);
            const found = inbox.find(pred);
            inbox.splice(inbox.indexOf(found), 1);
            return found;
        }

        before(async function () {
            port = await freePort();
            await loadExample('demo-bot.json', `mqtt://127.0.0.1:${port}`, port);
            client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'GID_IMS@@@DeviceID_A', reconnectPeriod: 0 });
            inbox = [];
            client.on('message', (topic, payload) => {
                let body;
                try {
                    body = JSON.parse(payload.toString());
                } catch {
                    body = { text: payload.toString() }; // our own plain-text group message
                }
                inbox.push({ topic, body });
            });
            await client.subscribeAsync(['IMS/UserA/Inbox/#', 'IMS/Bot', 'IMS/GroupFun/#'], { qos: 1 });
        });
        after(async function () {
            await client.endAsync();
            await unloadAll();
        });

        const say = (text) => client.publishAsync('IMS/Bot/Inbox/Chat/UserA', text, { qos: 1 });
        const replyText = async () =>
            (await expectInbox((m) => m.topic === 'IMS/UserA/Inbox/Chat/Bot' && m.body.type === 'chat')).body.text;

        it('accepts a friend request and follows the new friend back', async function () {
            await client.publishAsync('IMS/Bot/Inbox/Add/GFReq/UserA', 'hi Bot', { qos: 1 });
            const resp = await expectInbox((m) => m.topic === 'IMS/UserA/Inbox/Add/GFResp/Bot');
            assert.strictEqual(resp.body.data.accepted, true);
            const bot = helper.getNode('ims-demo-bot-account').account.session;
            await stateSays(bot, () => bot.state.has('following', 'UserA'), 1000);
            assert.deepStrictEqual([bot.state.list('friends'), bot.state.list('following')], [['UserA'], ['UserA']]);
        });

        it('answers /help, keywords and anything else in 1:1 chat', async function () {
            await say('/help');
            assert.match(await replyText(), /Commands: \/help .*\/post <text>.*\/greet <text>/);
            await say('hello');
            assert.match(await replyText(), /Hello! I am Bot/);
            await say('你好');
            assert.match(await replyText(), /你好! 我是 Bot/);
            await say('what is MQTT?');
            assert.strictEqual(await replyText(), 'You said: what is MQTT?');
        });

        it('answers a command without its text, or an unknown one, with how to use it', async function () {
            await say('/post');
            assert.match(await replyText(), /^Usage: \/post <text>/);
            await say('/greet   ');
            assert.match(await replyText(), /^Usage: \/greet <text>/);
            await say('/frobnicate now');
            assert.strictEqual(await replyText(), 'I do not know /frobnicate. Commands: /help, /post <text>, /greet <text>.');
        });

        it('tells the sender when a message is too large for it', async function () {
            await say('x'.repeat(300 * 1024));
            assert.match(await replyText(), /^Your message was too large for me: .*307200 bytes; the limit is 262144/);
        });

        it('/post posts a moment and /greet greets every friend', async function () {
            await say('/post Bots like sunsets too');
            assert.match(await replyText(), /Posted/);
            const moment = await expectInbox((m) => m.topic === 'IMS/Bot');
            assert.deepStrictEqual([moment.body.type, moment.body.text], ['moment', 'Bots like sunsets too']);
            await say('/greet Happy holidays');
            assert.match(await replyText(), /Greeting all my friends/);
            const greeting = await expectInbox((m) => m.body.type === 'greeting');
            assert.deepStrictEqual([greeting.topic, greeting.body.text], ['IMS/UserA/Inbox/Chat/Bot', 'Happy holidays']);
        });

        it('joins a group it is invited to, says hello, and answers @Bot', async function () {
            const invite = { v: 1, id: 'inv-1', type: 'group.invite', data: { group: 'GroupFun' } };
            await client.publishAsync('IMS/Bot/Inbox/Group/Invite/UserA', JSON.stringify(invite), { qos: 1 });
            const hello = await expectInbox((m) => m.topic === 'IMS/GroupFun/Bot' && m.body.type === 'group.message');
            assert.match(hello.body.text, /Hello everyone, I am Bot/);
            await client.publishAsync('IMS/GroupFun/UserA', '@Bot are you there?', { qos: 1 });
            const answer = await expectInbox((m) => m.topic === 'IMS/GroupFun/Bot' && /you called/.test(m.body.text || ''));
            assert.match(answer.body.text, /^@UserA/);
        });

        it('unfollows a user whose block notice it receives', async function () {
            await client.publishAsync('IMS/Bot/Inbox/Update/UserA/Unsub', '', { qos: 1 });
            const bot = helper.getNode('ims-demo-bot-account').account.session;
            await stateSays(bot, () => !bot.state.has('following', 'UserA'), 1000);
            assert.deepStrictEqual(bot.state.list('following'), []);
            assert.deepStrictEqual(bot.state.list('blockedBy'), ['UserA']);
        });
    });
});
