'use strict';
// Broker account passwords stay secret: the accounts list keeps salted scrypt hashes, the broker checks
// them (and the plain passwords of flows saved before hashes) over a real socket, remembers a right
// login without ever accepting a wrong one, and the editor, in Chromium on npm start, never receives a
// password: not the demo's, not one the user types into the dialog.

const assert = require('assert');
const { hashPassword, isPasswordHash } = require('../nodes/lib/broker');
const { AedesUnderTest } = require('./helpers/brokers');
const { connectAs, refusedCode } = require('./helpers/mqtt-clients');
const { CHROMIUM, startNodeRed, openEditor } = require('./helpers/editor');

/** CONNACK 4: bad user name or password. */
const BAD_LOGIN = 4;

async function logsIn(url, user, password) {
    const client = await connectAs(url, user, password, { clientId: `GID_IMS@@@${user}_pw` });
    await client.endAsync();
    return true;
}

describe('broker account passwords', function () {
    this.timeout(30000);

    it('hashes a password with a fresh salt each time, in the stored form', async function () {
        const [a, b] = [await hashPassword('alice-pass'), await hashPassword('alice-pass')];
        assert.match(a, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
        assert.notStrictEqual(a, b, 'salted');
        assert.ok(!a.includes('alice-pass'));
        assert.strictEqual(isPasswordHash(a), true);
        assert.strictEqual(isPasswordHash('alice-pass'), false);
    });

    describe('over a real socket', function () {
        let broker;
        let check;
        before(async function () {
            broker = await new AedesUnderTest({
                // Wrong passwords on purpose: no back-off (loginThrottle has tests of its own).
                limits: { failedLoginsPerUser: 1000, failedLoginsPerAddress: 1000 },
                security: {
                    accounts: [
                        { user: 'Alice', passwordHash: await hashPassword('alice-pass') },
                        // As a flow saved before hashes has it.
                        { user: 'Bob', password: 'bob-pass' },
                    ],
                },
            }).start();
            // The broker's login cache, read to show that a repeated login does not pay the hash again.
            check = broker.broker.secured.passwords;
        });
        after(async function () {
            await broker.stop();
        });

        it('logs in with the right password, whether hashed or (older flows) plain', async function () {
            assert.strictEqual(await logsIn(broker.url, 'Alice', 'alice-pass'), true);
            assert.strictEqual(await logsIn(broker.url, 'Bob', 'bob-pass'), true);
        });

        it('refuses a wrong password, also after a right login was remembered', async function () {
            await logsIn(broker.url, 'Alice', 'alice-pass');
            const hashed = check.hashesComputed;
            assert.strictEqual(await logsIn(broker.url, 'Alice', 'alice-pass'), true);
            assert.strictEqual(check.hashesComputed, hashed, 'a repeated right login is not hashed again');
            assert.strictEqual(await refusedCode(broker.url, 'Alice', 'alice-pas'), BAD_LOGIN);
            assert.strictEqual(await refusedCode(broker.url, 'Alice', 'alice-pass '), BAD_LOGIN);
            assert.strictEqual(await refusedCode(broker.url, 'Alice', ''), BAD_LOGIN);
            assert.strictEqual(await refusedCode(broker.url, 'Bob', 'alice-pass'), BAD_LOGIN);
            // The stored hash itself is no password.
            assert.strictEqual(await refusedCode(broker.url, 'Alice', broker.broker.secured.accounts.get('Alice').passwordHash), BAD_LOGIN);
        });

        it('forgets a remembered login when the password changes', async function () {
            await logsIn(broker.url, 'Alice', 'alice-pass');
            broker.broker.setAccount({ user: 'Alice', passwordHash: await hashPassword('new-alice-pass') });
            assert.strictEqual(await refusedCode(broker.url, 'Alice', 'alice-pass'), BAD_LOGIN);
            assert.strictEqual(await logsIn(broker.url, 'Alice', 'new-alice-pass'), true);
        });
    });

    (CHROMIUM ? describe : describe.skip)('in the editor, on npm start', function () {
        this.timeout(120000);
        const SECRETS = ['bot-pass', 'alice-pass', 'bob-pass', 'carol-pass', 'example-pass', 'zed-secret-77'];
        let nodeRed;
        let editor;
        let page;
        /** Every response body the editor received, as text. */
        const received = [];

        before(async function () {
            nodeRed = await startNodeRed({ demo: true });
            editor = await openEditor(nodeRed.url);
            page = editor.page;
            page.on('response', (response) => {
                received.push(
                    response.text().then(
                        (text) => ({ url: response.url(), text }),
                        () => ({ url: response.url(), text: '' }),
                    ),
                );
            });
        });
        after(async function () {
            if (editor) await editor.close();
            if (nodeRed) await nodeRed.stop();
        });

        const openBrokerDialog = async () => {
            await page.evaluate(() => RED.editor.edit(RED.nodes.filterNodes({ type: 'ims-broker' })[0]));
            await page.waitForSelector('#node-input-accounts-list li');
        };

        it('shows each account\'s password as "set", adds one, and the new account logs in with it alone', async function () {
            await openBrokerDialog();
            const rows = await page.evaluate(() =>
                $('#node-input-accounts-list li')
                    .map((i, li) => ({
                        user: $(li).find('.ims-account-user').val(),
                        value: $(li).find('.ims-account-password').val(),
                        placeholder: $(li).find('.ims-account-password').attr('placeholder'),
                    }))
                    .get(),
            );
            const alice = rows.find((r) => r.user === 'Alice');
            assert.deepStrictEqual([alice.value, alice.placeholder], ['', 'set: type to replace']);
            assert.ok(
                rows.every((r) => r.value === ''),
                'no password in the dialog',
            );

            await page.click('.node-input-accounts-list-row .red-ui-editableList-addButton');
            const row = page.locator('#node-input-accounts-list li').last();
            await row.locator('.ims-account-user').fill('Zed');
            await row.locator('.ims-account-password').fill('zed-secret-77');
            await page.click('#node-dialog-ok');
            await page.waitForSelector('#node-input-accounts-list', { state: 'detached' });
            await page.click('#red-ui-header-button-deploy');
            await page.waitForFunction(() => !RED.nodes.dirty(), null, { timeout: 15000 });

            // The redeployed broker has Zed: a right login once it is up, a wrong one refused.
            const url = `mqtt://127.0.0.1:${nodeRed.mqttPort}`;
            const deadline = Date.now() + 20000;
            let inside = false;
            while (!inside) {
                inside = await logsIn(url, 'Zed', 'zed-secret-77').catch((error) => {
                    if (Date.now() > deadline) throw error;
                    return new Promise((r) => setTimeout(r, 200)).then(() => false); // the broker restarts
                });
            }
            assert.strictEqual(await refusedCode(url, 'Zed', 'zed-secret-78'), BAD_LOGIN);
            // The demo's accounts still log in with their documented passwords.
            assert.strictEqual(await logsIn(url, 'Carol', 'carol-pass'), true);
        });

        it('never received a password: not in the credentials, not in any response', async function () {
            await openBrokerDialog();
            await page.click('#node-dialog-cancel');
            const broker = await page.evaluate(() => RED.nodes.filterNodes({ type: 'ims-broker' })[0].id);
            const creds = await (await fetch(`${nodeRed.url}credentials/ims-broker/${broker}`)).json();
            const accounts = JSON.parse(creds.accounts);
            assert.ok(accounts.length >= 5, 'the demo, the examples and Zed');
            for (const account of accounts) {
                assert.strictEqual(account.password, undefined, account.user);
                assert.strictEqual(isPasswordHash(account.passwordHash), true, account.user);
            }
            const bodies = await Promise.all(received);
            assert.ok(
                bodies.some((b) => b.url.includes('/credentials/ims-broker/')),
                'the editor read the accounts list',
            );
            for (const { url, text } of bodies) {
                // The demo's passwords are documented (its info text shows them): no credentials carry
                // them. The password typed into the dialog comes back in no response at all.
                const secrets = url.includes('/credentials/') ? SECRETS : ['zed-secret-77'];
                for (const secret of secrets) assert.ok(!text.includes(secret), `${secret} in ${url}`);
            }
        });
    });
});
