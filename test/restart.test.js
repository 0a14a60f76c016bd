'use strict';
// State that lasts across `npm start` restarts: Bot remembers the friends it made (its account state is
// in Node-RED context, whose default store is on disk under npm start), and an account a user added to
// the demo broker in the editor still logs in after the restart.

const assert = require('assert');
const mqtt = require('mqtt');
const { startNodeRed } = require('./helpers/editor');
const { Editor } = require('./helpers/admin');

/** An MQTT client logged in as `user`, collecting what arrives in its inbox. */
async function imClient(port, user, password) {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
        clientId: `GID_IMS@@@${user}_restart`,
        username: user,
        password,
        reconnectPeriod: 0,
    });
    const inbox = [];
    const waiters = new Set();
    client.on('message', (topic, payload) => {
        inbox.push({ topic, body: JSON.parse(payload.toString()) });
        for (const w of [...waiters]) w();
    });
    await client.subscribeAsync(`IMS/${user}/Inbox/#`, { qos: 1 });
    client.next = (pred, ms = 10000) =>
        new Promise((resolve, reject) => {
            const check = () => {
                const i = inbox.findIndex(pred);
                if (i < 0) return;
                waiters.delete(check);
                clearTimeout(timer);
                resolve(inbox.splice(i, 1)[0]);
            };
            const timer = setTimeout(() => {
                waiters.delete(check);
                reject(new Error(`${user}: nothing matching within ${ms} ms: ${JSON.stringify(inbox)}`));
            }, ms);
            waiters.add(check);
            check();
        });
    return client;
}

/** Logs in as soon as the redeployed broker has the account: each refused attempt is a CONNACK, not a timeout. */
async function imClientWhenReady(port, user, password) {
    const deadline = Date.now() + 20000;
    for (;;) {
        try {
            return await imClient(port, user, password);
        } catch (error) {
            if (Date.now() > deadline) throw error;
            await new Promise((r) => setTimeout(r, 200)); // the broker restarts with the new accounts
        }
    }
}

describe('npm start, restarted', function () {
    this.timeout(90000);
    let nodeRed;
    let editor;
    const stop = async () => {
        editor?.close();
        await nodeRed?.stop();
    };
    after(async function () {
        await stop();
        if (nodeRed) require('fs').rmSync(nodeRed.userDir, { recursive: true, force: true });
    });

    async function start(previous) {
        nodeRed = await startNodeRed(
            previous
                ? { demo: true, userDir: previous.userDir, ports: [previous.httpPort, previous.mqttPort, previous.wsPort] }
                : { demo: true, keep: true },
        );
        editor = await new Editor(nodeRed.url).open();
        await editor.until(() => editor.status.get('ims-demo-chat')?.fill === 'green', 20000, "the demo bot's account");
    }

    it("keeps Bot's friends and the accounts a user added", async function () {
        await start();
        const carol = await imClient(nodeRed.mqttPort, 'Carol', 'carol-pass');
        await carol.publishAsync('IMS/Bot/Inbox/Add/GFReq/Carol', 'hi Bot', { qos: 1 });
        assert.strictEqual((await carol.next((m) => m.topic === 'IMS/Carol/Inbox/Add/GFResp/Bot')).body.data.accepted, true);
        await carol.endAsync();

        // In the editor: one more row in the broker's accounts list (the dialog shows the list it was
        // given, from the credentials), and Deploy.
        const { flows } = await editor.flows();
        const broker = flows.find((n) => n.type === 'ims-broker');
        const creds = await (await fetch(`${nodeRed.url}credentials/ims-broker/${broker.id}`)).json();
        const accounts = JSON.parse(creds.accounts);
        assert.ok(
            accounts.some((a) => a.user === 'Bot' && a.passwordHash && !a.password),
            'the dialog gets the demo accounts back, with hashes and no password',
        );
        await editor.add([
            { ...broker, credentials: { accounts: JSON.stringify([...accounts, { user: 'Dave', password: 'dave-pass' }]) } },
        ]);
        const dave = await imClientWhenReady(nodeRed.mqttPort, 'Dave', 'dave-pass');
        await dave.endAsync();
        await editor.until(() => editor.status.get('ims-demo-chat')?.fill === 'green', 20000, 'the demo after the deploy');

        const previous = { userDir: nodeRed.userDir, httpPort: nodeRed.httpPort, mqttPort: nodeRed.mqttPort, wsPort: nodeRed.wsPort };
        await stop();
        await start(previous);

        const again = await imClient(nodeRed.mqttPort, 'Carol', 'carol-pass');
        try {
            await again.publishAsync('IMS/Bot/Inbox/Chat/Carol', '/greet hello again', { qos: 1 });
            const greeting = await again.next((m) => m.body.type === 'greeting');
            assert.strictEqual(greeting.body.text, 'hello again', 'Bot still has Carol as a friend');
        } finally {
            await again.endAsync();
        }
        const daveAgain = await imClient(nodeRed.mqttPort, 'Dave', 'dave-pass');
        await daveAgain.endAsync();
    });
});
