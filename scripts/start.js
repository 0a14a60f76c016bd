'use strict';
// `npm start`: Node-RED 4 with this package, its user directory in .node-red/, and the demo flow
// (embedded broker + demo bot) deployed on its own tab. Other tabs of .node-red/flows.json are kept.

const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const pkg = require(path.join(root, 'package.json'));
const settings = require('./node-red-settings');
const mqttPort = Number(process.env.IMS_MQTT_PORT) || 1883;
// MQTT over WebSocket for the web chat client at /ims/chat.
const wsPort = Number(process.env.IMS_WS_PORT) || 1884;
const DEMO = path.join(root, 'examples', 'demo-bot.json');
const DEMO_PORT = 1883; // the port written in the example file

/** The demo's accounts, as the README states them. The broker enforces the IM rules for them. */
const DEMO_ACCOUNTS = [
    { user: 'Bot', password: 'bot-pass' },
    { user: 'Alice', password: 'alice-pass', attributes: { region: 'Hangzhou' } },
    { user: 'Bob', password: 'bob-pass', attributes: { region: 'Beijing' } },
    { user: 'Carol', password: 'carol-pass', attributes: { region: 'Beijing' } },
];

function linkPackage(userDir) {
    // Node-RED loads packages from <userDir>/node_modules; a link keeps the working tree live.
    const link = path.join(userDir, 'node_modules', ...pkg.name.split('/'));
    fs.mkdirSync(path.dirname(link), { recursive: true });
    try {
        if (fs.realpathSync(link) === fs.realpathSync(root)) return;
        fs.rmSync(link, { recursive: true, force: true });
    } catch {
        // no link yet
    }
    fs.symlinkSync(root, link, 'dir');
    fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'ims-demo-userdir', private: true }, null, 2));
}

/** The demo's nodes with the embedded broker (and every account's URL) on `port`. */
function demoNodes(port) {
    const text = fs.readFileSync(DEMO, 'utf8').split(`mqtt://127.0.0.1:${DEMO_PORT}`).join(`mqtt://127.0.0.1:${port}`);
    // The example imports anywhere as an open broker; npm start runs it secured.
    return JSON.parse(text).map((n) =>
        n.type === 'ims-broker' ? { ...n, port: String(port), wsPort: String(wsPort), security: true } : n,
    );
}

/** The demo's secrets in Node-RED's credentials file (aes-256-ctr, as the runtime stores them), others kept. */
function writeDemoCredentials(userDir, demo) {
    const file = path.join(userDir, 'flows_cred.json');
    const key = crypto.createHash('sha256').update(settings.credentialSecret).digest();
    let creds = {};
    if (fs.existsSync(file)) {
        try {
            const stored = JSON.parse(fs.readFileSync(file, 'utf8')).$;
            const decipher = crypto.createDecipheriv('aes-256-ctr', key, Buffer.from(stored.slice(0, 32), 'hex'));
            creds = JSON.parse(decipher.update(stored.slice(32), 'base64', 'utf8') + decipher.final('utf8'));
        } catch {
            creds = {}; // another secret or a damaged file: the demo's own credentials are written anew
        }
    }
    const passwords = Object.fromEntries(DEMO_ACCOUNTS.map((a) => [a.user, a.password]));
    for (const n of demo) {
        if (n.type === 'ims-broker') creds[n.id] = { accounts: JSON.stringify(DEMO_ACCOUNTS) };
        if (n.type === 'ims-config' && passwords[n.userId]) creds[n.id] = { password: passwords[n.userId] };
    }
    const iv = crypto.randomBytes(16);
    const cipher = crypto.createCipheriv('aes-256-ctr', key, iv);
    const encrypted = iv.toString('hex') + cipher.update(JSON.stringify(creds), 'utf8', 'base64') + cipher.final('base64');
    fs.writeFileSync(file, JSON.stringify({ $: encrypted }));
}

function deployDemo(userDir) {
    const flowFile = path.join(userDir, settings.flowFile);
    const demo = demoNodes(mqttPort);
    const demoIds = new Set(demo.map((n) => n.id));
    const demoTabs = new Set(demo.filter((n) => n.type === 'tab').map((n) => n.id));
    let current = [];
    if (fs.existsSync(flowFile)) current = JSON.parse(fs.readFileSync(flowFile, 'utf8') || '[]');
    const kept = current.filter((n) => !demoIds.has(n.id) && !demoTabs.has(n.z));
    fs.writeFileSync(flowFile, JSON.stringify([...demo, ...kept], null, 2));
    writeDemoCredentials(userDir, demo);
}

function main() {
    const userDir = settings.userDir;
    fs.mkdirSync(userDir, { recursive: true });
    if (!fs.existsSync(path.join(root, 'nodes', 'ims-config.js'))) {
        console.error('The package is not built: run `npm install` (or `npm run build`) first.');
        process.exit(1);
    }
    linkPackage(userDir);
    // IMS_NO_DEMO=1 starts an empty editor (the browser tests import the demo from the Examples menu).
    if (process.env.IMS_NO_DEMO !== '1') deployDemo(userDir);
    const editor = `http://${settings.uiHost}:${settings.uiPort}/`;
    console.log(
        [
            '',
            `IMS demo: Node-RED editor at ${editor}`,
            `          embedded MQTT broker at mqtt://127.0.0.1:${mqttPort} (parent topic IMS), ws://127.0.0.1:${wsPort}/mqtt`,
            `          web chat at ${editor}ims/chat (sign in as Alice / alice-pass and add Bot as a friend)`,
            '          secured: accounts Bot, Alice, Bob, Carol with passwords bot-pass, alice-pass, bob-pass, carol-pass',
            `          try:  mosquitto_sub -h 127.0.0.1 -p ${mqttPort} -u Alice -P alice-pass -t 'IMS/Alice/Inbox/#' -v`,
            `          and:  mosquitto_pub -h 127.0.0.1 -p ${mqttPort} -u Alice -P alice-pass -t IMS/Bot/Inbox/Chat/Alice -m hello`,
            '          Ctrl-C stops it.',
            '',
        ].join('\n'),
    );
    const redMain = require.resolve('node-red/red.js');
    const child = spawn(process.execPath, [redMain, '--settings', path.join(__dirname, 'node-red-settings.js'), '--userDir', userDir], {
        stdio: 'inherit',
        env: { ...process.env, IMS_MQTT_PORT: String(mqttPort), IMS_WS_PORT: String(wsPort) },
    });
    // Ctrl-C reaches the whole process group; Node-RED stops its flows (the broker frees its port).
    for (const signal of ['SIGINT', 'SIGTERM']) {
        process.on(signal, () => child.kill(signal));
    }
    child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
}

main();
