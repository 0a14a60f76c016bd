'use strict';
// Login through the nodes: an `ims-config` whose saved state follows 1 000 users and is in 100 groups,
// with an `ims-login` that logs it in. Time from the deploy until the broker has acknowledged every
// subscription, and how many SUBSCRIBE packets that took.

const { performance } = require('perf_hooks');
const { until, round } = require('./common');

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

async function loginCase(broker, red, { log }) {
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
    const result = {
        follows: FOLLOWS,
        groups: GROUPS,
        subscriptions: c?.subscriptions.size ?? 0,
        acked: c?.ackedCount ?? 0,
        ms: round(ms, 1),
        subscribePackets: c?.subscribePackets ?? 0,
    };
    await red.deploy([]);
    log(`  ${broker.name} login: ${result.subscriptions} subscriptions in ${result.ms} ms, ${result.subscribePackets} SUBSCRIBE packet(s)`);
    return result;
}

module.exports = { loginCase, loginGlobals };
