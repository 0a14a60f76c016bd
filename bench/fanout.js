'use strict';
// Greetings fan-out: one account greets N friends, each a real subscriber connection on its own
// inbox; time until the last greeting arrives, one publish per friend and, where the broker offers
// it, one publish to a virtual group.

const { performance } = require('perf_hooks');
const { ImsSession } = require('../nodes/lib/session');
const { client, sleep, round } = require('./common');

async function connectFriends(url, count) {
    const friends = [];
    for (let i = 0; i < count; i += 100) {
        const batch = await Promise.all(
            Array.from({ length: Math.min(100, count - i) }, async (_, j) => {
                const name = `F${i + j}`;
                const c = await client(url, { clientId: `GID_IMS@@@${name}` });
                await c.subscribeAsync(`IMS/${name}/Inbox/#`, { qos: 1 });
                return c;
            }),
        );
        friends.push(...batch);
    }
    return friends;
}

async function greet(url, names, virtualGroups, friends, limitMs) {
    const run = Math.random().toString(36).slice(2, 8);
    let arrived = 0;
    const onMessage = (_topic, payload) => {
        if (payload.includes(run)) arrived++;
    };
    for (const f of friends) f.on('message', onMessage);
    const session = new ImsSession({
        userId: 'Greeter',
        deviceId: `Greeter_${virtualGroups ? 'vg' : 'pp'}`,
        presence: false,
        virtualGroups,
        broker: { url, clean: true },
        state: { friends: names },
    });
    await session.login();
    await session.connection.whenConnected(10000);
    const start = performance.now();
    await session.broadcast.greet(`Happy New Year ${run}`, undefined, undefined, Infinity);
    const deadline = Date.now() + limitMs;
    while (arrived < names.length && Date.now() < deadline) await sleep(2);
    const ms = performance.now() - start;
    for (const f of friends) f.off('message', onMessage);
    await session.logout();
    return { ms: round(ms, 1), arrived, publishes: virtualGroups ? 1 : names.length };
}

async function fanoutCase(broker, { members, log }) {
    const friends = await connectFriends(broker.url, members);
    const names = friends.map((_, i) => `F${i}`);
    try {
        const perPublish = await greet(broker.url, names, false, friends, 60000);
        log(`  ${broker.name} fan-out ${members}: one publish each ${perPublish.ms} ms (${perPublish.arrived} arrived)`);
        const result = { members, perPublish };
        if (broker.virtualGroups) {
            result.virtualGroup = await greet(broker.url, names, true, friends, 60000);
            log(`  ${broker.name} fan-out ${members}: virtual group ${result.virtualGroup.ms} ms (${result.virtualGroup.arrived} arrived)`);
        }
        return result;
    } finally {
        await Promise.all(friends.map((f) => f.endAsync(true)));
    }
}

module.exports = { fanoutCase };
