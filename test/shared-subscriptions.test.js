'use strict';
// Bots that share load on the embedded broker: several devices of one account subscribe
// $share/<group>/<its inbox>, and each message goes to exactly one of them, on one broker and across a
// cluster's instances (each message claimed once in Redis).

const assert = require('assert');
const { EmbeddedBroker } = require('../nodes/lib/broker');
const { RedisUnderTest } = require('./helpers/redis');
const { connectAs, grants, envelope } = require('./helpers/mqtt-clients');
const { until } = require('./helpers/wait');

const ACCOUNTS = [
    { user: 'Bot', password: 'bot-pass' },
    { user: 'Alice', password: 'alice-pass' },
];

describe('shared subscriptions on the embedded broker', function () {
    this.timeout(30000);
    let redis;
    const brokers = [];
    const clients = [];

    before(async function () {
        redis = await new RedisUnderTest().start();
    });
    after(async function () {
        await redis.stop();
    });
    afterEach(async function () {
        await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
        await Promise.all(brokers.splice(0).map((b) => b.close()));
        await redis.flush();
    });

    async function run(urls) {
        const bots = [];
        for (const [i, url] of urls.entries()) {
            const bot = await connectAs(url, 'Bot', 'bot-pass', { clientId: `GID_IMS@@@Bot_node${i}` });
            clients.push(bot);
            assert.deepStrictEqual(await grants(bot, '$share/bots/IMS/Bot/Inbox/#'), [1]);
            bots.push(bot);
        }
        const alice = await connectAs(urls[0], 'Alice', 'alice-pass');
        clients.push(alice);
        const sent = Array.from({ length: 200 }, (_, i) => `c${i}`);
        for (const id of sent)
            await alice.publishAsync('IMS/Bot/Inbox/Chat/Alice', envelope({ id, type: 'chat', from: 'Alice', text: id }), { qos: 1 });
        const ids = () => bots.flatMap((b) => b.received.map(([, p]) => JSON.parse(p).id));
        await until(() => ids().length >= sent.length, 10000);
        // Anything more would have arrived by the time a round trip through each bot is done.
        await Promise.all(bots.map((b) => grants(b, 'IMS/Bot/Presence')));
        assert.deepStrictEqual(ids().sort(), [...sent].sort(), 'each message once, none lost');
        for (const bot of bots) assert.ok(bot.received.length > 0, 'every member takes a share');
    }

    it("gives each message to one of the account's devices on one broker", async function () {
        const broker = await EmbeddedBroker.start({ port: 0, security: { accounts: ACCOUNTS } });
        brokers.push(broker);
        await run([`mqtt://127.0.0.1:${broker.port}`, `mqtt://127.0.0.1:${broker.port}`]);
    });

    it('gives each message to one device across the instances of a cluster', async function () {
        for (let i = 0; i < 2; i++)
            brokers.push(await EmbeddedBroker.start({ port: 0, security: { accounts: ACCOUNTS }, redisUrl: redis.url }));
        await run(brokers.map((b) => `mqtt://127.0.0.1:${b.port}`));
    });

    it('keeps serving when a member leaves', async function () {
        const broker = await EmbeddedBroker.start({ port: 0, security: { accounts: ACCOUNTS } });
        brokers.push(broker);
        const url = `mqtt://127.0.0.1:${broker.port}`;
        const first = await connectAs(url, 'Bot', 'bot-pass', { clientId: 'GID_IMS@@@Bot_a' });
        const second = await connectAs(url, 'Bot', 'bot-pass', { clientId: 'GID_IMS@@@Bot_b' });
        clients.push(first, second);
        await grants(first, '$share/bots/IMS/Bot/Inbox/#');
        await grants(second, '$share/bots/IMS/Bot/Inbox/#');
        await first.endAsync();
        const alice = await connectAs(url, 'Alice', 'alice-pass');
        clients.push(alice);
        for (let i = 0; i < 5; i++) await alice.publishAsync('IMS/Bot/Inbox/Chat/Alice', `after ${i}`, { qos: 1 });
        assert.ok(await until(() => second.received.length === 5, 5000));
    });
});
