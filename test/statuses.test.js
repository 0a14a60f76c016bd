'use strict';
// Statuses that tell the truth: a red status clears when the node next succeeds, and an account whose
// subscription the broker refused is red with the refused topic (not green, not "Cannot connect"),
// here seen as a user sees it, in the editor of `npm start` with its real message catalogues.

const assert = require('assert');
const mqtt = require('mqtt');
const { AedesUnderTest } = require('./helpers/brokers');
const { helper, load, unloadAll, waitForStatus, connected } = require('./helpers/red');
const { accounts, imNode, record, catchNode } = require('./helpers/flows');
const { startNodeRed } = require('./helpers/editor');
const { Editor } = require('./helpers/admin');

describe('truthful statuses', function () {
    describe('a refused message, then a good one', function () {
        let broker;
        before(async function () {
            broker = await new AedesUnderTest().start();
        });
        after(async function () {
            await unloadAll();
            await broker.stop();
        });

        it('shows red for the refused message and clears when the next message is delivered', async function () {
            await load([...accounts(broker.url, ['A']), ...imNode('ims-chat', 'chatA', 'A'), ...catchNode()]);
            await connected(helper.getNode('cfgA'));
            const chatA = record('chatA');
            const caught = [];
            helper.getNode('caught').on('input', (m) => caught.push(m));
            const client = await mqtt.connectAsync(broker.url, { clientId: 'GID_IMS@@@B_statuses', reconnectPeriod: 0 });
            try {
                const red = waitForStatus(
                    helper.getNode('chatA'),
                    (s) => s.fill === 'red' && /^Message on IMS\/UserA\/Inbox\/Chat\/UserB is 307200/.test(s.text),
                );
                await client.publishAsync('IMS/UserA/Inbox/Chat/UserB', 'x'.repeat(300 * 1024), { qos: 1 });
                await red;
                const green = waitForStatus(helper.getNode('chatA'), (s) => s.fill === 'green');
                await client.publishAsync('IMS/UserA/Inbox/Chat/UserB', 'a normal message', { qos: 1 });
                assert.strictEqual((await chatA.next()).payload, 'a normal message');
                await green;
                assert.deepStrictEqual(
                    caught.map((m) => m.ims.code),
                    ['IMS_TOO_LARGE'],
                );
            } finally {
                await client.endAsync();
            }
        });
    });

    describe('a refused subscription, in the editor', function () {
        this.timeout(60000);
        let nodeRed;
        let editor;
        before(async function () {
            nodeRed = await startNodeRed({ demo: true });
            editor = await new Editor(nodeRed.url).open();
        });
        after(async function () {
            editor?.close();
            await nodeRed?.stop();
        });

        it('is red with the refused topic, and the error says refused, not "Cannot connect"', async function () {
            // Alice5's account on the demo broker is in Beijing; this account claims Hangzhou.
            const tab = { id: 'refused-tab', type: 'tab', label: 'refused' };
            await editor.add([
                tab,
                {
                    id: 'refused-cfg',
                    type: 'ims-config',
                    version: 1,
                    url: '${IMS_MQTT_URL}',
                    userId: 'Alice5',
                    deviceId: 'Alice5_refused',
                    region: 'Hangzhou',
                    credentials: { password: '${IMS_EXAMPLE_PASSWORD}' },
                },
                { id: 'refused-push', type: 'ims-broadcast', version: 1, z: tab.id, account: 'refused-cfg', x: 200, y: 100, wires: [[]] },
                { id: 'refused-dbg', type: 'debug', z: tab.id, active: true, tosidebar: true, x: 400, y: 100, wires: [] },
            ]);
            const status = await editor.until(
                () => (editor.status.get('refused-push')?.fill === 'red' ? editor.status.get('refused-push') : undefined),
                20000,
                'a red status',
            );
            assert.deepStrictEqual([status.shape, status.text], ['ring', 'refused: IMS/System/Hangzhou']);
            const error = await editor.until(() => editor.problems(new Set(['refused-push']))[0], 10000, 'the error');
            assert.strictEqual(error.msg, "The broker refused Alice5's subscription to IMS/System/Hangzhou");
        });
    });
});
