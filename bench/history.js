'use strict';
// History (issue 14), two measures on the secured embedded broker in a process of its own:
//   fetch  the time to get the newest 50 messages of a conversation holding 100 000 (10 000 with
//          --quick), and a page from its middle, on the disk store (LevelDB), as a device asks;
//   cost   relay throughput with history on / with it off (historyPerConversation 0), both secured with
//          a disk store (the product's default), raw MQTT.js bot and driver, QoS 1: a ratio within each
//          round, in shuffled order.
// Run alone: node bench/history.js [--quick]; bench/run.js runs it as one of its cases.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { performance } = require('perf_hooks');
const { client, startEmbedded, SECURED_ACCOUNTS, credentialsOf, percentile, round, shuffled, seededRandom } = require('./common');

const DRIVER_TO_BOT = 'IMS/Bot/Inbox/Chat/Driver';
const WINDOW = 200;

/** One history request; resolves with the answer and how long it took (ms). */
async function ask(c, request) {
    const id = `b${Math.random().toString(36).slice(2)}`;
    const started = performance.now();
    const answer = new Promise((resolve) => {
        const on = (topic, payload) => {
            const body = JSON.parse(payload.toString());
            if (body.id !== id) return;
            c.off('message', on);
            resolve(body);
        };
        c.on('message', on);
    });
    await c.publishAsync('IMS/Driver/History/Req/bench', JSON.stringify({ v: 1, id, ...request }), { qos: 1 });
    const body = await answer;
    return { body, ms: performance.now() - started };
}

/** Publishes `count` chats from the driver to the bot, at most WINDOW unacknowledged. */
async function fill(driver, count, text = 'stored') {
    let next = 0;
    const lane = async () => {
        while (next < count) {
            const i = ++next;
            const body = JSON.stringify({
                v: 1,
                id: `f${i}-${Date.now()}`,
                type: 'chat',
                from: 'Driver',
                ts: Date.now(),
                text: `${text} ${i}`,
            });
            await driver.publishAsync(DRIVER_TO_BOT, body, { qos: 1 });
        }
    };
    await Promise.all(Array.from({ length: WINDOW }, lane));
}

