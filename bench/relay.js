'use strict';
// Relay: an external MQTT.js client chats with a bot that answers every 1:1 message. Three bots,
// alternated round by round so machine noise hits them all: (a) raw MQTT.js in plain Node.js,
// (b) Node-RED core `mqtt in` -> function -> `mqtt out`, (c) `ims-chat` -> function -> `ims-chat`.

const { fork } = require('child_process');
const path = require('path');
const { client, median, round } = require('./common');

const BOT_INBOX = 'IMS/Bot/Inbox/Chat/+';

/** Each contender starts its bot and returns a stop function. */
const CONTENDERS = {
    raw: async (broker, red, qos) => {
        await red.deploy([]);
        const bot = await client(broker.url, { clientId: 'GID_IMS@@@raw_bot' });
        bot.on('message', (topic, payload) => bot.publish(`IMS/${topic.split('/')[4]}/Inbox/Chat/Bot`, payload, { qos }));
        await bot.subscribeAsync(BOT_INBOX, { qos });
        return () => bot.endAsync();
    },
    core: async (broker, red, qos) => {
        await red.deploy([
            { id: 'bt', type: 'tab', label: 'core bot' },
            {
                id: 'cb',
                type: 'mqtt-broker',
                broker: '127.0.0.1',
                port: String(broker.port),
                clientid: 'GID_IMS@@@core_bot',
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
    ims: async (broker, red, qos) => {
        await red.deploy([
            { id: 'it', type: 'tab', label: 'ims bot' },
            {
                id: 'ia',
                type: 'ims-config',
                url: broker.url,
                userId: 'Bot',
                deviceId: 'Bot_bench',
                qos: String(qos),
                cleanSession: true,
                presence: false,
            },
            { id: 'ic', type: 'ims-chat', z: 'it', account: 'ia', to: '', via: 'inbox', x: 100, y: 100, wires: [['if']] },
            { id: 'if', type: 'function', z: 'it', func: 'return msg;', outputs: 1, x: 300, y: 100, wires: [['ic']] },
        ]);
        return () => red.deploy([]);
    },
};

/** The driver runs in a child process of its own, so it never shares an event loop with the bot. */
class DriverProcess {
    static async connect(url, qos) {
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
        await d.call('connect', { url, qos });
        return d;
    }

    call(cmd, args = {}) {
        const id = ++this.next;
        return new Promise((resolve, reject) => {
            this.pending.set(id, { resolve, reject });
            this.child.send({ id, cmd, ...args });
        });
    }

    ready() {
        return this.call('ready');
    }
    throughput(count, window) {
        return this.call('throughput', { count, window });
    }
    latency(rate, seconds) {
        return this.call('latency', { rate, seconds });
    }

    async end() {
        await this.call('end').catch(() => undefined);
        this.child.kill();
    }
}

/** Every contender, alternated over `rounds`; the median of each measure. */
async function relayCase(broker, red, { rounds, count, seconds, log }) {
    const samples = {};
    for (let r = 1; r <= rounds; r++) {
        for (const name of Object.keys(CONTENDERS)) {
            for (const qos of [0, 1]) {
                const stop = await CONTENDERS[name](broker, red, qos);
                const driver = await DriverProcess.connect(broker.url, qos);
                try {
                    await driver.ready();
                    // Every bot runs in this process: its CPU time per relayed message is steadier than the rate.
                    const cpu = process.cpuUsage();
                    const tp = await driver.throughput(count, 200);
                    const used = process.cpuUsage(cpu);
                    const s = (samples[`${name}.qos${qos}`] ||= {
                        rate: [],
                        cpu: [],
                        p50_1k: [],
                        p99_1k: [],
                        p50_5k: [],
                        p99_5k: [],
                        lost: [],
                    });
                    s.rate.push(tp.rate);
                    s.cpu.push((used.user + used.system) / Math.max(1, tp.received));
                    if (qos === 1) {
                        const l1 = await driver.latency(1000, seconds);
                        const l5 = await driver.latency(5000, seconds);
                        s.p50_1k.push(l1.p50);
                        s.p99_1k.push(l1.p99);
                        s.p50_5k.push(l5.p50);
                        s.p99_5k.push(l5.p99);
                        s.lost.push(l1.lost + l5.lost);
                    }
                    log(`  ${broker.name} round ${r} ${name} qos${qos}: ${Math.round(tp.rate)} msg/s${tp.timedOut ? ' (time limit)' : ''}`);
                } finally {
                    await driver.end();
                    await stop();
                }
            }
        }
    }
    const result = {};
    for (const [key, s] of Object.entries(samples)) {
        result[key] = { maxRate: round(median(s.rate), 0), cpuPerMessageUs: round(median(s.cpu), 0) };
        if (s.p99_1k.length) {
            Object.assign(result[key], {
                p50_1k: round(median(s.p50_1k)),
                p99_1k: round(median(s.p99_1k)),
                p50_5k: round(median(s.p50_5k)),
                p99_5k: round(median(s.p99_5k)),
                lost: Math.max(...s.lost),
            });
        }
    }
    return result;
}

module.exports = { relayCase, CONTENDERS, DriverProcess };
