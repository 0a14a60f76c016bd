'use strict';
// The cluster (issue 15): relay and fan-out through 1, 2 and 3 `ims-broker` commands in cluster mode
// on one redis-server, beside the same command as a single process without Redis (the single embedded
// process), in the same round. All are secured with the same accounts, in memory (the cluster keeps
// its state in Redis). Clients are spread across the instances: the relay's driver on the first, its
// bot on the last; the fan-out's greeter on the first and its friends round-robin over all of them,
// so with 2 or 3 instances most messages cross Redis. The Redis cost is the count of commands Redis
// ran (INFO commandstats) during the measured phase, per relayed message and per greeting.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { performance } = require('perf_hooks');
const { client, shuffled, spread, round, until } = require('./common');
const { CONTENDERS, DriverProcess } = require('./relay');
const { RedisUnderTest } = require('../test/helpers/redis');
const { BrokerCommand } = require('../test/helpers/broker-command');

const SIZES = [1, 2, 3];
const WINDOW = 200;

/** The accounts of the cluster cells: the relay's bot and driver, the greeter and its friends. */
function accountsFor(members) {
    const accounts = [
        { user: 'Bot', password: 'bench-bot' },
        { user: 'Driver', password: 'bench-driver' },
        { user: 'Greeter', password: 'bench-greeter' },
    ];
    for (let i = 0; i < members; i++) accounts.push({ user: `F${i}`, password: `bench-f${i}` });
    return accounts;
}

/** Redis's count of commands run so far, by command (INFO commandstats). */
async function commandCounts(redis) {
    const counts = {};
    for (const line of (await redis.info('commandstats')).split('\n')) {
        const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
        if (m) counts[m[1]] = Number(m[2]);
    }
    return counts;
}

function commandsSince(before, after) {
    const delta = {};
    let total = 0;
    for (const [name, calls] of Object.entries(after)) {
        const d = calls - (before[name] ?? 0);
        // INFO itself is not the broker's.
        if (d > 0 && name !== 'info') {
            delta[name] = d;
            total += d;
        }
    }
    return { total, byCommand: delta };
}

/** Runs a measured phase; on Redis, adds the commands Redis ran meanwhile, per message and by command. */
async function withRedisCost(redis, phase) {
    const before = redis ? await commandCounts(redis) : undefined;
    const { sample, messages } = await phase();
    if (redis) {
        const used = commandsSince(before, await commandCounts(redis));
        sample.redisPerMessage = used.total / Math.max(1, messages);
        sample.redisCommands = used.byCommand;
    }
    return sample;
}

/** Starts `size` instances on Redis, or with size 0 the single process without Redis. */
async function startInstances(size, redisUrl, accountsFile) {
    const args = ['--port', '0', '--accounts', accountsFile, '--connections-per-address', '0'];
    const commands =
        size === 0 ? [new BrokerCommand(args)] : SIZES.slice(0, size).map(() => new BrokerCommand([...args, '--redis', redisUrl]));
    try {
        await Promise.all(commands.map((c) => c.start()));
    } catch (error) {
        await Promise.all(commands.map((c) => c.stop('SIGKILL')));
        throw error;
    }
    return commands;
}

/** The relay: driver on the first instance, the transport bot (b) on the last; msg/s and Redis commands per message. */
async function relay(instances, accounts, driver, redis, { count, limitMs }) {
    const credentials = { accounts };
    const stopBot = await CONTENDERS.transport.start({ ...credentials, url: instances[instances.length - 1].url }, null, 1);
    try {
        const driverAccount = accounts.find((a) => a.user === 'Driver');
        await driver.call('connect', { url: instances[0].url, qos: 1, options: { username: 'Driver', password: driverAccount.password } });
        await driver.call('ready');
        await driver.call('throughput', { count: Math.max(500, Math.round(count / 4)), window: WINDOW, limitMs: limitMs / 3 });
        return await withRedisCost(redis, async () => {
            const tp = await driver.call('throughput', { count, window: WINDOW, limitMs });
            return { sample: { rate: tp.rate, timedOut: tp.timedOut }, messages: tp.received };
        });
    } finally {
        await driver.call('disconnect');
        await stopBot();
    }
}

