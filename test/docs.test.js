'use strict';
// Docs that run: every mosquitto_sub / mosquitto_pub command in README.md, docs/*.md, every node's help
// (both languages) and the demo tab's info text, run as written against `npm start` (only the port
// is changed to this run's), and every sample payload the docs show checked against what really
// arrives.

const assert = require('assert');
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { startNodeRed } = require('./helpers/editor');
const { Editor } = require('./helpers/admin');

const root = path.join(__dirname, '..');
const have = (cmd) => {
    try {
        execFileSync('sh', ['-c', `command -v ${cmd}`]);
        return true;
    } catch {
        return false;
    }
};
const MOSQUITTO_CLIENTS = have('mosquitto_sub') && have('mosquitto_pub');
if (!MOSQUITTO_CLIENTS)
    console.log('    (docs commands not run: mosquitto-clients is not installed; `apt-get install mosquitto-clients`, as .ci/run does)');

const unescapeHtml = (text) =>
    text
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&amp;/g, '&');

/** The code blocks of every document a user reads: [source, text]. */
function codeBlocks() {
    const blocks = [];
    const markdown = [
        'README.md',
        ...fs
            .readdirSync(path.join(root, 'docs'))
            .filter((f) => f.endsWith('.md'))
            .map((f) => `docs/${f}`),
    ];
    for (const file of markdown) {
        const text = fs.readFileSync(path.join(root, file), 'utf8');
        for (const m of text.matchAll(/```(\w*)\n([\s\S]*?)```/g)) blocks.push([file, m[2], m[1]]);
    }
    for (const lang of ['en-US', 'zh-CN']) {
        const dir = path.join(root, 'nodes', 'locales', lang);
        for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.html'))) {
            const text = fs.readFileSync(path.join(dir, file), 'utf8');
            for (const m of text.matchAll(/<pre>([\s\S]*?)<\/pre>/g)) blocks.push([`help ${lang}/${file}`, unescapeHtml(m[1]), 'sh']);
        }
    }
    const demo = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'demo-bot.json'), 'utf8'));
    const info = demo.find((n) => n.type === 'tab').info;
    const indented = info
        .split('\n')
        .filter((l) => l.startsWith('    '))
        .map((l) => l.slice(4))
        .join('\n');
    blocks.push(['the demo tab info', indented, 'sh']);
    return blocks;
}

/** The commands of a block, one conversation: comments and a trailing `&` off, nothing else changed. */
function commandsOf(text) {
    return text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => /^mosquitto_(sub|pub) /.test(l))
        .map((l) => l.replace(/\s+#.*$/, '').replace(/\s*&$/, ''));
}

/** Runs the block's commands against `port`: the subscriber first, then each publish; returns what the subscriber got. */
async function converse(commands, port) {
    const withPort = commands.map((c) => c.replace(/-p 1883\b/, `-p ${port}`));
    const sub = withPort.find((c) => c.startsWith('mosquitto_sub'));
    const pubs = withPort.filter((c) => c.startsWith('mosquitto_pub'));
    const toBot = pubs.filter((c) => /-t '?IMS\/Bot\/Inbox\//.test(c)).length;
    if (!sub) {
        for (const pub of pubs) execFileSync('sh', ['-c', pub]);
        return [];
    }
    if (toBot === 0) {
        // Only a subscriber: it must be allowed to subscribe (-E ends it once the broker acknowledged).
        execFileSync('sh', ['-c', `${sub} -E -W 10`]);
        return [];
    }
    // -d prints the SUBACK, the acknowledgement to wait for before publishing (stdbuf: line by line, not
    // when the pipe's buffer fills); the subscriber is ended once Bot answered every message (its read
    // receipts and "typing…" come too), or by -W.
    const child = spawn('sh', ['-c', `exec stdbuf -oL ${sub} -d -W 20`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const waiters = new Set();
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdout.on('data', (d) => {
        out += d;
        for (const w of [...waiters]) w();
    });
    const until = (check, what) =>
        new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`${sub}: no ${what} within 20 s: ${out} ${err}`)), 20000);
            const w = () => {
                if (!check()) return;
                waiters.delete(w);
                clearTimeout(timer);
                resolve();
            };
            waiters.add(w);
            w();
        });
    const answers = () =>
        out
            .split('\n')
            .filter((l) => /^IMS\/\S+ \{/.test(l))
            .map((l) => {
                const space = l.indexOf(' ');
                return { topic: l.slice(0, space), body: JSON.parse(l.slice(space + 1)) };
            })
            .filter((m) => m.body.type !== 'receipt' && m.body.type !== 'typing');
    try {
        await until(() => /received SUBACK/.test(out), 'SUBACK');
        for (const pub of pubs) execFileSync('sh', ['-c', pub]);
        await until(() => answers().length >= toBot, 'answer to every message');
    } finally {
        child.kill('SIGTERM');
        await exited;
    }
    if (process.env.IMS_DEBUG_DOCS) console.log(out);
    return answers();
}