async function fetchCase(stored, requests, log) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-bench-history-'));
    const broker = await startEmbedded(
        'history-disk',
        {
            security: { accounts: SECURED_ACCOUNTS },
            storeDir: dir,
            limits: { historyPerConversation: stored, historyRequestsPerMinute: 0 },
        },
        { accounts: SECURED_ACCOUNTS },
    );
    const driver = await client(broker.url, { clientId: 'GID_IMS@@@Driver_history', ...credentialsOf(broker, 'Driver') });
    try {
        await driver.subscribeAsync('IMS/Driver/History/Resp/bench', { qos: 1 });
        const filling = performance.now();
        await fill(driver, stored);
        // The broker keeps them as fast as it can; wait (bounded) until the last one is in.
        const deadline = Date.now() + 300000;
        let last = 0;
        while (last < stored && Date.now() < deadline) {
            last = (await ask(driver, { op: 'page', conversation: 'u:Bot', limit: 1 })).body.lastSeq ?? 0;
        }
        if (last < stored) throw new Error(`history holds ${last} of ${stored} after 5 minutes`);
        const fillSeconds = (performance.now() - filling) / 1000;
        const newest = [];
        const middle = [];
        for (let i = 0; i < requests; i++) {
            const a = await ask(driver, { op: 'page', conversation: 'u:Bot', limit: 50 });
            if (a.body.entries.length !== 50) throw new Error(`a page of ${a.body.entries.length}, not 50`);
            newest.push(a.ms);
            middle.push((await ask(driver, { op: 'page', conversation: 'u:Bot', limit: 50, before: Math.floor(stored / 2) })).ms);
        }
        const sorted = (values) => [...values].sort((a, b) => a - b);
        const result = {
            stored,
            requests,
            fillSeconds: round(fillSeconds, 1),
            newestMs: round(percentile(sorted(newest), 50), 2),
            newestP95Ms: round(percentile(sorted(newest), 95), 2),
            middleMs: round(percentile(sorted(middle), 50), 2),
        };
        log(
            `  fetch: newest 50 of ${stored} in ${result.newestMs} ms (p95 ${result.newestP95Ms}), middle ${result.middleMs} ms; filled in ${result.fillSeconds} s`,
        );
        return result;
    } finally {
        await driver.endAsync(true);
        await broker.stop();
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Messages a second through a raw MQTT.js bot that relays every chat back, QoS 1, WINDOW in flight. */
async function relayRate(broker, count) {
    const bot = await client(broker.url, { clientId: 'GID_IMS@@@Bot_history', ...credentialsOf(broker, 'Bot') });
    const driver = await client(broker.url, { clientId: 'GID_IMS@@@Driver_relay', ...credentialsOf(broker, 'Driver') });
    try {
        bot.on('message', (_topic, payload) => bot.publish('IMS/Driver/Inbox/Chat/Bot', payload, { qos: 1 }));
        await bot.subscribeAsync('IMS/Bot/Inbox/Chat/+', { qos: 1 });
        await driver.subscribeAsync('IMS/Driver/Inbox/Chat/Bot', { qos: 1 });
        let replies = 0;
        let allIn;
        const done = new Promise((resolve) => (allIn = resolve));
        driver.on('message', () => {
            if (++replies === count) allIn();
        });
        const started = performance.now();
        const timeout = new Promise((_, reject) =>
            setTimeout(() => reject(new Error(`relay: ${replies} of ${count} replies in 60 s`)), 60000),
        );
        await Promise.race([Promise.all([fill(driver, count, 'relay'), done]), timeout]);
        return count / ((performance.now() - started) / 1000);
    } finally {
        await Promise.all([bot.endAsync(true), driver.endAsync(true)]);
    }
}

async function costCase(rounds, count, random, log) {
    const dirs = [0, 1].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'ims-bench-history-')));
    const secured = (storeDir, limits) => ({ security: { accounts: SECURED_ACCOUNTS }, storeDir, limits });
    const on = await startEmbedded('history-on', secured(dirs[0], {}), { accounts: SECURED_ACCOUNTS });
    const off = await startEmbedded('history-off', secured(dirs[1], { historyPerConversation: 0 }), { accounts: SECURED_ACCOUNTS });
    const ratios = [];
    const rates = { on: [], off: [] };
    try {
        await relayRate(on, Math.min(count, 500)); // warm-up, thrown away
        await relayRate(off, Math.min(count, 500));
        for (let r = 0; r < rounds; r++) {
            const rate = {};
            for (const [name, broker] of shuffled(
                [
                    ['on', on],
                    ['off', off],
                ],
                random,
            ))
                rate[name] = await relayRate(broker, count);
            rates.on.push(rate.on);
            rates.off.push(rate.off);
            ratios.push(rate.on / rate.off);
        }
    } finally {
        await Promise.all([on.stop(), off.stop()]);
        for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    }
    const median = (values) =>
        percentile(
            [...values].sort((a, b) => a - b),
            50,
        );
    const result = {
        rounds,
        count,
        onRate: round(median(rates.on), 0),
        offRate: round(median(rates.off), 0),
        ratio: round(median(ratios), 3),
        ratioMin: round(Math.min(...ratios), 3),
        ratioMax: round(Math.max(...ratios), 3),
    };
    log(
        `  cost: relay with history ${result.onRate} msg/s, without ${result.offRate} msg/s: on/off ${result.ratio} (${result.ratioMin}–${result.ratioMax})`,
    );
    return result;
}

async function historyCase({ quick, rounds, count, random, log }) {
    return {
        fetch: await fetchCase(quick ? 10000 : 100000, quick ? 10 : 30, log),
        cost: await costCase(rounds, count, random, log),
    };
}

module.exports = { historyCase };

if (require.main === module) {
    const quick = process.argv.includes('--quick');
    historyCase({
        quick,
        rounds: quick ? 3 : 5,
        count: quick ? 2000 : 6000,
        random: seededRandom(Date.now() % 2 ** 31),
        log: console.log,
    }).then(
        (result) => {
            console.log(JSON.stringify(result));
            process.exit(0);
        },
        (error) => {
            console.error(error);
            process.exit(1);
        },
    );
}
