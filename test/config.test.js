'use strict';
// ims-config over real brokers: one shared connection, status on every user node, reconnect with
// subscriptions restored, cloud MQ signature login, and catchable errors for bad setups.

const assert = require('assert');
const { execSync } = require('child_process');
const { forEachBroker, needs, freePort, AedesUnderTest } = require('./helpers/brokers');
const { helper, load, account, nextMessage, waitForStatus, connected } = require('./helpers/red');

const green = (s) => s.fill === 'green' && s.shape === 'dot';

forEachBroker((kind) => {
    describe('ims-config', function () {
        let broker;
        beforeEach(async function () {
            broker = await kind.create().start();
        });
        afterEach(async function () {
            await helper.unload();
            await broker.stop();
        });

        function twoAccounts(extraA = {}, extraB = {}) {
            return [
                account('cfgA', 'UserA', broker.url, extraA),
                account('cfgB', 'UserB', broker.url, extraB),
                { id: 'chatA1', type: 'ims-chat', account: 'cfgA', wires: [['outA1']] },
                { id: 'chatA2', type: 'ims-chat', account: 'cfgA', wires: [['outA2']] },
                { id: 'chatB', type: 'ims-chat', account: 'cfgB', wires: [['outB']] },
                { id: 'outA1', type: 'helper' },
                { id: 'outA2', type: 'helper' },
                { id: 'outB', type: 'helper' },
            ];
        }

        it('shares one connection between the nodes of an account and delivers to each of them', async function () {
            await load(twoAccounts());
            const cfgA = helper.getNode('cfgA');
            await Promise.all([connected(cfgA), connected(helper.getNode('cfgB'))]);
            const sessionA = cfgA.account.session;
            assert.strictEqual(cfgA.account.userCount, 2);
            assert.strictEqual(sessionA.clientId, 'GID_IMS@@@UserA_test');
            assert.deepStrictEqual(
                Object.keys(sessionA.connection.subscriptions.all()).sort(),
                ['$IMS/capabilities', 'IMS/UserA/Inbox/#', 'IMS/p2p/GID_IMS@@@UserA_test'],
                "inbox, p2p and the broker's capabilities, held once for both nodes",
            );
            const [m1, m2] = await Promise.all([
                nextMessage(helper.getNode('outA1')),
                nextMessage(helper.getNode('outA2')),
                new Promise((resolve) => {
                    helper.getNode('chatB').receive({ topic: 'UserA', payload: 'hi A' });
                    resolve();
                }),
            ]);
            for (const msg of [m1, m2]) {
                assert.strictEqual(msg.payload, 'hi A');
                assert.strictEqual(msg.topic, 'UserB');
                assert.strictEqual(msg.ims.topic, 'IMS/UserA/Inbox/Chat/UserB');
                assert.strictEqual(msg.ims.verified, true);
            }
        });

        it('shows the connection status on every user node, and reconnects with its subscriptions restored', async function () {
            await load(twoAccounts());
            const chatA1 = helper.getNode('chatA1');
            const chatA2 = helper.getNode('chatA2');
            await Promise.all([connected(helper.getNode('cfgA')), connected(helper.getNode('cfgB'))]);
            assert.ok(green(chatA1.status.lastCall.args[0]));
            assert.ok(green(chatA2.status.lastCall.args[0]));
            assert.strictEqual(chatA1.status.lastCall.args[0].text, 'ims-config.status.connected');

            const down = Promise.all([chatA1, chatA2].map((n) => waitForStatus(n, (s) => s.fill === 'red' || s.fill === 'yellow')));
            await broker.stop();
            await down;
            const up = Promise.all([chatA1, chatA2].map((n) => waitForStatus(n, green, 10000)));
            await broker.start(broker.port);
            await up;
            await Promise.all([connected(helper.getNode('cfgA')), connected(helper.getNode('cfgB'))]);
            // The restarted broker has no memory of the sessions: only re-subscription makes this arrive.
            const received = nextMessage(helper.getNode('outA1'));
            helper.getNode('chatB').receive({ topic: 'UserA', payload: 'after restart' });
            assert.strictEqual((await received).payload, 'after restart');
        });

        it("sends device-addressed p2p, received on the device's own p2p topic", async function () {
            const flow = twoAccounts();
            flow.find((n) => n.id === 'chatA1').via = 'p2p';
            flow.find((n) => n.id === 'chatA1').clientId = 'GID_IMS@@@UserB_test';
            await load(flow);
            await Promise.all([connected(helper.getNode('cfgA')), connected(helper.getNode('cfgB'))]);
            const received = nextMessage(helper.getNode('outB'));
            helper.getNode('chatA1').receive({ topic: 'UserB', payload: 'to your phone' });
            const msg = await received;
            assert.strictEqual(msg.payload, 'to your phone');
            assert.strictEqual(msg.topic, 'UserA');
            assert.strictEqual(msg.ims.topic, 'IMS/p2p/GID_IMS@@@UserB_test');
            assert.strictEqual(msg.ims.verified, false, 'p2p names its sender only in the payload');
        });

        it('reports an invalid Client ID as a catchable error before connecting', async function () {
            await load([
                account('cfgBad', 'UserA', broker.url, { deviceId: 'bad@@@device' }),
                { id: 'chat', type: 'ims-chat', account: 'cfgBad', wires: [[]] },
                { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
                { id: 'caught', type: 'helper' },
            ]);
            const chat = helper.getNode('chat');
            assert.strictEqual(chat.status.lastCall.args[0].fill, 'red');
            assert.match(chat.status.lastCall.args[0].text, /device ID "bad@@@device" contains "@"/);
            assert.strictEqual(helper.getNode('cfgBad').account.session, undefined, 'nothing connects');
            const caught = nextMessage(helper.getNode('caught'));
            chat.receive({ topic: 'UserB', payload: 'x' });
            const msg = await caught;
            assert.match(msg.error.message, /Invalid device ID "bad@@@device"/);
            assert.strictEqual(msg.error.source.id, 'chat');
        });

        {
            it('speaks MQTT 5 with a session expiry', async function () {
                needs(this, kind, 'mqtt5');
                await load(twoAccounts({ protocolVersion: '5', sessionExpiry: '600' }, { protocolVersion: '5' }));
                await Promise.all([connected(helper.getNode('cfgA')), connected(helper.getNode('cfgB'))]);
                const options = helper.getNode('cfgA').account.session.connection.options;
                assert.strictEqual(options.protocolVersion, 5);
                assert.deepStrictEqual(options.properties, { sessionExpiryInterval: 600 });
                const received = nextMessage(helper.getNode('outB'));
                helper.getNode('chatA1').receive({ topic: 'UserB', payload: 'over v5' });
                assert.strictEqual((await received).payload, 'over v5');
            });
        }
    });
});

describe('ims-config without a broker', function () {
    afterEach(() => helper.unload());

    it('reports an unreachable broker to Catch nodes and fails sends with a clear error', async function () {
        const port = await freePort(); // nothing listens here
        await load([
            account('cfg', 'UserA', `mqtt://127.0.0.1:${port}`),
            { id: 'chat', type: 'ims-chat', account: 'cfg', wires: [[]] },
            { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
            { id: 'caught', type: 'helper' },
        ]);
        const chat = helper.getNode('chat');
        const caught = helper.getNode('caught');
        const first = await nextMessage(caught, 8000);
        assert.match(first.error.message, new RegExp(`ims-config.errors.connection`));
        assert.strictEqual(first.ims.event, 'connection-error');
        assert.match(first.payload, /ECONNREFUSED/);
        await waitForStatus(chat, (s) => s.fill === 'red', 3000).catch(() => assert.strictEqual(chat.status.lastCall.args[0].fill, 'red'));

        const failed = nextMessage(caught);
        chat.receive({ topic: 'UserB', payload: 'anyone there?' });
        const msg = await failed;
        assert.match(msg.error.message, new RegExp(`Not connected to mqtt://127.0.0.1:${port}: .*ECONNREFUSED`));
        assert.strictEqual(msg.payload, 'anyone there?', 'the failed message reaches the Catch node intact');
    });
});

describe('ims-config on a cloud MQ profile', function () {
    const accessKey = 'LTAI-test';
    const secretKey = 'not-on-the-wire';
    const instanceId = 'mqtt-cn-0pp0';
    const clientId = 'GID_IMS@@@DeviceID_A';
    // Computed independently of the package, with openssl.
    const expectedPassword = execSync(`printf '%s' '${clientId}' | openssl dgst -sha1 -hmac '${secretKey}' -binary | base64`)
        .toString()
        .trim();
    let broker;

    before(async function () {
        broker = await new AedesUnderTest({ username: `Signature|${accessKey}|${instanceId}`, password: expectedPassword }).start();
    });
    after(async function () {
        await broker.stop();
    });
    afterEach(() => helper.unload());

    function cloudFlow() {
        return [
            account('cfg', 'UserA', broker.url, { profile: 'cloud', deviceId: 'DeviceID_A', instanceId }),
            { id: 'chat', type: 'ims-chat', account: 'cfg', wires: [[]] },
            { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
            { id: 'caught', type: 'helper' },
        ];
    }

    it('logs in with the signature computed from AccessKey and SecretKey', async function () {
        await load(cloudFlow(), { cfg: { accessKey, secretKey } });
        const cfg = helper.getNode('cfg');
        await connected(cfg);
        assert.strictEqual(cfg.account.session.clientId, clientId);
        // No subscription to p2p under the cloud profile: the service delivers it without one.
        assert.deepStrictEqual(Object.keys(cfg.account.session.connection.subscriptions.all()), ['IMS/UserA/Inbox/#']);
    });

    it('is refused with a wrong SecretKey, and says so to Catch nodes', async function () {
        await load(cloudFlow(), { cfg: { accessKey, secretKey: 'wrong' } });
        const msg = await nextMessage(helper.getNode('caught'), 5000);
        assert.strictEqual(msg.ims.event, 'connection-error');
        assert.match(msg.payload, /Bad username or password|Not authorized/i);
    });

    it('applies the strict ID rules', async function () {
        await load(
            [
                account('cfg', '李娜', broker.url, { profile: 'cloud', deviceId: 'DeviceID_A' }),
                { id: 'chat', type: 'ims-chat', account: 'cfg', wires: [[]] },
            ],
            { cfg: { accessKey, secretKey } },
        );
        assert.match(helper.getNode('chat').status.lastCall.args[0].text, /outside A-Z/);
    });
});
