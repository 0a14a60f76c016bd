'use strict';
// Nothing is lost between the dialog and the runtime: for every node type, every field of its dialog is
// set in Chromium, Done, the dialog reopened (it shows what was set), the node exported (the export has
// it) and deployed (the runtime's flow has it, and its credentials). A field added to a node's defaults
// without a value here fails the test, so no field can be dropped unnoticed again.

const assert = require('assert');
const { CHROMIUM, startNodeRed, openEditor } = require('./helpers/editor');
const pkg = require('../package.json');
const { currentVersion } = require('../nodes/lib/migrations');
const { isPasswordHash } = require('../nodes/lib/broker');

/** For each node type: a value for every setting in its defaults (typed inputs are set as strings). */
const VALUES = {
    'ims-config': {
        name: 'Alice on her phone',
        url: 'mqtt://127.0.0.1:18830',
        protocolVersion: '5',
        keepalive: '30',
        cleanSession: true,
        sessionExpiry: '3600',
        reconnectPeriod: '5000',
        userId: 'Alice',
        deviceId: 'Alice_phone',
        mqGroupId: 'GID_TEST',
        parentTopic: 'APP',
        groupPrefix: 'Team',
        profile: 'cloud',
        region: 'Beijing',
        instanceId: 'instance-1',
        qos: '2',
        maxPayload: '1000',
        subscriptionLimit: '63',
        receiveOwn: true,
        shareGroup: 'bots',
        presence: false,
        contextStore: 'memory',
    },
    'ims-chat': { name: 'to Bob', to: 'Bob', via: 'p2p', clientId: 'GID_TEST@@@Bob_1', chatEvents: true },
    'ims-friend-request': { name: 'accept Bob', action: 'accept', to: 'Bob', autoAccept: true },
    'ims-moments': { name: 'follow Bob', action: 'follow', user: 'Bob' },
    'ims-group': { name: 'invite', action: 'invite', group: 'Team7', invitees: 'Bob, Carol', autoJoin: true, chatEvents: true },
    'ims-broadcast': { name: 'push', action: 'push', region: 'Beijing', recipients: 'Bob, Carol', rate: '5' },
    'ims-login': { name: 'log out', action: 'logout', autoLogin: false },
    'ims-broker': {
        name: 'my broker',
        port: '18831',
        host: 'localhost',
        wsPort: '18832',
        wsPath: '/ws',
        security: true,
        mqSemantics: true,
        parentTopic: 'APP',
        groupPrefix: 'Team',
        groupIds: 'GID_A, GID_B',
        persist: false,
        redisUrl: 'redis://127.0.0.1:6379',
        maxPacketBytes: '100001',
        maxConnectBytes: '100002',
        maxQueuedBytes: '100003',
        subscriptionsPerClient: '101',
        filtersPerSubscribe: '108',
        connectionsPerUser: '109',
        groupsPerUser: '110',
        devicesPerUser: '102',
        membersPerVirtualGroup: '103',
        failedLoginsPerUser: '104',
        failedLoginsPerAddress: '105',
        connectionsPerAddress: '106',
        connectTimeoutMs: '107',
        queuedPerSession: '111',
        queuedPerSender: '112',
        historyPerConversation: '113',
        historyMaxAgeDays: '114',
        historyRequestsPerMinute: '115',
    },
};
/** Accounts without their secrets (the list keeps salted hashes, never the password typed in). */
const withoutSecrets = (accounts) =>
    accounts.map((account) => Object.fromEntries(Object.entries(account).filter(([key]) => !/^password/.test(key))));
/** Settings a dialog does not show as a field of its own: the version, the `<x>Type` of typed inputs, the account and TLS pickers. */
const NOT_FIELDS = /^(version|account|tls|\w+Type)$/;
const CREDENTIALS = {
    'ims-config': { user: 'alice-login', password: 'secret-1', accessKey: 'AK1', secretKey: 'SK1' },
    'ims-broker': { user: 'admin', password: 'secret-2' },
};
const ACCOUNTS = [
    { user: 'Alice', password: 'alice-pass', attributes: { region: 'Hangzhou' } },
    { user: 'Ops', password: 'ops-pass', system: true },
];

