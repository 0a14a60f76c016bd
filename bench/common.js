'use strict';
// What every benchmark case needs: brokers on 127.0.0.1, one embedded Node-RED (the real runtime, not
// the test helper, whose spies would slow every node), MQTT.js clients with Nagle off, statistics and
// a seeded shuffle.

const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const mqtt = require('mqtt');
const { fork } = require('child_process');
const { MOSQUITTO, MosquittoUnderTest } = require('../test/helpers/brokers');

const ROOT = path.join(__dirname, '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The accounts of the secured broker: the relay's bot and driver. */
const SECURED_ACCOUNTS = [
    { user: 'Bot', password: 'bench-bot' },
    { user: 'Driver', password: 'bench-driver' },
];

/** The embedded broker in a process of its own (bench/broker-process.js) with `options` (BrokerOptions). */
async function startEmbedded(name, options, extra) {
    const child = fork(path.join(__dirname, 'broker-process.js'), [JSON.stringify(options)], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const { port, error } = await new Promise((resolve) => child.once('message', resolve));
    if (error) throw new Error(`${name} broker: ${error}`);
    const stop = () =>
        new Promise((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', resolve);
            child.send('stop');
        });
    return { name, url: `mqtt://127.0.0.1:${port}`, port, stop, ...extra };
}

/**
 * The brokers of this run: the embedded broker open and in memory (the like-for-like baseline), the
 * embedded broker as the product runs it (secured, with its disk store), and Mosquitto when its
 * binary is here.
 */
async function startBrokers() {
    const brokers = [];
    const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-bench-store-'));
    // Every friend of the fan-out connects from 127.0.0.1: the per-address connection limit (a defence
    // against one host opening thousands) is lifted on the open broker, whose role is the baseline.
    const open = { limits: { connectionsPerAddress: 0 } };
    brokers.push(await startEmbedded('embedded', open, { virtualGroups: true, label: 'embedded, open, in memory' }));
    const secured = await startEmbedded(
        'secured',
        { security: { accounts: SECURED_ACCOUNTS }, storeDir },
        { virtualGroups: true, label: 'embedded, secured, disk store', accounts: SECURED_ACCOUNTS },
    );
    brokers.push(
        await startEmbedded(
            'secured-memory',
            { security: { accounts: SECURED_ACCOUNTS } },
            { virtualGroups: true, label: 'embedded, secured, in memory', accounts: SECURED_ACCOUNTS },
        ),
    );
    const stopSecured = secured.stop;
    secured.stop = async () => {
        await stopSecured();
        fs.rmSync(storeDir, { recursive: true, force: true });
    };
    brokers.push(secured);
    if (MOSQUITTO) {
        const m = await new MosquittoUnderTest({
            extraConfig: ['max_queued_messages 100000', 'max_inflight_messages 0', 'set_tcp_nodelay true'],
        }).start();
        brokers.push({ name: 'mosquitto', url: m.url, port: m.port, virtualGroups: false, label: 'Mosquitto', stop: () => m.stop() });
    }
    return brokers;
}

/** The password of `user` on `broker`, when the broker is secured. */
function credentialsOf(broker, user) {
    const account = broker.accounts?.find((a) => a.user === user);
    return account ? { username: account.user, password: account.password } : {};
}

/** An MQTT.js client as a user writes it: MQTT.js defaults, Nagle off. */
async function client(url, options = {}) {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options });
    c.stream.setNoDelay?.(true);
    return c;
}

/**
 * --core-mqtt=package: Node-RED's core MQTT nodes load the package's MQTT.js instead of the version
 * Node-RED pins for them in its own node_modules, so every contender runs one MQTT.js. Call it
 * before Node-RED loads its nodes; returns the version the core nodes will use.
 */
function coreNodesUsePackageMqtt() {
    const coreNodes = path.dirname(require.resolve('@node-red/nodes/package.json', { paths: [ROOT] }));
    const theirs = require.resolve('mqtt', { paths: [coreNodes] });
    const ours = require.resolve('mqtt', { paths: [ROOT] });
    require(ours);
    if (theirs !== ours) require.cache[theirs] = require.cache[ours];
    let dir = path.dirname(ours);
    while (path.basename(dir) !== 'mqtt') dir = path.dirname(dir); // .../node_modules/mqtt/build/index.js
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
}

/** The real Node-RED runtime in this process, with this package, and no editor. `globals` seeds global context. */
async function startNodeRed(globals = {}) {
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
        functionGlobalContext: globals,
        logging: { console: { level: 'error' } },
        editorTheme: { projects: { enabled: false } },
        externalModules: { autoInstall: false },
        diagnostics: { enabled: false },
        telemetry: { enabled: false },
    });
    await RED.start();
    const deploy = (flows) => RED.runtime.flows.setFlows({ flows: { flows }, deploymentType: 'full' });
    // The runtime drops the credentials of the first deploy after a start (its credential store is
    // still loading): one deploy of an unused account's credentials first, so a bot's login works.
    await deploy([{ id: 'prime', type: 'ims-config', url: 'mqtt://127.0.0.1:9', userId: 'Prime', credentials: { user: 'Prime' } }]);
    await deploy([]);
    return {
        RED,
        node: (id) => RED.nodes.getNode(id),
        /** A full deploy, as the editor's: a node's `credentials` are its secrets. */
        async deploy(flows) {
            await deploy(JSON.parse(JSON.stringify(flows)));
        },
        async stop() {
            await RED.stop();
            fs.rmSync(userDir, { recursive: true, force: true });
        },
    };
}

/** Waits until `ready()` or `ms` passed; true when ready. */
async function until(ready, ms, step = 5) {
    const deadline = Date.now() + ms;
    while (!ready() && Date.now() < deadline) await sleep(step);
    return ready();
}

function percentile(sorted, p) {
    if (sorted.length === 0) return NaN;
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** min, median and max of the finite values (the lower median for an even count). */
function spread(values) {
    const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
    if (sorted.length === 0) return { min: null, median: null, max: null, n: 0 };
    return { min: sorted[0], median: sorted[Math.floor((sorted.length - 1) / 2)], max: sorted[sorted.length - 1], n: sorted.length };
}

const round = (x, digits = 2) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

/** A small seeded generator (mulberry32), so a run's contender order can be replayed from its seed. */
function seededRandom(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function shuffled(items, random) {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
}

module.exports = {
    ROOT,
    SECURED_ACCOUNTS,
    startEmbedded,
    sleep,
    until,
    startBrokers,
    credentialsOf,
    client,
    startNodeRed,
    coreNodesUsePackageMqtt,
    percentile,
    spread,
    round,
    seededRandom,
    shuffled,
};
