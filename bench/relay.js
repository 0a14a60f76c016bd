'use strict';
// Relay: an external MQTT.js client (the driver, bench/driver.js) chats with a bot that answers every
// 1:1 message. The contenders, each labelled for what it is:
//   (a) raw        raw MQTT.js as a user writes it: MQTT.js defaults, Nagle off;
//   (b) transport  raw MQTT.js on exactly the IM connection's transport (connectTransport, the same
//                  module ImsConnection uses): the baseline for the IM layer's own cost;
//   (c) core       Node-RED's core `mqtt in` -> function -> `mqtt out`, as shipped (its own MQTT.js);
//   (d) ims        `ims-chat` -> function -> `ims-chat`, clean session, presence off (like (a)-(c));
//   (d) ims-default  the same with the product's defaults: persistent session, presence on.
// Every round runs every cell (broker x contender x QoS) in a seeded shuffled order; each cell warms
// up on a batch that is thrown away. Ratios are taken within a round, then summed up over rounds.

const { once } = require('events');
const { fork } = require('child_process');
const path = require('path');
const { client, credentialsOf, shuffled, spread, round } = require('./common');
const { connectTransport } = require('../nodes/lib/transport');

const BOT_INBOX = 'IMS/Bot/Inbox/Chat/+';
const WINDOW = 200; // messages unanswered at most in the throughput phase

/** A bare MQTT.js bot that relays each message back to its sender's inbox. */
function relayOn(bot, qos) {
    bot.on('message', (topic, payload) => bot.publish(`IMS/${topic.split('/')[4]}/Inbox/Chat/Bot`, payload, { qos }));
    return bot.subscribeAsync(BOT_INBOX, { qos });
}

function imsBot(url, qos, defaults, broker) {
    const account = {
        id: 'ia',
        type: 'ims-config',
        url,
        userId: 'Bot',
        deviceId: defaults ? 'Bot_default' : 'Bot_bench',
        qos: String(qos),
        // The product's defaults (the editor's): persistent session, presence on.
        cleanSession: !defaults,
        presence: defaults,
    };
    const creds = credentialsOf(broker, 'Bot');
    if (creds.username) account.credentials = { user: creds.username, password: creds.password };
    return [
        { id: 'it', type: 'tab', label: 'ims bot' },
        account,
        { id: 'ic', type: 'ims-chat', z: 'it', account: 'ia', to: '', via: 'inbox', x: 100, y: 100, wires: [['if']] },
        { id: 'if', type: 'function', z: 'it', func: 'return msg;', outputs: 1, x: 300, y: 100, wires: [['ic']] },
    ];
}

/** Each contender starts its bot on `broker` and returns a stop function. */
const CONTENDERS = {
    raw: {
        label: '(a) raw MQTT.js',
        async start(broker, _red, qos) {
            const bot = await client(broker.url, { clientId: 'GID_IMS@@@Bot_raw', ...credentialsOf(broker, 'Bot') });
            await relayOn(bot, qos);
            return () => bot.endAsync();
        },
    },
    transport: {
        label: '(b) MQTT.js + IM transport',
        async start(broker, _red, qos) {
            const bot = connectTransport(broker.url, {
                clientId: 'GID_IMS@@@Bot_transport',
                reconnectPeriod: 0,
                ...credentialsOf(broker, 'Bot'),
            });
            await Promise.race([
                once(bot, 'connect'),
                once(bot, 'error').then(([error]) => {
                    throw error;
                }),
            ]);
            await relayOn(bot, qos);
            return () => bot.endAsync();
        },
    },
    core: {
        label: '(c) core mqtt in/out',
        async start(broker, red, qos) {
            await red.deploy([
                { id: 'bt', type: 'tab', label: 'core bot' },
                {
                    id: 'cb',
                    type: 'mqtt-broker',
                    broker: '127.0.0.1',
                    port: String(broker.port),
                    clientid: 'GID_IMS@@@Bot_core',
                    autoConnect: true,
                    usetls: false,
                    protocolVersion: '4',
                    keepalive: '60',
                    cleansession: true,
                },
                {
                    id: 'ci',
                    type: 'mqtt in',
                    z: 'bt',
                    topic: BOT_INBOX,
                    qos: String(qos),
                    datatype: 'buffer',
                    broker: 'cb',
                    nl: false,
                    rap: true,
                    rh: 0,
                    inputs: 0,
                    x: 100,
                    y: 100,
                    wires: [['cf']],
                },
                {
                    id: 'cf',
                    type: 'function',
                    z: 'bt',
                    func: "msg.topic = 'IMS/' + msg.topic.split('/')[4] + '/Inbox/Chat/Bot';\nreturn msg;",
                    outputs: 1,
                    x: 300,
                    y: 100,
                    wires: [['co']],
                },
                { id: 'co', type: 'mqtt out', z: 'bt', topic: '', qos: String(qos), retain: '', broker: 'cb', x: 500, y: 100, wires: [] },
            ]);
            return () => red.deploy([]);
        },
    },
    ims: {
        label: '(d) ims-chat',
        async start(broker, red, qos) {
            await red.deploy(imsBot(broker.url, qos, false, broker));
            return () => red.deploy([]);
        },
    },
    'ims-default': {
        label: '(d) ims-chat, product defaults',
        clientId: 'GID_IMS@@@Bot_default',
        async start(broker, red, qos) {
            await red.deploy(imsBot(broker.url, qos, true, broker));
            return () => red.deploy([]);
        },
    },
};

