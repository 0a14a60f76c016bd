'use strict';
// What a cluster keeps in Redis does not grow for ever (issue 15): the facts log is folded into a
// snapshot that a new instance starts from, and clean sessions' Client IDs are released once unseen
// for the TTL. On a real redis-server, through the same RedisCluster the broker uses.

const assert = require('assert');
const Redis = require('ioredis');
const { RedisUnderTest } = require('./helpers/redis');
const { RedisCluster, SharedBindings } = require('../nodes/lib/broker/cluster');
const { PolicyFacts } = require('../nodes/lib/broker/facts');
const { sleep } = require('./helpers/wait');

/** Polls an async check (a Redis read) until it holds; fails naming what was awaited. */
async function waitFor(check, ms, what) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
        if (await check()) return;
        await sleep(20);
    }
    assert.fail(`timed out waiting for ${what}`);
}

describe('cluster state in Redis stays bounded', function () {
    this.timeout(30000);
    let redis;
    let client;
    const opened = [];

    async function instance(options = {}) {
        const cluster = await RedisCluster.open(redis.url, options);
        const errors = [];
        cluster.onError = (error) => errors.push(error);
        const facts = new PolicyFacts();
        await cluster.attachFacts(facts);
        opened.push(cluster);
        return { cluster, facts, errors };
    }

    before(async function () {
        redis = await new RedisUnderTest().start();
        client = new Redis(redis.url);
    });
    afterEach(async function () {
        for (const cluster of opened.splice(0)) {
            await cluster.persistence.destroy().catch(() => undefined);
            await cluster.close();
        }
        await redis.flush();
    });
    after(async function () {
        await client?.quit();
        await redis?.stop();
    });

    it('folds a long facts log into a snapshot, and a new instance starts from it with the same facts', async function () {
        const a = await instance({ compactAt: 50 });
        const b = await instance({ compactAt: 50 });
        // 300 changes from two instances at once, ending in a state that differs from any prefix.
        for (let i = 0; i < 150; i++) {
            a.facts.block(`A${i % 7}`, `U${i}`);
            b.facts.setVirtualGroup(`V${i % 5}`, [`M${i}`, `M${i + 1}`]);
            if (i % 3 === 0) a.facts.unblock(`A${i % 7}`, `U${i}`);
        }
        a.facts.enterGroup('G1', 'Alice');
        a.facts.invite('G1', 'Bob');
        await waitFor(async () => (await client.get('ims:facts:snapshot')) !== null, 10000, 'a snapshot');
        // Every instance has finished its pushes once the log's length stops moving below the threshold.
        await waitFor(async () => (await client.llen('ims:facts:log')) < 50, 10000, 'the log folded below 50 entries');
        await waitFor(() => JSON.stringify(b.facts.toJSON()) === JSON.stringify(a.facts.toJSON()), 10000, 'b agrees with a');

        const c = await instance({ compactAt: 50 });
        assert.deepStrictEqual(c.facts.toJSON(), a.facts.toJSON());
        assert.strictEqual(c.facts.isBlocked('A1', 'U1'), true);
        assert.strictEqual(c.facts.isBlocked('A0', 'U0'), false, 'an unblock folded after its block');
        assert.strictEqual(c.facts.groupsOf('Alice'), 1, 'memberships counted after loading a snapshot');
        assert.deepStrictEqual([...a.errors, ...b.errors, ...c.errors], []);
    });

    it('loses no change made while the log is folded', async function () {
        const a = await instance({ compactAt: 1e9 });
        for (let i = 0; i < 100; i++) a.facts.block('Alice', `U${i}`);
        await waitFor(async () => (await client.llen('ims:facts:log')) === 100, 10000, '100 entries in the log');
        const folding = a.cluster.compact();
        for (let i = 100; i < 200; i++) a.facts.block('Alice', `U${i}`);
        assert.strictEqual(await folding, true);
        const folded = async () => JSON.parse((await client.get('ims:facts:snapshot')) ?? '{"ids":[]}').ids.length;
        await waitFor(
            async () => (await client.llen('ims:facts:log')) + (await folded()) === 200,
            10000,
            'all 200 entries folded or logged',
        );
        assert.ok((await folded()) >= 100);
        const b = await instance({ compactAt: 1e9 });
        for (let i = 0; i < 200; i++) assert.strictEqual(b.facts.isBlocked('Alice', `U${i}`), true, `U${i}`);
    });

    const TTL = 60_000;
    /** Two instances' Client ID bindings on the same Redis, with a clock the test moves. */
    function twoInstancesOfBindings(clock) {
        const fail = (error) => {
            throw error;
        };
        return [1, 2].map(() => new SharedBindings(10, client, fail, TTL, () => clock.now));
    }

    it('releases a clean Client ID unseen for the TTL, so another user may take it; a connected one keeps it', async function () {
        const clock = { now: 1_000_000 };
        const [one, two] = twoInstancesOfBindings(clock);

        assert.deepStrictEqual(await one.claim('phone', 'Alice', false), { ok: true });
        assert.deepStrictEqual(await one.claim('laptop', 'Alice', false), { ok: true });
        one.release('phone');
        clock.now += TTL / 2;
        assert.strictEqual((await two.claim('phone', 'Mallory', false)).ok, false, 'still Alice’s within the TTL');

        clock.now += TTL;
        assert.strictEqual(await one.releaseExpired(), 1, 'only the disconnected ID is released');
        assert.strictEqual(await client.hget('ims:bindings', 'phone'), null);
        assert.strictEqual(await client.hget('ims:bindings', 'laptop'), 'Alice', 'the connected one stays claimed');
        assert.deepStrictEqual(await two.claim('phone', 'Mallory', false), { ok: true });
        assert.strictEqual((await two.claim('laptop', 'Mallory', false)).ok, false);
    });

    it('does not release an ID that logged in again through another instance since it was last seen here', async function () {
        const clock = { now: 1_000_000 };
        const [one, two] = twoInstancesOfBindings(clock);
        await one.claim('tablet', 'Alice', false);
        one.release('tablet');
        clock.now += TTL * 2;
        await two.claim('tablet', 'Alice', false); // Alice is back, on instance two
        await waitFor(async () => Number(await client.zscore('ims:bindings:recent', 'tablet')) === clock.now, 5000, 'seen again');
        // Instance one's own record is old: it forgets it locally but must not free it in Redis.
        assert.strictEqual(one.ownerOf('tablet'), undefined);
        assert.strictEqual(await one.releaseExpired(), 0);
        await waitFor(async () => (await client.hget('ims:bindings', 'tablet')) === 'Alice', 5000, 'still Alice’s');
        assert.strictEqual((await one.claim('tablet', 'Mallory', false)).ok, false);
    });
});
