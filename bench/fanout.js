'use strict';
// Greetings fan-out through the nodes: an `ims-config` (the Greeter, whose friends are N real
// subscriber connections, each on its own inbox) and an `ims-broadcast` that greets them. Time from
// the node's input to the last greeting's arrival, in three ways:
//   paced       the node's default pacing, to the first `pacedCount` friends (all N would take N/rate
//               seconds, e.g. 500 s for 10 000 at 20/s; the report gives both the time and the rate);
//   unpaced     one publish per friend with the pacing lifted (rate 1e9/s);
//   virtual     one publish to the virtual group of the Greeter's friends, where the broker has them.
// The virtual-group case ticks the account's "virtual groups" box and also works when the client
// learns the broker's support from its retained capabilities; the way each greeting actually went
// (one publish per friend, or one to the virtual group) is counted on the Greeter's connection and
// recorded, so a client that chooses the virtual group by itself shows in the results.

const { performance } = require('perf_hooks');
const { client, sleep, until, round, spread } = require('./common');

const GREETER = 'Greeter';
/** The global-context key under which ims-config keeps an account's state (parent topic IMS). */
const stateKey = (user) => `ims_state_IMS_${encodeURIComponent(user)}`;
const friendName = (i) => `F${i}`;

async function connectFriends(url, count) {
    const friends = [];
    for (let i = 0; i < count; i += 100) {
        const batch = await Promise.all(
            Array.from({ length: Math.min(100, count - i) }, async (_, j) => {
                const name = friendName(i + j);
                const c = await client(url, { clientId: `GID_IMS@@@${name}` });
                await c.subscribeAsync(`IMS/${name}/Inbox/#`, { qos: 1 });
                return c;
            }),
        );
        friends.push(...batch);
    }
    return friends;
}

/** The Greeter's saved state, seeded into Node-RED's global context before it starts. */
function fanoutGlobals(members) {
    return { [stateKey(GREETER)]: { friends: Array.from({ length: members }, (_, i) => friendName(i)) } };
}

/** Counts the publishes of an account's connection until stop(), which returns the count. */
function countPublishes(connection) {
    const publish = connection.publish;
    let count = 0;
    connection.publish = function counted(...args) {
        count++;
        return publish.apply(this, args);
    };
    return {
        stop() {
            connection.publish = publish;
            return count;
        },
    };
}

/** One greeting through the nodes; `rate` '' is the node's default pacing. */
async function greet(broker, red, friends, { rate, recipients, limitMs }) {
    const run = Math.random().toString(36).slice(2, 8);
    const expected = recipients ? recipients.length : friends.length;
    let arrived = 0;
    let last = 0;
    const onMessage = (_topic, payload) => {
        if (!payload.includes(run)) return;
        arrived++;
        last = performance.now();
    };
    for (const f of friends) f.on('message', onMessage);
    await red.deploy([
        { id: 'gt', type: 'tab', label: 'greeter' },
        {
            id: 'ga',
            type: 'ims-config',
            url: broker.url,
            userId: GREETER,
            deviceId: 'Greeter_bench',
            cleanSession: true,
            presence: false,
        },
        {
            id: 'gb',
            type: 'ims-broadcast',
            z: 'gt',
            account: 'ga',
            action: 'greet',
            rate,
            recipients: '',
            region: '',
            x: 100,
            y: 100,
            wires: [[]],
        },
    ]);
    try {
        const connection = () => red.node('ga')?.account?.session?.connection;
        const ready = await until(() => connection()?.connected && connection().ackedCount >= connection().subscriptions.size, 30000);
        if (!ready) throw new Error(`the Greeter did not log in on ${broker.name}`);
        await sleep(200); // the retained capabilities, where the client reads them
        const publishes = countPublishes(connection());
        const start = performance.now();
        red.node('gb').receive({ payload: `Happy New Year ${run}`, topic: recipients });
        await until(() => arrived >= expected, limitMs, 2);
        const ms = (arrived >= expected ? last : performance.now()) - start;
        const sent = publishes.stop();
        const mode = sent === 1 && expected > 1 ? 'virtual group' : sent === expected ? 'per publish' : `${sent} publishes`;
        return { ms: round(ms, 1), arrived, expected, publishes: sent, mode };
    } finally {
        for (const f of friends) f.off('message', onMessage);
        await red.deploy([]);
    }
}

async function fanoutCase(broker, red, { members, pacedCount, repeats, log }) {
    const friends = await connectFriends(broker.url, members);
    try {
        const names = friends.map((_, i) => friendName(i));
        const result = { members };
        const pacedLimit = 60000 + pacedCount * 1000;
        const paced = await greet(broker, red, friends, {
            rate: '',
            recipients: names.slice(0, pacedCount),
            limitMs: pacedLimit,
        });
        result.paced = { ...paced, configuredPerSecond: defaultRate(), achievedPerSecond: round((paced.arrived / paced.ms) * 1000, 1) };
        log(
            `  ${broker.name} greet ${pacedCount} paced: ${paced.ms} ms (${result.paced.achievedPerSecond}/s, configured ${defaultRate()}/s, ${paced.mode})`,
        );
        const repeated = async (name, options) => {
            const runs = [];
            for (let i = 0; i < repeats; i++) runs.push(await greet(broker, red, friends, { ...options, limitMs: 60000 }));
            const r = {
                ms: spread(runs.map((g) => g.ms)),
                arrived: Math.min(...runs.map((g) => g.arrived)),
                expected: members,
                publishes: Math.max(...runs.map((g) => g.publishes)),
                mode: [...new Set(runs.map((g) => g.mode))].join(', '),
            };
            log(`  ${broker.name} greet ${members} ${name}: ${r.ms.median} ms (${r.ms.min}-${r.ms.max}, ${r.arrived} arrived, ${r.mode})`);
            return r;
        };
        result.unpaced = await repeated('unpaced', { rate: '1e9' });
        if (broker.virtualGroups) result.virtualGroup = await repeated('virtual group', { rate: '' });
        return result;
    } finally {
        await Promise.all(friends.map((f) => f.endAsync(true)));
    }
}

/** The node's default pacing, from the package itself. */
function defaultRate() {
    return require('../nodes/lib/features/broadcast').DEFAULT_GREETINGS_PER_SECOND;
}

module.exports = { fanoutCase, fanoutGlobals };
