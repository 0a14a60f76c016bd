'use strict';
// Bots that share load (issue 15): the same bot account runs in two Node-RED runtimes, this process's
// (the test helper) and a second `npm start` process, each with its own device ID and the inbox
// shared as `$share/bots/...` (ims-config's share group). On Mosquitto, 1 000 chats to the bot are
// answered exactly once in total, and both runtimes answer some.

const assert = require('assert');
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const mqtt = require('mqtt');
const { freePort, MOSQUITTO, MosquittoUnderTest } = require('./helpers/brokers');
const { helper, load, unloadAll, connected } = require('./helpers/red');
const { until } = require('./helpers/wait');

const root = path.join(__dirname, '..');

/** The bot's flow: ims-chat → function (answer) → ims-chat, on an account sharing its inbox. */
function botFlow(url, device, tab) {
    return [
        {
            id: `cfg_${device}`,
            type: 'ims-config',
            userId: 'Bot',
            deviceId: device,
            url,
            shareGroup: 'bots',
            reconnectPeriod: '300',
            presence: false,
        },
        { id: `chat_${device}`, type: 'ims-chat', z: tab, account: `cfg_${device}`, wires: [[`fn_${device}`]] },
        {
            id: `fn_${device}`,
            type: 'function',
            z: tab,
            func: `msg.payload = 'answer from ${device} to ' + msg.payload; return msg;`,
            outputs: 1,
            wires: [[`chat_${device}`]],
        },
    ];
}

describe('a bot on two Node-RED runtimes sharing its inbox', function () {
    this.timeout(120000);
    let broker;
    let child;
    let userDir;

    before(async function () {
        if (!MOSQUITTO) this.skip(); // visible: Mosquitto is installed by .ci/run
        broker = await new MosquittoUnderTest().start();
    });
    after(async function () {
        await unloadAll();
        if (child && child.exitCode === null) {
            await new Promise((resolve) => {
                child.once('exit', resolve);
                child.kill('SIGTERM');
            });
        }
        await broker?.stop();
        if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
    });

    it('answers 1 000 chats exactly once in total, both runtimes taking a share', async function () {
        // Runtime 2: npm start's script with an empty editor and this flow in its user directory.
        userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-bot2-'));
        fs.writeFileSync(
            path.join(userDir, 'flows.json'),
            JSON.stringify([{ id: 'tab2', type: 'tab', label: 'bot 2' }, ...botFlow(broker.url, 'Bot_node2', 'tab2')]),
        );
        const httpPort = await freePort();
        let output = '';
        child = spawn(process.execPath, [path.join(root, 'scripts', 'start.js')], {
            cwd: root,
            env: { ...process.env, IMS_NO_DEMO: '1', IMS_USER_DIR: userDir, IMS_HTTP_PORT: String(httpPort), IMS_LOG_LEVEL: 'warn' },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        child.stdout.on('data', (d) => (output += d));
        child.stderr.on('data', (d) => (output += d));
        // Runtime 1: this process.
        await load(botFlow(broker.url, 'Bot_node1', 'tab1'));
        await connected(helper.getNode('cfg_Bot_node1'));
        const alice = await mqtt.connectAsync(broker.url, { clientId: 'GID_IMS@@@Alice_dev', reconnectPeriod: 0 });
        try {
            const answers = [];
            alice.on('message', (topic, payload) => topic === 'IMS/Alice/Inbox/Chat/Bot' && answers.push(JSON.parse(payload).text));
            await alice.subscribeAsync('IMS/Alice/Inbox/#', { qos: 1 });
            // Wait until the second runtime's bot answers too (it is up once its share of a probe comes back).
            let probed = false;
            for (const deadline = Date.now() + 60000; !probed && Date.now() < deadline;) {
                await alice.publishAsync('IMS/Bot/Inbox/Chat/Alice', 'probe', { qos: 1 });
                probed = await until(() => answers.some((a) => a.startsWith('answer from Bot_node2')), 500);
            }
            assert.ok(probed, `the second runtime never answered: ${output}`);
            answers.length = 0;
            for (let i = 0; i < 1000; i++) await alice.publishAsync('IMS/Bot/Inbox/Chat/Alice', `m${i}`, { qos: 1 });
            await until(() => answers.length >= 1000, 30000);
            // Anything more would have come by now: one more round trip through the broker.
            await alice.publishAsync('IMS/Alice/Inbox/Chat/Alice', 'settle', { qos: 1 });
            const questions = answers.map((a) => a.replace(/^answer from Bot_node\d to /, ''));
            assert.strictEqual(answers.length, 1000, 'no message answered twice');
            assert.deepStrictEqual(new Set(questions).size, 1000, 'every message answered');
            const byNode1 = answers.filter((a) => a.startsWith('answer from Bot_node1')).length;
            assert.ok(byNode1 > 0 && byNode1 < 1000, `both runtimes answer (node 1: ${byNode1}, node 2: ${1000 - byNode1})`);
        } finally {
            await alice.endAsync();
        }
    });
});
