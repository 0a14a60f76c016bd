'use strict';
// Login: an account that follows 1000 users and is in 100 groups logs in; time until the broker has
// acknowledged every subscription, and how many SUBSCRIBE packets that took.

const { performance } = require('perf_hooks');
const { ImsSession } = require('../nodes/lib/session');
const { sleep, round } = require('./common');

async function loginCase(broker, { follows = 1000, groups = 100, log }) {
    const state = {
        following: Array.from({ length: follows }, (_, i) => `U${i}`),
        groups: Array.from({ length: groups }, (_, i) => `Group${i}`),
    };
    const session = new ImsSession({
        userId: 'Busy',
        deviceId: 'Busy_bench',
        presence: false,
        broker: { url: broker.url, clean: true },
        state,
    });
    const start = performance.now();
    await session.login();
    const connection = session.connection;
    const deadline = Date.now() + 30000;
    while ((!connection.connected || connection.ackedCount < connection.subscriptions.size) && Date.now() < deadline) await sleep(1);
    const ms = performance.now() - start;
    const result = {
        follows,
        groups,
        subscriptions: connection.subscriptions.size,
        acked: connection.ackedCount,
        ms: round(ms, 1),
        subscribePackets: connection.subscribePackets,
    };
    await session.logout();
    log(`  ${broker.name} login: ${result.subscriptions} subscriptions in ${result.ms} ms, ${result.subscribePackets} SUBSCRIBE packet(s)`);
    return result;
}

module.exports = { loginCase };
