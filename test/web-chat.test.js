'use strict';
// The web chat client at /ims/chat, in headless Chromium, as people use it: Alice, Bob and Carol in
// three browser contexts at once at phone size, on the secured demo broker of a real Node-RED started
// as `npm start` starts it (MQTT over WebSocket), with the demo Bot. Screenshots of every screen go to
// test/artifacts/web-*.png.

const assert = require('assert');
const path = require('path');
const { CHROMIUM, ARTIFACTS, startNodeRed } = require('./helpers/editor');
const { webStage } = require('./helpers/web-stage');

const PASSWORDS = { Alice: 'alice-pass', Bob: 'bob-pass', Carol: 'carol-pass' };
const PHONE = { width: 375, height: 667 };

if (!CHROMIUM) {
    console.log('    (web chat tests skipped: no Chromium at /usr/bin/chromium; `apt-get install chromium` runs them, as .ci/run does)');
}

(CHROMIUM ? describe : describe.skip)('web chat client in Chromium', function () {
    this.timeout(120000);
    const stage = webStage('web');
    const people = stage.people;

    /** A person in a browser context of their own, signed in (in `locale`'s language). */
    async function signIn(user, { locale = 'en-US', labels = EN, shot } = {}) {
        const context = await stage.browser.newContext({ viewport: PHONE, locale });
        const page = await context.newPage();
        const errors = [];
        page.on('pageerror', (error) => errors.push(error.message));
        await page.goto(`${stage.nodeRed.url}ims/chat`);
        assert.strictEqual(
            await page.getByLabel(labels.broker).inputValue(),
            `ws://127.0.0.1:${stage.nodeRed.wsPort}/mqtt`,
            'the URL of this Node-RED’s broker',
        );
        await page.getByLabel(labels.user).fill(user);
        await page.getByLabel(labels.password).fill(PASSWORDS[user]);
        if (shot) await page.screenshot({ path: path.join(ARTIFACTS, `${shot}.png`) });
        await page.getByRole('button', { name: labels.signIn }).click();
        await page.getByRole('button', { name: labels.contacts }).waitFor({ timeout: 15000 });
        const person = { user, context, page, errors };
        people.push(person);
        return person;
    }

    const EN = { broker: 'Broker URL', user: 'User ID', password: 'Password', signIn: 'Sign in', contacts: 'Contacts' };
    /** A screenshot of the screen, after checking that every control on it has an accessible name. */
    const shot = async (person, name) => {
        const unnamed = await person.page.evaluate(() =>
            [...document.querySelectorAll('button, input, select')]
                .filter(
                    (el) => !(el.getAttribute('aria-label') || el.closest('label') || (el.tagName === 'BUTTON' && el.textContent.trim())),
                )
                .map((el) => el.outerHTML),
        );
        assert.deepStrictEqual(unnamed, [], `controls without an accessible name on ${name}`);
        await person.page.screenshot({ path: path.join(ARTIFACTS, `web-${name}.png`) });
    };
    const tab = (person, name) => person.page.getByRole('button', { name, exact: true }).click();
    const open = async (person, peer) => {
        await tab(person, 'Chats');
        await person.page.getByRole('listitem', { name: peer, exact: true }).click();
        await person.page.getByRole('heading', { name: peer }).waitFor();
    };
    const say = async (person, text) => {
        await person.page.getByLabel('Message', { exact: true }).fill(text);
        await person.page.getByRole('button', { name: 'Send', exact: true }).click();
    };
    const bubble = (person, text) => person.page.locator('.message', { hasText: text });

    async function befriend(asker, asked) {
        await tab(asker, 'Contacts');
        await asker.page.getByLabel('Friend’s user ID').fill(asked.user);
        await asker.page.getByRole('button', { name: 'Add friend' }).click();
        await tab(asked, 'Contacts');
        await asked.page.getByRole('button', { name: `Accept ${asker.user}` }).click({ timeout: 10000 });
        await asked.page.getByRole('list', { name: 'Friends' }).getByRole('listitem', { name: asker.user }).waitFor();
        await tab(asker, 'Chats');
        await asker.page.getByRole('listitem', { name: asked.user, exact: true }).waitFor({ timeout: 10000 });
    }

    it('is served under httpNodeRoot, and without an ims-broker suggests the usual WebSocket port', async function () {
        const other = await startNodeRed({ env: { IMS_HTTP_NODE_ROOT: '/api' } });
        const context = await stage.browser.newContext({ viewport: PHONE, locale: 'en-US' });
        try {
            assert.strictEqual((await fetch(`${other.url}ims/chat/`)).status, 404);
            const page = await context.newPage();
            await page.goto(`${other.url}api/ims/chat`);
            assert.strictEqual(new URL(page.url()).pathname, '/api/ims/chat/');
            assert.strictEqual(await page.getByLabel('Broker URL').inputValue(), 'ws://127.0.0.1:1884/mqtt');
            await page.getByRole('button', { name: 'Sign in' }).waitFor();
        } finally {
            await context.close();
            await other.stop();
        }
    });

    it('refuses a wrong password and an invalid user ID on the sign-in screen, saying why', async function () {
        const context = await stage.browser.newContext({ viewport: PHONE, locale: 'en-US' });
        try {
            const page = await context.newPage();
            await page.goto(`${stage.nodeRed.url}ims/chat`);
            await page.getByLabel('User ID').fill('Alice');
            await page.getByLabel('Password').fill('not-her-password');
            await page.getByRole('button', { name: 'Sign in' }).click();
            // The broker's CONNACK says what is wrong (it used to be lost with the WebSocket's close, and
            // the client could only name every suspect).
            await page
                .getByRole('alert')
                .filter({ hasText: /^Sign-in failed: the user ID or the password is wrong$/ })
                .waitFor({ timeout: 15000 });
            await page.getByLabel('User ID').fill('Alice Smith');
            await page.getByRole('button', { name: 'Sign in' }).click();
            await page.getByRole('alert').filter({ hasText: 'Sign-in failed: Invalid user ID "Alice Smith" contains a space' }).waitFor();
            await page.screenshot({ path: path.join(ARTIFACTS, 'web-sign-in-refused.png') });
        } finally {
            await context.close();
        }
    });

    it('Alice and Bob befriend, chat both ways with ticks turning read, typing, replies, edit and recall', async function () {
        const alice = await signIn('Alice', { shot: 'web-sign-in' });
        const bob = await signIn('Bob');
        await befriend(alice, bob);
        await tab(bob, 'Contacts');
        await shot(bob, 'contacts');

        await open(alice, 'Bob');
        await say(alice, 'Hi Bob');
        await bubble(alice, 'Hi Bob')
            .getByLabel('sent', { exact: true })
            .or(bubble(alice, 'Hi Bob').getByLabel('delivered', { exact: true }))
            .waitFor();
        // Bob sees it in his list with an unread badge, then opens it: Alice's tick turns "read".
        await tab(bob, 'Chats');
        const row = bob.page.getByRole('listitem', { name: 'Alice', exact: true });
        await row.getByLabel('1 unread').waitFor({ timeout: 10000 });
        assert.match(await row.innerText(), /Alice: Hi Bob/);
        await shot(bob, 'conversations');
        await open(bob, 'Alice');
        await bubble(alice, 'Hi Bob').getByLabel('read', { exact: true }).waitFor({ timeout: 10000 });
        await bob.page.getByRole('separator').getByText('Today').waitFor();

        // Bob types: Alice sees it; Bob replies to her message.
        await bob.page.getByLabel('Message', { exact: true }).fill('Hi Al');
        await alice.page.getByText('Bob is typing…').waitFor({ timeout: 10000 });
        await bob.page.getByRole('button', { name: 'Reply: Hi Bob' }).click();
        await say(bob, 'Hi Alice, how are you?');
        const reply = bubble(alice, 'Hi Alice, how are you?');
        await reply.waitFor({ timeout: 10000 });
        assert.strictEqual(await reply.locator('blockquote').innerText(), 'Alice: Hi Bob');
        await bubble(bob, 'Hi Alice, how are you?').getByLabel('read', { exact: true }).waitFor({ timeout: 10000 });
        assert.strictEqual(await alice.page.getByText('Bob is typing…').count(), 0, 'typing ends with the message');

        // Alice edits her message, then recalls it; Bob sees both.
        await alice.page.getByRole('button', { name: 'Edit: Hi Bob' }).click();
        await say(alice, 'Hi Bob!!');
        await bubble(bob, 'Hi Bob!!').getByText('edited').waitFor({ timeout: 10000 });
        await shot(alice, 'conversation');
        await alice.page.getByRole('button', { name: 'Recall: Hi Bob!!' }).click();
        await bob.page
            .locator('.message.recalled, .message .text.recalled', { hasText: 'This message was recalled' })
            .first()
            .waitFor({ timeout: 10000 });
        assert.strictEqual(await bubble(bob, 'Hi Bob!!').count(), 0);
        await shot(bob, 'recalled');
        assert.deepStrictEqual([...alice.errors, ...bob.errors], []);
    });

    it('a picture Alice attaches is scaled down and shown to Bob; a file arrives as a download; one too large is refused, saying so', async function () {
        const [alice, bob] = people;
        await open(alice, 'Bob');
        await open(bob, 'Alice');
        const attach = async (file) => {
            const [chooser] = await Promise.all([
                alice.page.waitForEvent('filechooser'),
                alice.page.getByRole('button', { name: 'Attach', exact: true }).click(),
            ]);
            await chooser.setFiles(file);
        };
        // A 1600×1200 photo-like PNG (noise does not compress): megabytes, far over the 180 KiB limit.
        const photo = Buffer.from(
            await alice.page.evaluate(() => {
                const canvas = document.createElement('canvas');
                canvas.width = 1600;
                canvas.height = 1200;
                const context = canvas.getContext('2d');
                const pixels = context.createImageData(canvas.width, canvas.height);
                for (let i = 0; i < pixels.data.length; i += 4) {
                    const x = (i / 4) % canvas.width;
                    pixels.data[i] = (x / canvas.width) * 255;
                    pixels.data[i + 1] = Math.random() * 255;
                    pixels.data[i + 2] = 128;
                    pixels.data[i + 3] = 255;
                }
                context.putImageData(pixels, 0, 0);
                return canvas.toDataURL('image/png').split(',')[1];
            }),
            'base64',
        );
        assert.ok(photo.length > 1024 * 1024, `the photo is ${photo.length} bytes`);
        await attach({ name: 'photo.png', mimeType: 'image/png', buffer: photo });
        const picture = bob.page.getByRole('img', { name: 'photo.jpg' });
        await picture.waitFor({ timeout: 15000 });
        const shown = await picture.evaluate((img) => ({ complete: img.complete, width: img.naturalWidth, height: img.naturalHeight }));
        assert.ok(shown.complete && shown.width > 0 && shown.width <= 1600, JSON.stringify(shown));
        assert.strictEqual(Math.round((shown.width / shown.height) * 100), 133, 'the picture keeps its proportions');
        await alice.page.getByRole('img', { name: 'photo.jpg' }).waitFor();
        await shot(bob, 'picture');
        // Bob's browser keeps the picture's description and thumbnail, not the file (storage is small).
        const kept = await bob.page.waitForFunction(() => {
            for (const key of Object.keys(localStorage)) {
                const saved = JSON.parse(localStorage.getItem(key));
                for (const conversation of Object.values(saved.conversations ?? {})) {
                    const item = conversation.items.find((i) => i.attachment?.name === 'photo.jpg');
                    if (item) return item.attachment;
                }
            }
            return null;
        });
        const info = await kept.jsonValue();
        assert.deepStrictEqual(Object.keys(info).sort(), ['height', 'name', 'size', 'thumb', 'type', 'width']);
        assert.strictEqual(Buffer.from(info.thumb, 'base64').subarray(0, 3).toString('hex'), 'ffd8ff', 'a JPEG thumbnail');

        await attach({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('Meeting at 10') });
        const download = bob.page.getByRole('link', { name: 'Download notes.txt' });
        await download.waitFor({ timeout: 10000 });
        const href = await download.getAttribute('href');
        assert.strictEqual(Buffer.from(href.split(',')[1], 'base64').toString(), 'Meeting at 10');

        await attach({ name: 'big.txt', mimeType: 'text/plain', buffer: Buffer.alloc(300 * 1024, 0x41) });
        await alice.page
            .getByRole('alert')
            .filter({ hasText: /"big\.txt" is 300 KiB: a file can be at most 180 KiB/ })
            .waitFor({ timeout: 10000 });
        assert.strictEqual(await bob.page.getByText('big.txt').count(), 0);
        assert.deepStrictEqual([...alice.errors, ...bob.errors], []);
    });

    it('a group is created, joined by invitation and used; a moment is posted and seen; a block takes effect', async function () {
        const [alice, bob] = people;
        const carol = await signIn('Carol');

        await tab(alice, 'Groups');
        await alice.page.getByLabel('Group ID').fill('GroupFriends');
        await alice.page.getByRole('button', { name: 'New group' }).click();
        const card = alice.page.getByRole('region', { name: 'GroupFriends' });
        for (const user of ['Bob', 'Carol']) {
            await card.getByLabel('User ID to invite').fill(user);
            await card.getByRole('button', { name: 'Invite' }).click();
            // The field empties once the invitation is out.
            await alice.page.waitForFunction(() => document.getElementById('invite-GroupFriends').value === '');
        }
        for (const person of [bob, carol]) {
            await tab(person, 'Groups');
            await person.page.getByRole('button', { name: 'Join GroupFriends' }).click({ timeout: 10000 });
        }
        // The members come from the broker's list ($IMS/groups/GroupFriends): Carol joined last and saw
        // neither Alice create the group nor Bob join, yet lists both.
        const members = (person) =>
            person.page.getByRole('region', { name: 'GroupFriends' }).getByRole('list', { name: 'Members of GroupFriends' });
        for (const person of [alice, carol]) {
            for (const user of ['Alice', 'Bob', 'Carol'])
                await members(person).getByRole('listitem', { name: user }).waitFor({ timeout: 10000 });
        }
        assert.deepStrictEqual(await members(carol).getByRole('listitem').allInnerTexts(), ['Alice', 'Bob', 'Carol']);
        await shot(carol, 'groups');
        await open(carol, 'GroupFriends');
        await say(carol, 'Hello group');
        await open(alice, 'GroupFriends');
        await bubble(alice, 'Hello group').waitFor({ timeout: 10000 });
        await open(bob, 'GroupFriends');
        await bubble(bob, 'Hello group').waitFor({ timeout: 10000 });
        await bubble(carol, 'Hello group').getByText('read by 2').waitFor({ timeout: 10000 });
        await shot(carol, 'group');

        // Friends follow each other's moments; Carol follows Bob by hand.
        await tab(carol, 'Moments');
        await carol.page.getByLabel('User ID to follow').fill('Bob');
        await carol.page.getByRole('button', { name: 'Follow', exact: true }).click();
        await carol.page.getByRole('button', { name: 'Unfollow Bob' }).waitFor();
        await tab(bob, 'Moments');
        await bob.page.getByLabel('What’s new?').fill('Sunny in Beijing');
        await bob.page.getByRole('button', { name: 'Post' }).click();
        for (const person of [alice, carol]) {
            await tab(person, 'Moments');
            await person.page.getByRole('list', { name: 'Moments' }).getByText('Sunny in Beijing').waitFor({ timeout: 10000 });
        }
        await shot(alice, 'moments');

        // Bob blocks Alice: she is told, and his next moment reaches Carol but not her.
        await tab(bob, 'Contacts');
        await bob.page.getByRole('button', { name: 'Alice', exact: true }).click();
        await bob.page.getByRole('button', { name: 'Block' }).click();
        await bob.page.getByText('You blocked this user').waitFor();
        await shot(bob, 'contact');
        await tab(alice, 'Chats');
        await alice.page.getByRole('listitem', { name: 'System notices' }).getByText('Bob blocked you').waitFor({ timeout: 10000 });
        await bob.page.getByRole('button', { name: 'Moments', exact: true }).click();
        await bob.page.getByLabel('What’s new?').fill('Only for some');
        await bob.page.getByRole('button', { name: 'Post' }).click();
        await carol.page.getByText('Only for some').waitFor({ timeout: 10000 });
        await tab(alice, 'Moments');
        assert.strictEqual(await alice.page.getByText('Only for some').count(), 0, 'the blocked user does not see it');
        assert.deepStrictEqual([...alice.errors, ...bob.errors, ...carol.errors], []);
    });

    it('Alice chats with the demo Bot', async function () {
        const [alice] = people;
        await tab(alice, 'Contacts');
        await alice.page.getByLabel('Friend’s user ID').fill('Bot');
        await alice.page.getByRole('button', { name: 'Add friend' }).click();
        await tab(alice, 'Chats');
        await alice.page.getByRole('listitem', { name: 'Bot', exact: true }).waitFor({ timeout: 15000 });
        await open(alice, 'Bot');
        await say(alice, 'hello');
        await bubble(alice, 'Hello! I am Bot').waitFor({ timeout: 15000 });
        // The demo bot marks what it answers as read.
        await alice.page.locator('.message.own', { hasText: 'hello' }).getByLabel('read', { exact: true }).waitFor({ timeout: 10000 });
        await shot(alice, 'bot');
    });

    it('shows a banner while the broker restarts, reconnects by itself, and loses nothing sent meanwhile', async function () {
        const [alice, bob] = people;
        await open(alice, 'Bob');
        await open(bob, 'Alice');
        // A full reload of the flows stops and starts the ims-broker node (its sessions are on disk).
        const reload = fetch(`${stage.nodeRed.url}flows`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'reload', 'Node-RED-API-Version': 'v1' },
            body: '[]',
        });
        const banner = alice.page.getByRole('status').filter({ hasText: /reconnecting|Connecting/ });
        await banner.waitFor({ timeout: 15000 });
        await shot(alice, 'reconnecting');
        await say(bob, 'Sent while you were away');
        assert.strictEqual((await reload).status, 204);
        await bubble(alice, 'Sent while you were away').waitFor({ timeout: 20000 });
        await banner.waitFor({ state: 'detached', timeout: 10000 });
        // Sent once the connection was back (Bob blocked Alice earlier, so her receipts no longer count for him).
        await bubble(bob, 'Sent while you were away').getByLabel('sent', { exact: true }).waitFor({ timeout: 10000 });
    });

    it('speaks Chinese when the browser does, and switches to English', async function () {
        const carolZh = await signIn('Carol', {
            locale: 'zh-CN',
            labels: { broker: '服务器地址', user: '用户 ID', password: '密码', signIn: '登录', contacts: '通讯录' },
            shot: 'web-zh-sign-in',
        });
        const page = carolZh.page;
        // A new device knows nothing yet (history is not on the broker yet): Carol adds Bot here.
        await page.getByRole('button', { name: '通讯录', exact: true }).click();
        await page.getByLabel('好友的用户 ID').fill('Bot');
        await page.getByRole('button', { name: '添加好友' }).click();
        await page.getByRole('button', { name: '会话', exact: true }).click();
        await page.getByRole('listitem', { name: 'Bot', exact: true }).click({ timeout: 15000 });
        await page.getByLabel('消息', { exact: true }).fill('你好');
        await page.getByRole('button', { name: '发送', exact: true }).click();
        await page.locator('.message', { hasText: '我是 Bot' }).waitFor({ timeout: 15000 });
        await page.locator('.message.own', { hasText: '你好' }).getByLabel('已读', { exact: true }).waitFor({ timeout: 10000 });
        await page.getByRole('separator').getByText('今天').waitFor();
        await page.screenshot({ path: path.join(ARTIFACTS, 'web-zh-conversation.png') });
        await page.getByRole('button', { name: '朋友圈', exact: true }).click();
        await page.getByRole('button', { name: '发表' }).waitFor();
        await page.screenshot({ path: path.join(ARTIFACTS, 'web-zh-moments.png') });
        await page.getByRole('button', { name: '群组', exact: true }).click();
        await page.getByRole('button', { name: '新建群组' }).waitFor();
        await page.getByLabel('语言').selectOption('en');
        await page.getByRole('button', { name: 'New group' }).waitFor();
        assert.deepStrictEqual(carolZh.errors, []);
    });
});