/** The fan-out: the greeter publishes one QoS 1 greeting per friend, friends spread over the instances. */
async function fanout(instances, accounts, redis, { members, limitMs }) {
    const password = (user) => accounts.find((a) => a.user === user).password;
    const friends = [];
    try {
        for (let i = 0; i < members; i += 50) {
            const batch = [];
            for (let j = i; j < Math.min(members, i + 50); j++) {
                const url = instances[j % instances.length].url;
                batch.push(client(url, { clientId: `GID_IMS@@@F${j}_bench`, username: `F${j}`, password: password(`F${j}`) }));
            }
            friends.push(...(await Promise.all(batch)));
        }
        await Promise.all(friends.map((f, j) => f.subscribeAsync(`IMS/F${j}/Inbox/#`, { qos: 1 })));
        const greeter = await client(instances[0].url, {
            clientId: 'GID_IMS@@@Greeter_bench',
            username: 'Greeter',
            password: password('Greeter'),
        });
        friends.push(greeter);
        let arrived = 0;
        for (const f of friends) f.on('message', () => arrived++);
        const greet = async () => {
            arrived = 0;
            const began = performance.now();
            for (let j = 0; j < members; j++)
                greeter.publish(`IMS/F${j}/Inbox/Chat/Greeter`, '{"v":1,"type":"chat","text":"hi"}', { qos: 1 });
            const all = await until(() => arrived >= members, limitMs, 1);
            return { seconds: (performance.now() - began) / 1000, arrived, all };
        };
        await greet(); // warm-up, discarded
        return await withRedisCost(redis, async () => {
            const g = await greet();
            return {
                sample: { rate: g.arrived / g.seconds, ms: g.seconds * 1000, arrived: g.arrived, timedOut: !g.all },
                messages: g.arrived,
            };
        });
    } finally {
        await Promise.all(friends.map((f) => f.endAsync(true).catch(() => undefined)));
    }
}

const cellName = (size) => (size === 0 ? 'single' : `cluster-${size}`);

/** Every round: the single process and the clusters of 1, 2 and 3 instances, in a seeded shuffled order. */
async function clusterCase({ rounds, count, limitMs, members, random, log }) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-bench-cluster-'));
    const accounts = accountsFor(members);
    const accountsFile = path.join(dir, 'accounts.json');
    fs.writeFileSync(accountsFile, JSON.stringify(accounts));
    const redisServer = await new RedisUnderTest().start();
    const Redis = require('ioredis');
    const redis = new Redis(redisServer.url);
    const driver = DriverProcess.start();
    const perRound = [];
    try {
        for (let r = 1; r <= rounds; r++) {
            const order = shuffled([0, ...SIZES], random);
            const samples = {};
            for (const size of order) {
                const name = cellName(size);
                const began = Date.now();
                let instances = [];
                try {
                    await redis.flushall();
                    instances = await startInstances(size, redisServer.url, accountsFile);
                    const onRedis = size === 0 ? undefined : redis;
                    const relayed = await relay(instances, accounts, driver, onRedis, { count, limitMs });
                    const greeted = await fanout(instances, accounts, onRedis, { members, limitMs });
                    samples[name] = { relay: relayed, fanout: greeted };
                    const cost = (s) => (s.redisPerMessage === undefined ? '' : `, ${round(s.redisPerMessage, 1)} Redis commands each`);
                    log(
                        `  round ${r} ${name}: relay ${Math.round(relayed.rate)} msg/s${relayed.timedOut ? ' (time limit)' : ''}${cost(relayed)}; ` +
                            `fan-out to ${members}: ${Math.round(greeted.ms)} ms${greeted.timedOut ? ` (time limit, ${greeted.arrived} arrived)` : ''}${cost(greeted)} ` +
                            `(${round((Date.now() - began) / 1000, 1)} s)`,
                    );
                } catch (error) {
                    samples[name] = { error: error.message };
                    log(`  round ${r} ${name}: FAILED: ${error.message}`);
                } finally {
                    await Promise.all(instances.map((i) => i.stop()));
                }
            }
            perRound.push({ round: r, order: order.map(cellName), samples, ratios: roundRatios(samples) });
        }
    } finally {
        await driver.end();
        await redis.quit().catch(() => undefined);
        await redisServer.stop();
        fs.rmSync(dir, { recursive: true, force: true });
    }
    return summarize(perRound, members);
}

/** Each cluster's relay rate and fan-out rate against the single process of the same round. */
function roundRatios(samples) {
    const out = {};
    const single = samples.single;
    for (const size of SIZES) {
        const cluster = samples[cellName(size)];
        for (const kind of ['relay', 'fanout']) {
            const x = cluster?.[kind]?.rate;
            const y = single?.[kind]?.rate;
            if (Number.isFinite(x) && Number.isFinite(y) && y > 0) out[`${cellName(size)}.${kind}/single`] = x / y;
        }
    }
    return out;
}

function summarize(perRound, members) {
    const summary = {};
    for (const size of [0, ...SIZES]) {
        const name = cellName(size);
        const cell = { instances: Math.max(1, size), redis: size > 0 };
        for (const kind of ['relay', 'fanout']) {
            const got = perRound.map((p) => p.samples[name]?.[kind]).filter(Boolean);
            cell[kind] = { rate: spread(got.map((s) => s.rate)) };
            if (kind === 'fanout') cell[kind].ms = spread(got.map((s) => s.ms));
            if (size > 0) cell[kind].redisPerMessage = spread(got.map((s) => s.redisPerMessage));
        }
        const errors = perRound.map((p) => p.samples[name]?.error).filter(Boolean);
        if (errors.length) Object.assign(cell, { failed: errors.length, error: errors[0] });
        summary[name] = cell;
    }
    const ratios = {};
    for (const name of new Set(perRound.flatMap((p) => Object.keys(p.ratios)))) ratios[name] = spread(perRound.map((p) => p.ratios[name]));
    return { members, window: WINDOW, rounds: perRound, summary, ratios };
}

module.exports = { clusterCase };