/**
 * The cells of a run. The four contenders on the open embedded broker (QoS 0 too in a full run) and
 * on Mosquitto; the product's defaults beside the clean-session bot; on the secured broker with its
 * disk store, the product's defaults and the transport baseline.
 */
function relayCells(brokers, quick) {
    const cells = [];
    const add = (broker, contender, qos) => cells.push({ key: `${broker}/${contender}/qos${qos}`, broker, contender, qos });
    for (const { name } of brokers) {
        if (name === 'secured') {
            add(name, 'transport', 1);
            add(name, 'ims-default', 1);
            continue;
        }
        if (name === 'secured-memory') {
            add(name, 'ims-default', 1);
            continue;
        }
        for (const qos of quick || name !== 'embedded' ? [1] : [0, 1])
            for (const contender of ['raw', 'transport', 'core', 'ims']) add(name, contender, qos);
        if (name === 'embedded') add(name, 'ims-default', 1);
    }
    return cells;
}

/** The driver runs in a child process of its own, so it never shares an event loop with the bot. */
class DriverProcess {
    static start() {
        const d = new DriverProcess();
        d.child = fork(path.join(__dirname, 'driver.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        d.pending = new Map();
        d.next = 0;
        d.child.on('message', ({ id, result, error }) => {
            const p = d.pending.get(id);
            d.pending.delete(id);
            if (error) p.reject(new Error(error));
            else p.resolve(result);
        });
        return d;
    }

    call(cmd, args = {}) {
        const id = ++this.next;
        return new Promise((resolve, reject) => {
            this.pending.set(id, { resolve, reject });
            this.child.send({ id, cmd, ...args });
        });
    }

    async end() {
        await this.call('end').catch(() => undefined);
        this.child.kill();
    }
}

/** One cell: start the bot, warm up, measure the maximum rate (and at QoS 1 the latency), stop. */
async function runCell(cell, broker, red, driver, { count, seconds, limitMs }) {
    const stop = await CONTENDERS[cell.contender].start(broker, red, cell.qos);
    try {
        await driver.call('connect', { url: broker.url, qos: cell.qos, options: credentialsOf(broker, 'Driver') });
        await driver.call('ready');
        // Warm-up, discarded: the JIT and the sockets of this bot, whatever ran before it.
        await driver.call('throughput', { count: Math.max(500, Math.round(count / 4)), window: WINDOW, limitMs: limitMs / 3 });
        // Every bot runs in this process: its CPU time per relayed message is steadier than the rate.
        const cpu = process.cpuUsage();
        const tp = await driver.call('throughput', { count, window: WINDOW, limitMs });
        const used = process.cpuUsage(cpu);
        const sample = { rate: tp.rate, cpuUs: (used.user + used.system) / Math.max(1, tp.received), timedOut: tp.timedOut };
        if (cell.qos === 1) {
            // An offered rate far above what the bot can relay measures a queue, not the bot: skipped.
            for (const [rate, key] of [
                [1000, '1k'],
                [5000, '5k'],
            ]) {
                if (tp.rate < rate / 2) continue;
                const l = await driver.call('latency', { rate, seconds });
                Object.assign(sample, { [`p50_${key}`]: l.p50, [`p99_${key}`]: l.p99, lost: (sample.lost ?? 0) + l.lost });
            }
        }
        return sample;
    } finally {
        await driver.call('disconnect');
        await stop();
        // A persistent session left behind would queue every later cell's messages for a bot that is
        // gone (on the disk store, a write each): the cell ends it, as a fresh start of the bot would.
        if (CONTENDERS[cell.contender].clientId) await endSession(broker, CONTENDERS[cell.contender].clientId);
    }
}

/** Ends the broker's stored session of `clientId`: a clean-session connect replaces it. */
async function endSession(broker, clientId) {
    const c = await client(broker.url, { clientId, clean: true, ...credentialsOf(broker, 'Bot') });
    await c.endAsync();
}

const MEASURES = ['rate', 'cpuUs', 'p50_1k', 'p99_1k', 'p50_5k', 'p99_5k'];
const LATENCIES = ['p50_1k', 'p99_1k', 'p50_5k', 'p99_5k'];

/** The ratios of one round, named `<broker>.qos<q>.<measure>.<a>/<b>`; only those whose cells ran. */
function roundRatios(samples) {
    const out = {};
    const ratio = (name, a, b, measure) => {
        const x = samples[a]?.[measure];
        const y = samples[b]?.[measure];
        if (Number.isFinite(x) && Number.isFinite(y) && y > 0) out[name] = x / y;
    };
    for (const broker of ['embedded', 'secured', 'secured-memory', 'mosquitto']) {
        for (const qos of [0, 1]) {
            const cell = (c) => `${broker}/${c}/qos${qos}`;
            const prefix = `${broker}.qos${qos}`;
            ratio(`${prefix}.rate.ims/core`, cell('ims'), cell('core'), 'rate');
            ratio(`${prefix}.rate.ims/raw`, cell('ims'), cell('raw'), 'rate');
            for (const c of ['raw', 'core', 'ims', 'ims-default']) {
                ratio(`${prefix}.rate.${c}/transport`, cell(c), cell('transport'), 'rate');
                ratio(`${prefix}.cpuUs.${c}/transport`, cell(c), cell('transport'), 'cpuUs');
                for (const m of LATENCIES) ratio(`${prefix}.${m}.${c}/transport`, cell(c), cell('transport'), m);
            }
            ratio(`${prefix}.rate.ims-default/ims`, cell('ims-default'), cell('ims'), 'rate');
        }
    }
    // The product's broker (secured, disk store) against the open in-memory one, same bot (product defaults).
    ratio('defaults.qos1.rate.secured/open', 'secured/ims-default/qos1', 'embedded/ims-default/qos1', 'rate');
    ratio('defaults.qos1.rate.transport secured/open', 'secured/transport/qos1', 'embedded/transport/qos1', 'rate');
    // The two parts of it: security alone (both in memory), the disk store alone (both secured).
    ratio('defaults.qos1.rate.secured memory/open', 'secured-memory/ims-default/qos1', 'embedded/ims-default/qos1', 'rate');
    ratio('defaults.qos1.rate.secured disk/memory', 'secured/ims-default/qos1', 'secured-memory/ims-default/qos1', 'rate');
    return out;
}

/** Every cell in every round, in a seeded shuffled order per round; samples, ratios and their spread. */
async function relayCase(brokers, red, { rounds, count, seconds, limitMs, quick, only, random, log }) {
    const byName = Object.fromEntries(brokers.map((b) => [b.name, b]));
    const cells = relayCells(brokers, quick).filter((c) => !only || c.key.includes(only));
    const driver = DriverProcess.start();
    const perRound = [];
    try {
        for (let r = 1; r <= rounds; r++) {
            const order = shuffled(cells, random);
            const samples = {};
            for (const cell of order) {
                const began = Date.now();
                let s;
                try {
                    s = await runCell(cell, byName[cell.broker], red, driver, { count, seconds, limitMs });
                } catch (error) {
                    // A cell that fails is recorded and shown; the other cells still run.
                    s = { error: error.message };
                }
                s.seconds = round((Date.now() - began) / 1000, 1);
                samples[cell.key] = s;
                if (s.error) {
                    log(`  round ${r} ${cell.key}: FAILED: ${s.error} (${s.seconds} s)`);
                    continue;
                }
                const latency = cell.qos === 1 ? `, p99 @1k ${round(s.p99_1k) ?? '-'} @5k ${round(s.p99_5k) ?? '-'} ms` : '';
                log(
                    `  round ${r} ${cell.key}: ${Math.round(s.rate)} msg/s${s.timedOut ? ' (time limit)' : ''}, ${round(s.cpuUs, 0)} us/msg${latency} (${s.seconds} s)`,
                );
            }
            perRound.push({ round: r, order: order.map((c) => c.key), samples, ratios: roundRatios(samples) });
        }
    } finally {
        await driver.end();
    }
    const summary = {};
    for (const cell of cells) {
        summary[cell.key] = { broker: cell.broker, contender: cell.contender, label: CONTENDERS[cell.contender].label, qos: cell.qos };
        for (const m of MEASURES) {
            const values = perRound.map((p) => p.samples[cell.key]?.[m]).filter((v) => v !== undefined);
            if (values.length) summary[cell.key][m] = spread(values);
        }
        const errors = perRound.map((p) => p.samples[cell.key]?.error).filter(Boolean);
        if (errors.length) Object.assign(summary[cell.key], { failed: errors.length, error: errors[0] });
        const lost = perRound.map((p) => p.samples[cell.key]?.lost).filter(Number.isFinite);
        if (lost.length) summary[cell.key].lostMax = Math.max(...lost);
    }
    const ratios = {};
    for (const name of new Set(perRound.flatMap((p) => Object.keys(p.ratios)))) ratios[name] = spread(perRound.map((p) => p.ratios[name]));
    return { cells: cells.map((c) => c.key), window: WINDOW, rounds: perRound, summary, ratios };
}

module.exports = { relayCase, relayCells, CONTENDERS, DriverProcess };