(CHROMIUM ? describe : describe.skip)('editor round trip: dialog, Done, reopen, export, deploy', function () {
    this.timeout(90000);
    let nodeRed;
    let editor;
    let page;

    before(async function () {
        nodeRed = await startNodeRed();
        editor = await openEditor(nodeRed.url);
        page = editor.page;
        await page.evaluate(() => {
            RED.view.importNodes([{ id: 'rt-cfg', type: 'ims-config', userId: 'Bob', url: 'mqtt://127.0.0.1:1883' }]);
        });
    });
    after(async function () {
        if (editor) await editor.close();
        if (nodeRed) await nodeRed.stop();
    });

    /** Sets (or, without `values`, reads) the dialog's fields, by the ids Node-RED gives them. */
    const dialog = (prefix, values, keys) =>
        page.evaluate(
            ({ prefix, values, keys }) => {
                const out = {};
                for (const key of keys) {
                    const input = $(`#${prefix}-${key}`);
                    if (input.length === 0) {
                        out[key] = '(no field)';
                        continue;
                    }
                    const typed = Boolean(input.data('noderedTypedInput'));
                    const checkbox = input.is(':checkbox');
                    if (values) {
                        if (typed) input.typedInput('value', values[key]);
                        else if (checkbox) input.prop('checked', values[key]);
                        else input.val(values[key]);
                        input.trigger('change');
                    }
                    out[key] = typed ? input.typedInput('value') : checkbox ? input.is(':checked') : input.val();
                }
                return out;
            },
            { prefix, values, keys },
        );

    it('has a value for every setting of every node type', async function () {
        const defaults = await page.evaluate(
            (types) => Object.fromEntries(types.map((t) => [t, Object.keys(RED.nodes.getType(t).defaults)])),
            Object.keys(pkg['node-red'].nodes),
        );
        for (const [type, keys] of Object.entries(defaults)) {
            const fields = keys.filter((k) => !NOT_FIELDS.test(k)).sort();
            assert.deepStrictEqual(Object.keys(VALUES[type]).sort(), fields, `${type}: values for every field`);
        }
    });

    for (const type of Object.keys(VALUES)) {
        it(`${type}: every field survives Done, reopening, export and deploy`, async function () {
            const values = VALUES[type];
            const keys = Object.keys(values);
            const config = type === 'ims-config';
            const prefix = config ? 'node-config-input' : 'node-input';
            const id = `rt-${type}`;
            await page.evaluate(
                ({ id, type, config }) => {
                    const node = { id, type, x: 300, y: 100, z: RED.workspaces.active() };
                    if (config) RED.view.importNodes([{ id, type }]);
                    else RED.view.importNodes([type === 'ims-broker' ? node : { ...node, account: 'rt-cfg' }]);
                    if (config) RED.editor.editConfig('', type, id);
                    else RED.editor.edit(RED.nodes.node(id));
                },
                { id, type, config },
            );
            await page.waitForSelector(`#${prefix}-name`, { state: 'attached' });
            const set = await dialog(prefix, values, keys);
            assert.deepStrictEqual(set, values, `${type}: the dialog took every value`);
            // Credentials, some on a tab not shown: typed in as values, as the dialog reads them.
            await dialog(prefix, CREDENTIALS[type] || {}, Object.keys(CREDENTIALS[type] || {}));
            if (type === 'ims-broker') {
                for (const account of ACCOUNTS) {
                    await page.click('.node-input-accounts-list-row .red-ui-editableList-addButton');
                    const row = page.locator('#node-input-accounts-list li').last();
                    await row.locator('.ims-account-user').fill(account.user);
                    await row.locator('.ims-account-password').fill(account.password);
                    if (account.system) await row.locator('.ims-account-system').check();
                    if (account.attributes) await row.locator('.ims-account-attributes').fill('region=Hangzhou');
                }
            }
            const ok = config ? '#node-config-dialog-ok' : '#node-dialog-ok';
            await page.click(ok);
            await page.waitForSelector(`#${prefix}-name`, { state: 'detached' });

            // Reopen: the dialog shows every value.
            await page.evaluate(
                ({ id, type, config }) => (config ? RED.editor.editConfig('', type, id) : RED.editor.edit(RED.nodes.node(id))),
                {
                    id,
                    type,
                    config,
                },
            );
            await page.waitForSelector(`#${prefix}-name`, { state: 'attached' });
            assert.deepStrictEqual(await dialog(prefix, null, keys), values, `${type}: the reopened dialog`);
            if (type === 'ims-broker') {
                const rows = await page.evaluate(() => JSON.parse(window.ImsEditor.accountsJson($('#node-input-accounts-list'))));
                assert.deepStrictEqual(withoutSecrets(rows), withoutSecrets(ACCOUNTS), 'the accounts list, reopened');
                assert.ok(
                    rows.every((a) => isPasswordHash(a.passwordHash)),
                    'each password kept as its hash',
                );
            }
            await editor.screenshot(`roundtrip-${type}`);
            await page.click(config ? '#node-config-dialog-cancel' : '#node-dialog-cancel');
            await page.waitForSelector(`#${prefix}-name`, { state: 'detached' });

            // Export: what Export → Clipboard writes.
            const exported = await page.evaluate((id) => RED.nodes.createExportableNodeSet([RED.nodes.node(id)])[0], id);
            for (const [key, value] of Object.entries(values)) {
                assert.strictEqual(String(exported[key]), String(value), `${type}: exported ${key}`);
            }
            assert.strictEqual(exported.version, currentVersion(type), `${type}: exported version`);
        });
    }

    it('deploys all of them: the runtime has every setting and every credential', async function () {
        // Disabled first, so nothing listens or connects (the settings name fixed ports); the runtime
        // keeps a disabled node's settings all the same. Then Deploy, as the button does.
        await page.evaluate(() => {
            RED.nodes.eachNode((n) => {
                if (n.id.startsWith('rt-')) {
                    n.d = true;
                    n.changed = true;
                }
            });
            RED.nodes.dirty(true);
        });
        await page.click('#red-ui-header-button-deploy');
        await page
            .waitForSelector('.red-ui-deploy-dialog-confirm-button, #red-ui-header-button-deploy.disabled', { timeout: 5000 })
            .catch(() => undefined);
        const confirm = await page.$('.ui-dialog-buttonset button:has-text("Confirm deploy")');
        if (confirm) await confirm.click();
        await page.waitForFunction(() => !RED.nodes.dirty(), null, { timeout: 15000 });
        const flows = await (await fetch(`${nodeRed.url}flows`, { headers: { 'Node-RED-API-Version': 'v1' } })).json();
        for (const [type, values] of Object.entries(VALUES)) {
            const node = flows.find((n) => n.id === `rt-${type}`);
            assert.ok(node, `${type} deployed`);
            for (const [key, value] of Object.entries(values))
                assert.strictEqual(String(node[key]), String(value), `${type}: deployed ${key}`);
        }
        const broker = await (await fetch(`${nodeRed.url}credentials/ims-broker/rt-ims-broker`)).json();
        assert.deepStrictEqual(
            [broker.user, withoutSecrets(JSON.parse(broker.accounts)), broker.has_password],
            ['admin', withoutSecrets(ACCOUNTS), true],
        );
        assert.ok(!ACCOUNTS.some((a) => broker.accounts.includes(a.password)), 'no password in the deployed accounts');
        const account = await (await fetch(`${nodeRed.url}credentials/ims-config/rt-ims-config`)).json();
        assert.deepStrictEqual(
            [account.user, account.accessKey, account.has_password, account.has_secretKey],
            ['alice-login', 'AK1', true, true],
        );
    });

    it('brings an imported 0.1.0 node to the current version, keeping its settings', async function () {
        const node = await page.evaluate(() => {
            RED.view.importNodes([
                {
                    id: 'old-group',
                    type: 'ims-group',
                    account: 'rt-cfg',
                    action: 'join',
                    group: 'Team9',
                    x: 300,
                    y: 300,
                    z: RED.workspaces.active(),
                },
            ]);
            const n = RED.nodes.node('old-group');
            return { version: n.version, action: n.action, group: n.group };
        });
        assert.deepStrictEqual(node, { version: 1, action: 'join', group: 'Team9' });
    });

    it('brings an imported version 1 account to version 2, without its virtual groups box', async function () {
        const node = await page.evaluate(() => {
            RED.view.importNodes([
                { id: 'old-cfg', type: 'ims-config', version: 1, userId: 'Dan', url: 'mqtt://127.0.0.1:1883', virtualGroups: true },
            ]);
            const n = RED.nodes.node('old-cfg');
            const exported = RED.nodes.createExportableNodeSet([n])[0];
            return { version: n.version, userId: n.userId, exportedVersion: exported.version, box: 'virtualGroups' in exported };
        });
        assert.deepStrictEqual(node, { version: 2, userId: 'Dan', exportedVersion: 2, box: false });
    });

    it('raised no error in the page', function () {
        assert.deepStrictEqual(editor.errors, []);
    });
});
