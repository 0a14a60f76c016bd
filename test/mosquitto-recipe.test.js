'use strict';
// docs/recipes/mosquitto-ims.acl on a real Mosquitto: a spoofed publish and a foreign-inbox subscription
// get nothing through, the honest traffic does, and the IM nodes work under it.

const assert = require('assert');
const { sleep, until } = require('./helpers/wait');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const mqtt = require('mqtt');
const { MOSQUITTO, MosquittoUnderTest } = require('./helpers/brokers');
const { helper, load, unloadAll, account, connected } = require('./helpers/red');
const { imNode, send, record } = require('./helpers/flows');

const ACL = path.join(__dirname, '..', 'docs', 'recipes', 'mosquitto-ims.acl');
const USERS = { Alice: 'alice-pw', Bob: 'bob-pw', Carol: 'carol-pw', Ops: 'ops-pw' };
const haveMosquittoPasswd = (() => {
    try {
        execFileSync('sh', ['-c', 'command -v mosquitto_passwd']);
        return true;
    } catch {
        return false;
    }
})();

(MOSQUITTO && haveMosquittoPasswd ? describe : describe.skip)('the Mosquitto recipe (ACL with %u and %c)', function () {
    let broker;
    let dir;
    const clients = [];
    async function as(user) {
        const c = await mqtt.connectAsync(broker.url, {
            clientId: `GID_IMS@@@${user}_dev`,
            username: user,
            password: USERS[user],
            reconnectPeriod: 0,
        });
        c.received = [];
        c.on('message', (topic, payload) => c.received.push([topic, payload.toString()]));
        clients.push(c);
        return c;
    }

    before(async function () {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-mosq-acl-'));
        const passwordFile = path.join(dir, 'passwords');
        for (const [user, password] of Object.entries(USERS)) {
            execFileSync('mosquitto_passwd', [...(fs.existsSync(passwordFile) ? [] : ['-c']), '-b', passwordFile, user, password]);
        }
        broker = await new MosquittoUnderTest({ passwordFile, aclFile: ACL, extraConfig: ['set_tcp_nodelay true'] }).start(); // as docs/SECURITY.md configures it
    });
    after(async function () {
        await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
        await unloadAll();
        await broker.stop();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it('delivers nothing of a foreign inbox and nothing spoofed; the honest message arrives', async function () {
        const alice = await as('Alice');
        const bob = await as('Bob');
        const carol = await as('Carol');
        await bob.subscribeAsync('IMS/Bob/Inbox/#', { qos: 1 });
        // Mosquitto acknowledges these subscriptions but checks every message against the ACL.
        await alice.subscribeAsync(['IMS/Bob/Inbox/#', 'IMS/+/Inbox/#', 'IMS/#'], { qos: 1 });
        await alice.publishAsync('IMS/Bob/Inbox/Chat/Carol', 'forged by Alice', { qos: 1 });
        execFileSync('mosquitto_pub', [
            '-h',
            '127.0.0.1',
            '-p',
            String(broker.port),
            '-u',
            'Alice',
            '-P',
            USERS.Alice,
            '-q',
            '1',
            '-t',
            'IMS/Bob/Inbox/Add/GFReq/Carol',
            '-m',
            'forged too',
        ]);
        await carol.publishAsync('IMS/Bob/Inbox/Chat/Carol', 'really Carol', { qos: 1 });
        assert.ok(await until(() => bob.received.length >= 1));
        // Proving a negative, bounded, after the positive round trip above: nothing else arrives late.
        await sleep(200);
        assert.deepStrictEqual(bob.received, [['IMS/Bob/Inbox/Chat/Carol', 'really Carol']]);
        assert.ok(!alice.received.some(([t]) => t.startsWith('IMS/Bob/Inbox')), JSON.stringify(alice.received));
    });

    it('lets only the system account push, and anyone read moments and groups', async function () {
        const alice = await as('Alice');
        const ops = await as('Ops');
        const carol = await as('Carol');
        await carol.subscribeAsync(['IMS/System/Beijing', 'IMS/Alice', 'IMS/Group1/#'], { qos: 1 });
        await alice.publishAsync('IMS/System/Beijing', 'not the system', { qos: 1 });
        await alice.publishAsync('IMS/Group1/Bob', 'as Bob', { qos: 1 });
        await ops.publishAsync('IMS/System/Beijing', 'from the system', { qos: 1 });
        await alice.publishAsync('IMS/Alice', 'a moment', { qos: 1 });
        await alice.publishAsync('IMS/Group1/Alice', 'in the group', { qos: 1 });
        assert.ok(await until(() => carol.received.length >= 3));
        // Proving a negative, bounded, after the positive round trip above: nothing else arrives late.
        await sleep(200);
        assert.deepStrictEqual(carol.received.map(([, p]) => p).sort(), ['a moment', 'from the system', 'in the group']);
    });

    it('runs the IM nodes: a friend request and a chat over the recipe', async function () {
        await load(
            [
                account('cfgA', 'Alice', broker.url),
                account('cfgB', 'Bob', broker.url),
                ...imNode('ims-friend-request', 'fA', 'A'),
                ...imNode('ims-friend-request', 'fB', 'B', { autoAccept: true }),
                ...imNode('ims-chat', 'chatA', 'A'),
                ...imNode('ims-chat', 'chatB', 'B'),
            ],
            { cfgA: { password: USERS.Alice }, cfgB: { password: USERS.Bob } },
        );
        await Promise.all(['cfgA', 'cfgB'].map((id) => connected(helper.getNode(id), 8000)));
        const [fA, chatB] = ['fA', 'chatB'].map(record);
        send('fA', { action: 'request', topic: 'Bob' });
        assert.strictEqual((await fA.next()).ims.data.accepted, true);
        send('chatA', { topic: 'Bob', payload: 'hello over Mosquitto' });
        assert.strictEqual((await chatB.next()).payload, 'hello over Mosquitto');
    });
});
