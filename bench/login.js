'use strict';
// Login through the nodes: an `ims-config` whose saved state follows 1 000 users and is in 100 groups,
// with an `ims-login` that logs it in. Time from the deploy until the broker has acknowledged every
// subscription, and how many SUBSCRIBE packets that took.

const { performance } = require('perf_hooks');
const { until, round, spread } = require('./common');

const USER = 'Busy';
const FOLLOWS = 1000;
const GROUPS = 100;

/** Busy's saved state, seeded into Node-RED's global context before it starts. */
function loginGlobals() {
    return {
        [`ims_state_IMS_${USER}`]: {
            following: Array.from({ length: FOLLOWS }, (_, i) => `U${i}`),
            groups: Array.from({ length: GROUPS }, (_, i) => `Group${i}`),
        },
    };
}

/** One login through the nodes, from the deploy to the last SUBACK. */
async function loginOnce(broker, red) {
    const flows = [
        { id: 'lt', type: 'tab', label: 'login' },
        { id: 'la', type: 'ims-config', url: broker.url, userId: USER, deviceId: `${USER}_bench`, cleanSession: true, presence: true },
        { id: 'll', type: 'ims-login', z: 'lt', account: 'la', action: 'login', autoLogin: true, x: 100, y: 100, wires: [[]] },
    ];
    const start = performance.now();
    await red.deploy(flows);
    const connection = () => red.node('la')?.account?.session?.connection;
    const done = () => {
        const c = connection();
        return c?.connected && c.subscriptions.size > FOLLOWS && c.ackedCount >= c.subscriptions.size;
    };
    await until(done, 30000, 1);
    const ms = performance.now() - start;
    const c = connection();
    const result = { subscriptions: c?.subscriptions.size ?? 0, acked: c?.ackedCount ?? 0, ms, subscribePackets: c?.subscribePackets ?? 0 };
    await red.deploy([]);
    return result;
}

async function loginCase(broker, red, { repeats, log }) {
    const runs = [];
    for (let i = 0; i < repeats; i++) runs.push(await loginOnce(broker, red));
    const result = {
        follows: FOLLOWS,
        groups: GROUPS,
        subscriptions: Math.min(...runs.map((r) => r.subscriptions)),
        acked: Math.min(...runs.map((r) => r.acked)),
        ms: spread(runs.map((r) => round(r.ms, 1))),
        subscribePackets: Math.max(...runs.map((r) => r.subscribePackets)),
    };
    log(
        `  ${broker.name} login: ${result.subscriptions} subscriptions in ${result.ms.median} ms (${result.ms.min}-${result.ms.max}), ${result.subscribePackets} SUBSCRIBE packet(s)`,
    );
    return result;
}

module.exports = { loginCase, loginGlobals };
