'use strict';
// `npm start` as a new user runs it: Node-RED with the package, the embedded broker and the demo bot.
// The editor lists the nodes and serves every icon; an ordinary MQTT client chats with the bot.

const assert = require('assert');
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const mqtt = require('mqtt');
const { freePort } = require('./helpers/brokers');

const root = path.join(__dirname, '..');
const pkg = require('../package.json');

async function waitFor(check, ms, what) {
    const deadline = Date.now() + ms;
    for (;;) {
        const value = await check().catch(() => undefined);
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 200));
    }
}

describe('npm start', function () {
    this.timeout(60000);
    let child;
    let output = '';
    let httpPort;
    let mqttPort;
    let wsPort;
    let userDir;

    before(async function () {
        [httpPort, mqttPort, wsPort] = [await freePort(), await freePort(), await freePort()];
        userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-start-'));
        child = spawn(process.execPath, [path.join(root, 'scripts', 'start.js')], {
            cwd: root,
            env: {
                ...process.env,
                IMS_HTTP_PORT: String(httpPort),
                IMS_MQTT_PORT: String(mqttPort),
                IMS_WS_PORT: String(wsPort),
                IMS_USER_DIR: userDir,
                IMS_LOG_LEVEL: 'warn',
            },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        child.stdout.on('data', (d) => {
            output += d;
        });
        child.stderr.on('data', (d) => {
            output += d;
        });
        await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/flows`)).ok, 40000, `the editor (${output})`);
    });

    after(async function () {
        if (child && child.exitCode === null) child.kill('SIGKILL');
        fs.rmSync(userDir, { recursive: true, force: true });
    });

    it('prints where the editor and the broker are', function () {
        assert.match(output, new RegExp(`editor at http://127.0.0.1:${httpPort}/`));
        assert.match(output, new RegExp(`mqtt://127.0.0.1:${mqttPort}`));
        assert.match(output, new RegExp(`ws://127.0.0.1:${wsPort}/mqtt`));
        assert.match(output, new RegExp(`web chat at http://127.0.0.1:${httpPort}/ims/chat`));
    });

    it('serves the web chat client, and tells it where the broker takes WebSocket connections', async function () {
        const page = await fetch(`http://127.0.0.1:${httpPort}/ims/chat`);
        assert.strictEqual(page.status, 200);
        assert.strictEqual(new URL(page.url).pathname, '/ims/chat/', 'redirected to the trailing slash for relative assets');
        assert.match(await page.text(), /<script src="app.js"><\/script>/);
        const app = await fetch(`http://127.0.0.1:${httpPort}/ims/chat/app.js`);
        assert.strictEqual(app.status, 200);
        assert.match(app.headers.get('content-type'), /javascript/);
        assert.ok((await app.text()).length > 100000, 'MQTT.js and src/lib are bundled in');
        assert.strictEqual((await fetch(`http://127.0.0.1:${httpPort}/ims/chat/index.ts`)).status, 404);
        // The broker node announces its listener once it listens, which may be just after the editor is up.
        const config = await waitFor(
            async () => {
                const answer = await (await fetch(`http://127.0.0.1:${httpPort}/ims/chat/config.json`)).json();
                return answer.broker ? answer : undefined;
            },
            10000,
            'the broker in config.json',
        );
        assert.deepStrictEqual(config, {
            broker: { port: wsPort, path: '/mqtt', parentTopic: 'IMS', groupPrefix: 'Group', secured: true },
        });
    });

    it("lists the package's nodes in the editor", async function () {
        const res = await fetch(`http://127.0.0.1:${httpPort}/nodes`, { headers: { Accept: 'application/json' } });
        const sets = (await res.json()).filter((s) => s.module === pkg.name);
        const types = sets.flatMap((s) => s.types).sort();
        assert.deepStrictEqual(types, Object.keys(pkg['node-red'].nodes).sort());
        for (const set of sets) {
            assert.strictEqual(set.enabled, true, set.name);
            assert.strictEqual(set.err, undefined, `${set.name}: ${set.err}`);
        }
    });

    it('serves every icon of the package', async function () {
        const icons = fs.readdirSync(path.join(root, 'icons'));
        assert.ok(icons.length > 0);
        const res = await fetch(`http://127.0.0.1:${httpPort}/icons`, { headers: { Accept: 'application/json' } });
        const listed = (await res.json())[pkg.name] || [];
        for (const icon of icons) {
            assert.ok(listed.includes(icon), `${icon} is not in the editor's icon list`);
            const got = await fetch(`http://127.0.0.1:${httpPort}/icons/${pkg.name}/${icon}`);
            assert.strictEqual(got.status, 200, icon);
            assert.strictEqual(await got.text(), fs.readFileSync(path.join(root, 'icons', icon), 'utf8'), icon);
        }
    });

    it('runs the embedded broker, where an MQTT client chats with the demo bot', async function () {
        // The demo broker is secured: log in as one of its accounts.
        await assert.rejects(
            mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'GID_IMS@@@anon', reconnectPeriod: 0 }),
            (e) => e.code === 4,
        );
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
            clientId: 'GID_IMS@@@DeviceID_B',
            username: 'Bob',
            password: 'bob-pass',
            reconnectPeriod: 0,
        });
        try {
            await client.subscribeAsync('IMS/Bob/Inbox/#', { qos: 1 });
            // The bot's read receipt and "typing…" come first; the answer is the chat.
            const reply = new Promise((resolve) =>
                client.on('message', (topic, payload) => {
                    const body = JSON.parse(payload);
                    if (body.type === 'chat') resolve([topic, body]);
                }),
            );
            // The bot subscribes once its account connects; retry the first message until it answers.
            const [topic, body] = await waitFor(
                async () => {
                    await client.publishAsync('IMS/Bot/Inbox/Chat/Bob', 'hello bot', { qos: 1 });
                    return Promise.race([reply, new Promise((r) => setTimeout(() => r(undefined), 1000))]);
                },
                20000,
                "the bot's reply",
            );
            assert.strictEqual(topic, 'IMS/Bob/Inbox/Chat/Bot');
            assert.strictEqual(body.from, 'Bot');
            assert.strictEqual(body.type, 'chat');
            assert.match(body.text, /hello bot/);
        } finally {
            await client.endAsync();
        }
    });

    it("refuses the demo bot's Client ID to another account, and the bot keeps answering", async function () {
        // Issue 10's first attack, on npm start's own broker: Alice presents the Bot's device.
        await assert.rejects(
            mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
                clientId: 'GID_IMS@@@Bot_demo',
                username: 'Alice',
                password: 'alice-pass',
                clean: false,
                reconnectPeriod: 0,
            }),
            (e) => e.code === 2,
        );
        const carol = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
            clientId: 'GID_IMS@@@Carol_check',
            username: 'Carol',
            password: 'carol-pass',
            reconnectPeriod: 0,
        });
        try {
            await carol.subscribeAsync('IMS/Carol/Inbox/#', { qos: 1 });
            const reply = new Promise((resolve) => carol.on('message', (topic) => resolve(topic)));
            await carol.publishAsync('IMS/Bot/Inbox/Chat/Carol', 'are you there?', { qos: 1 });
            assert.strictEqual(await reply, 'IMS/Carol/Inbox/Chat/Bot');
        } finally {
            await carol.endAsync();
        }
    });

    it("answers the README's mosquitto_pub/mosquitto_sub commands, pasted as they are", async function () {
        const { execFileSync, spawn: spawnChild } = require('child_process');
        const have = (cmd) => {
            try {
                execFileSync('sh', ['-c', `command -v ${cmd}`]);
                return true;
            } catch {
                return false;
            }
        };
        if (!have('mosquitto_sub') || !have('mosquitto_pub')) {
            console.log('      (mosquitto-clients not installed: README commands not run)');
            this.skip();
        }
        const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
        const section = readme.slice(readme.indexOf('### Talk to the demo bot'));
        const lines = section
            .split('\n')
            .filter((l) => /^mosquitto_(sub|pub) /.test(l))
            .map((l) => l.replace('-p 1883', `-p ${mqttPort}`));
        const [subLine, ...pubLines] = lines;
        assert.match(subLine, /^mosquitto_sub /);
        assert.strictEqual(pubLines.length, 3);
        // The subscriber runs as pasted, plus an end (7 messages: the friend response, and for each of two
        // chats a read receipt, "typing…" and the reply, or 20 s) and -d, line by line, whose SUBACK line
        // is the acknowledgement to wait for.
        const sub = spawnChild('sh', ['-c', `stdbuf -oL ${subLine} -d -C 7 -W 20`], { stdio: ['ignore', 'pipe', 'pipe'] });
        let output2 = '';
        const waiters = new Set();
        sub.stdout.on('data', (d) => {
            output2 += d;
            for (const w of [...waiters]) w();
        });
        const done = new Promise((resolve) => sub.once('exit', resolve));
        const parsed = () =>
            output2
                .split('\n')
                .filter((l) => /^IMS\/\S+ \{/.test(l))
                .map((l) => {
                    const space = l.indexOf(' ');
                    return { topic: l.slice(0, space), body: JSON.parse(l.slice(space + 1)) };
                });
        const answers = () => parsed().filter((m) => m.body.type !== 'receipt' && m.body.type !== 'typing');
        const until = (check, what) =>
            new Promise((resolve, reject) => {
                const timer = setTimeout(() => reject(new Error(`no ${what} within 10 s: ${output2}`)), 10000);
                const w = () => {
                    if (!check()) return;
                    waiters.delete(w);
                    clearTimeout(timer);
                    resolve();
                };
                waiters.add(w);
                w();
            });
        await until(() => /received SUBACK/.test(output2), 'SUBACK');
        // One message at a time, each once the answer to the one before arrived: the conversation's order.
        for (const [i, line] of pubLines.entries()) {
            execFileSync('sh', ['-c', line]);
            await until(() => answers().length > i, `answer to ${line}`);
        }
        await done;
        const all = parsed();
        const received = output2;
        const messages = all.filter((m) => m.body.type !== 'receipt' && m.body.type !== 'typing');
        assert.deepStrictEqual(
            all.filter((m) => m.body.type === 'receipt').map((m) => m.body.data.status),
            ['read', 'read'],
            `received: ${received}\nNode-RED: ${output.split('\n').slice(-20).join('\n')}`,
        );
        assert.deepStrictEqual(
            messages.map((m) => m.topic),
            ['IMS/Carol/Inbox/Add/GFResp/Bot', 'IMS/Carol/Inbox/Chat/Bot', 'IMS/Carol/Inbox/Chat/Bot'],
        );
        assert.strictEqual(messages[0].body.data.accepted, true);
        assert.match(messages[1].body.text, /^Commands: /);
        assert.match(messages[2].body.text, /^Hello! I am Bot/);
    });

    it('stops cleanly on Ctrl-C and frees its ports', async function () {
        const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
        child.kill('SIGINT');
        const { code } = await exited;
        assert.strictEqual(code, 0, output);
        const net = require('net');
        for (const port of [httpPort, mqttPort, wsPort]) {
            await new Promise((resolve, reject) => {
                const server = net
                    .createServer()
                    .once('error', reject)
                    .listen(port, '127.0.0.1', () => server.close(resolve));
            });
        }
    });
});
