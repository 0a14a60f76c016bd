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
/** The examples' password (a documented demo secret); their accounts read it from the environment. */
const examplePassword = process.env.IMS_EXAMPLE_PASSWORD || 'example-pass';

/** The demo's accounts, as the README states them. The broker enforces the IM rules for them. */
const DEMO_ACCOUNTS = [
    { user: 'Bot', password: 'bot-pass' },
    { user: 'Alice', password: 'alice-pass', attributes: { region: 'Hangzhou' } },
    { user: 'Bob', password: 'bob-pass', attributes: { region: 'Beijing' } },
    { user: 'Carol', password: 'carol-pass', attributes: { region: 'Beijing' } },
];

/**
 * Each example's own accounts (examples/0N-*.json: Alice<N>, Bob<N>...), so examples never answer each
 * other or the demo tab. Their ims-config nodes take the URL and password from the environment
 * (${IMS_MQTT_URL}, ${IMS_EXAMPLE_PASSWORD}), which this script sets for Node-RED.
 */
const EXAMPLE_ACCOUNTS = [
    ...['Alice1', 'Bob1'],
    ...['Alice2', 'Bob2', 'Carol2'],
    ...['Alice3', 'Bob3', 'Carol3'],
    ...['Alice4', 'Bob4', 'Carol4'],
    ...['Alice6', 'Bob6'],
]
    .map((user) => ({ user, password: examplePassword }))
    .concat([
        { user: 'Ops5', password: examplePassword, system: true },
        { user: 'Alice5', password: examplePassword, attributes: { region: 'Beijing' } },
        { user: 'Bob5', password: examplePassword, attributes: { region: 'Hangzhou' } },
        { user: 'Carol5', password: examplePassword, attributes: { region: 'Beijing' } },
    ]);
const BROKER_ACCOUNTS = [...DEMO_ACCOUNTS, ...EXAMPLE_ACCOUNTS];

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

/** The demo's nodes; the example imports anywhere as an open broker, npm start runs it secured. */
function demoNodes() {
    return JSON.parse(fs.readFileSync(DEMO, 'utf8')).map((n) =>
        n.type === 'ims-broker' ? { ...n, wsPort: String(wsPort), security: true } : n,
    );
}

/**
 * The broker's accounts: the demo's and the examples' as documented, each with a fresh salted hash of
 * its documented password (the credentials, which the editor reads, hold no password), and every other
 * account a user added, kept as it was.
 */
async function brokerAccounts(stored) {
    const { hashPassword } = require(path.join(root, 'nodes', 'lib', 'broker', 'passwords.js'));
    const documented = await Promise.all(
        BROKER_ACCOUNTS.map(async ({ password, ...account }) => ({ ...account, passwordHash: await hashPassword(password) })),
    );
    let kept;
    try {
        kept = JSON.parse(stored || '[]');
    } catch {
        kept = []; // not JSON: the documented accounts are written anew
    }
    const users = new Set(BROKER_ACCOUNTS.map((a) => a.user));
    return [...documented, ...(Array.isArray(kept) ? kept : []).filter((a) => a && !users.has(a.user))];
}

/** The demo's secrets in Node-RED's credentials file (aes-256-ctr, as the runtime stores them), others kept. */
async function writeDemoCredentials(userDir, demo) {
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
        if (n.type === 'ims-broker')
            creds[n.id] = { ...creds[n.id], accounts: JSON.stringify(await brokerAccounts(creds[n.id]?.accounts)) };
        if (n.type === 'ims-config' && passwords[n.userId]) creds[n.id] = { password: passwords[n.userId] };
    }
    const iv = crypto.randomBytes(16);
    const cipher = crypto.createCipheriv('aes-256-ctr', key, iv);
    const encrypted = iv.toString('hex') + cipher.update(JSON.stringify(creds), 'utf8', 'base64') + cipher.final('base64');
    fs.writeFileSync(file, JSON.stringify({ $: encrypted }));
}

async function deployDemo(userDir) {
    const flowFile = path.join(userDir, settings.flowFile);
    const demo = demoNodes();
    const demoIds = new Set(demo.map((n) => n.id));
    const demoTabs = new Set(demo.filter((n) => n.type === 'tab').map((n) => n.id));
    let current = [];
    if (fs.existsSync(flowFile)) current = JSON.parse(fs.readFileSync(flowFile, 'utf8') || '[]');
    const kept = current.filter((n) => !demoIds.has(n.id) && !demoTabs.has(n.z));
    fs.writeFileSync(flowFile, JSON.stringify([...demo, ...kept], null, 2));
    await writeDemoCredentials(userDir, demo);
}

async function main() {
    const userDir = settings.userDir;
    fs.mkdirSync(userDir, { recursive: true });
    if (!fs.existsSync(path.join(root, 'nodes', 'ims-config.js'))) {
        console.error('The package is not built: run `npm install` (or `npm run build`) first.');
        process.exit(1);
    }
    linkPackage(userDir);
    // IMS_NO_DEMO=1 starts an empty editor (the browser tests import the demo from the Examples menu).
    if (process.env.IMS_NO_DEMO !== '1') await deployDemo(userDir);
    const editor = `http://${settings.uiHost}:${settings.uiPort}/`;
    console.log(
        [
            '',
            `IMS demo: Node-RED editor at ${editor}`,
            `          embedded MQTT broker at mqtt://127.0.0.1:${mqttPort} (parent topic IMS), ws://127.0.0.1:${wsPort}/mqtt`,
            `          web chat at ${editor}ims/chat (sign in as Alice / alice-pass and add Bot as a friend)`,
            '          secured: accounts Bot, Alice, Bob, Carol with passwords bot-pass, alice-pass, bob-pass, carol-pass;',
            `          the examples (Import > Examples) have their own accounts, with the password ${examplePassword}`,
            `          try:  mosquitto_sub -h 127.0.0.1 -p ${mqttPort} -u Carol -P carol-pass -t 'IMS/Carol/Inbox/#' -v`,
            `          and:  mosquitto_pub -h 127.0.0.1 -p ${mqttPort} -u Carol -P carol-pass -t IMS/Bot/Inbox/Chat/Carol -m hello`,
            '          Ctrl-C stops it.',
            '',
        ].join('\n'),
    );
    const redMain = require.resolve('node-red/red.js');
    const child = spawn(process.execPath, [redMain, '--settings', path.join(__dirname, 'node-red-settings.js'), '--userDir', userDir], {
        stdio: 'inherit',
        // The demo and the examples read these through Node-RED's ${NAME} settings.
        env: {
            ...process.env,
            IMS_MQTT_PORT: String(mqttPort),
            IMS_WS_PORT: String(wsPort),
            IMS_MQTT_URL: `mqtt://127.0.0.1:${mqttPort}`,
            IMS_EXAMPLE_PASSWORD: examplePassword,
        },
    });
    // Ctrl-C reaches the whole process group; Node-RED stops its flows (the broker frees its port).
    for (const signal of ['SIGINT', 'SIGTERM']) {
        process.on(signal, () => child.kill(signal));
    }
    child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
