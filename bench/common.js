'use strict';
// What every benchmark case needs: brokers on 127.0.0.1, one embedded Node-RED (the real runtime, not
// the test helper, whose spies would slow every node), MQTT.js clients with Nagle off, and statistics.

const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const mqtt = require('mqtt');
const { fork } = require('child_process');
const { MOSQUITTO, MosquittoUnderTest } = require('../test/helpers/brokers');

const ROOT = path.join(__dirname, '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The brokers of this run: the embedded one always, Mosquitto when its binary is here. */
async function startBrokers() {
    const brokers = [];
    const child = fork(path.join(__dirname, 'broker-process.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const { port } = await new Promise((resolve) => child.once('message', resolve));
    const stopChild = () =>
        new Promise((resolve) => {
            child.once('exit', resolve);
            child.send('stop');
        });
    brokers.push({ name: 'embedded', url: `mqtt://127.0.0.1:${port}`, port, virtualGroups: true, stop: stopChild });
    if (MOSQUITTO) {
        const m = await new MosquittoUnderTest({
            extraConfig: ['max_queued_messages 100000', 'max_inflight_messages 0', 'set_tcp_nodelay true'],
        }).start();
        brokers.push({ name: 'mosquitto', url: m.url, port: m.port, virtualGroups: false, stop: () => m.stop() });
    }
    return brokers;
}

/** An MQTT.js client with Nagle off, as the IM nodes have. */
async function client(url, options = {}) {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options });
    c.stream.setNoDelay?.(true);
    return c;
}

/** The real Node-RED runtime in this process, with this package, and no editor. */
async function startNodeRed() {
    const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-bench-'));
    const link = path.join(userDir, 'node_modules', '@ims-mqtt', 'node-red-ims');
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(ROOT, link, 'dir');
    fs.writeFileSync(path.join(userDir, 'package.json'), '{"name":"bench","private":true}');
    const RED = require('node-red');
    const server = http.createServer();
    RED.init(server, {
        userDir,
        flowFile: 'flows.json',
        credentialSecret: 'bench',
        httpAdminRoot: false,
        httpNodeRoot: false,
        logging: { console: { level: 'error' } },
        editorTheme: { projects: { enabled: false } },
        externalModules: { autoInstall: false },
        diagnostics: { enabled: false },
        telemetry: { enabled: false },
    });
    await RED.start();
    return {
        RED,
        async deploy(flows) {
            await RED.runtime.flows.setFlows({ flows: { flows }, deploymentType: 'full' });
        },
        async stop() {
            await RED.stop();
            fs.rmSync(userDir, { recursive: true, force: true });
        },
    };
}

function percentile(sorted, p) {
    if (sorted.length === 0) return NaN;
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function median(values) {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN;
}

const round = (x, digits = 2) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

module.exports = { ROOT, sleep, startBrokers, client, startNodeRed, percentile, median, round };