/** Sample envelopes the docs show: {"v":1,…} with … for what varies. */
function samples() {
    const found = [];
    for (const file of ['README.md', 'docs/PROTOCOL.md']) {
        const text = fs.readFileSync(path.join(root, file), 'utf8');
        for (const m of text.matchAll(/\{"v":1,"id":"01M…"[^`\n]*\}/g)) found.push([file, m[0]]);
    }
    return found;
}

(MOSQUITTO_CLIENTS ? describe : describe.skip)('docs that run, against npm start', function () {
    this.timeout(60000);
    let nodeRed;
    let editor;
    const replies = [];

    before(async function () {
        nodeRed = await startNodeRed({ demo: true });
        editor = await new Editor(nodeRed.url).open();
        await editor.until(() => editor.status.get('ims-demo-chat')?.fill === 'green', 20000, "the demo bot's account");
        // Bot listens once its subscriptions are acknowledged: the demo's own button shows when (its answer).
        const answered = () => editor.debug.some((d) => d.id === 'ims-demo-alice-debug');
        for (let i = 0; i < 20 && !answered(); i++) {
            await editor.press('ims-demo-try');
            await editor.until(answered, 1000, "Bot's answer").catch(() => undefined);
        }
        assert.ok(answered(), 'Bot answers the demo tab');
    });
    after(async function () {
        editor?.close();
        await nodeRed?.stop();
    });

    const blocks = codeBlocks().filter(([, text]) => commandsOf(text).length > 0);

    it('finds the commands of the README, PROTOCOL.md, the help of both languages and the demo info', function () {
        const sources = new Set(blocks.map(([source]) => source));
        for (const source of [
            'README.md',
            'docs/PROTOCOL.md',
            'help en-US/ims-broker.html',
            'help zh-CN/ims-broker.html',
            'the demo tab info',
        ]) {
            assert.ok(sources.has(source), `${source} has commands: ${[...sources].join(', ')}`);
        }
    });

    for (const [source, text] of blocks) {
        it(`${source}: ${commandsOf(text).length} command(s) run as written, and Bot answers each message`, async function () {
            const commands = commandsOf(text);
            const got = await converse(commands, nodeRed.mqttPort);
            const toBot = commands.filter((c) => /-t '?IMS\/Bot\/Inbox\//.test(c)).length;
            assert.strictEqual(got.length, toBot, JSON.stringify(got));
            for (const { topic, body } of got) {
                assert.match(topic, /\/Inbox\/(Chat|Add\/GFResp)\/Bot$/);
                assert.deepStrictEqual([body.v, body.from, typeof body.id, typeof body.ts], [1, 'Bot', 'string', 'number']);
                replies.push(body);
            }
        });
    }

    it("PROTOCOL.md's payloads without the envelope: a plain JSON invitation, and Bot joins the group", async function () {
        // Node and broker decode the same forms: the broker lets Bot in because it read the invitation too.
        const mqtt = require('mqtt');
        const carol = await mqtt.connectAsync(`mqtt://127.0.0.1:${nodeRed.mqttPort}`, {
            clientId: 'GID_IMS@@@DeviceID_C_docs',
            username: 'Carol',
            password: 'carol-pass',
            reconnectPeriod: 0,
        });
        try {
            await carol.subscribeAsync('IMS/GroupCarolDocs/#', { qos: 1 }); // the first subscriber creates the group
            const hello = new Promise((resolve) =>
                carol.on('message', (topic, payload) => {
                    const body = JSON.parse(payload.toString());
                    if (topic === 'IMS/GroupCarolDocs/Bot' && body.type === 'group.message') resolve(body); // after its group.join
                }),
            );
            await carol.publishAsync('IMS/Bot/Inbox/Group/Invite/Carol', '{"group":"GroupCarolDocs"}', { qos: 1 });
            const said = await Promise.race([
                hello,
                new Promise((_, reject) => setTimeout(() => reject(new Error('Bot said nothing')), 10000)),
            ]);
            assert.deepStrictEqual([said.type, said.from], ['group.message', 'Bot']);
            assert.match(said.text, /^Hello everyone, I am Bot/);
        } finally {
            await carol.endAsync();
        }
        const refused = editor.debug.filter((d) => d.id === 'ims-demo-refused');
        assert.deepStrictEqual(refused, [], 'the broker refused nothing of it');
    });

    it('shows sample payloads that match what arrives', function () {
        const shown = samples();
        assert.ok(shown.length >= 2, JSON.stringify(shown));
        for (const [file, sample] of shown) {
            // The sample with its … parts as patterns: keys in the same order, the same fixed values.
            const keys = [...sample.matchAll(/"(\w+)":/g)].map((m) => m[1]);
            const fixed = Object.fromEntries([...sample.matchAll(/"(\w+)":("[^"…]*"|\d+)(?=[,}])/g)].map((m) => [m[1], JSON.parse(m[2])]));
            const text = /"text":"([^"…]*)…/.exec(sample)?.[1];
            const real = replies.find(
                (r) => Object.entries(fixed).every(([k, v]) => r[k] === v) && (text === undefined || String(r.text).startsWith(text)),
            );
            assert.ok(real, `${file}: ${sample} matches no reply that arrived: ${JSON.stringify(replies)}`);
            assert.deepStrictEqual(Object.keys(real), keys, `${file}: the sample shows the fields that arrive, in order`);
        }
    });
});
