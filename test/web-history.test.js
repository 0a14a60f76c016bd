'use strict';
// The web chat client with the broker's history (issue 14), in headless Chromium on the secured demo
// broker of a real Node-RED started as `npm start` starts it: a second device of the same user, signed
// in later in another browser context, gets the history; what one device sends shows on the other; a
// conversation read on one device is read on the other; scrolling back fetches older pages.

const assert = require('assert');
const path = require('path');
const { CHROMIUM, ARTIFACTS } = require('./helpers/editor');
const { webStage } = require('./helpers/web-stage');

const PASSWORDS = { Alice: 'alice-pass', Bob: 'bob-pass' };
const PHONE = { width: 375, height: 667 };

if (!CHROMIUM) {
    console.log('    (web history tests skipped: no Chromium at /usr/bin/chromium; `apt-get install chromium` runs them, as .ci/run does)');
}

(CHROMIUM ? describe : describe.skip)('web chat client with the broker’s history, in Chromium', function () {
    this.timeout(120000);
    const stage = webStage('web-history');
    const people = stage.people;

    /** A person on a device of their own (a browser context), signed in. */
    async function signIn(user, device) {
        const context = await stage.browser.newContext({ viewport: PHONE, locale: 'en-US' });
        const page = await context.newPage();
        const errors = [];
        page.on('pageerror', (error) => errors.push(error.message));
        await page.goto(`${stage.nodeRed.url}ims/chat`);
        await page.getByLabel('User ID').fill(user);
        await page.getByLabel('Password').fill(PASSWORDS[user]);
        await page.getByLabel('Device name').fill(device);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('button', { name: 'Contacts' }).waitFor({ timeout: 15000 });
        const person = { user, context, page, errors };
        people.push(person);
        return person;
    }
    const tab = (person, name) => person.page.getByRole('button', { name, exact: true }).click();
    const row = (person, peer) => person.page.getByRole('listitem', { name: peer, exact: true });
    const open = async (person, peer) => {
        await tab(person, 'Chats');
        await row(person, peer).click();
        await person.page.getByRole('heading', { name: peer }).waitFor();
    };
    const say = async (person, text) => {
        await person.page.getByLabel('Message', { exact: true }).fill(text);
        await person.page.getByRole('button', { name: 'Send', exact: true }).click();
    };
    const bubble = (person, text) => person.page.locator('.message', { hasText: text });

    it('a second device signed in later sees the history, what the other sends, and the same unread count', async function () {
        const phone = await signIn('Alice', 'AlicePhone');
        const bob = await signIn('Bob', 'BobPhone');
        // Befriend, then Bob writes three messages while Alice's phone shows the conversation list.
        await tab(phone, 'Contacts');
        await phone.page.getByLabel('Friend’s user ID').fill('Bob');
        await phone.page.getByRole('button', { name: 'Add friend' }).click();
        await tab(bob, 'Contacts');
        await bob.page.getByRole('button', { name: 'Accept Alice' }).click({ timeout: 10000 });
        await tab(phone, 'Chats');
        await row(phone, 'Bob').waitFor({ timeout: 10000 });
        await open(bob, 'Alice');
        for (const text of ['one', 'two', 'three']) await say(bob, text);
        await row(phone, 'Bob').getByLabel('3 unread').waitFor({ timeout: 10000 });

        // Alice's laptop: a new browser, nothing stored in it; the broker's history fills it.
        const laptop = await signIn('Alice', 'AliceLaptop');
        await tab(laptop, 'Chats');
        await row(laptop, 'Bob').getByLabel('3 unread').waitFor({ timeout: 10000 });
        assert.match(await row(laptop, 'Bob').innerText(), /Bob: three/);
        await laptop.page.screenshot({ path: path.join(ARTIFACTS, 'web-history-second-device.png') });
        // Reading on the laptop clears the phone's badge too.
        await open(laptop, 'Bob');
        for (const text of ['one', 'two', 'three']) await bubble(laptop, text).waitFor();
        await row(phone, 'Bob').locator('.badge').waitFor({ state: 'detached', timeout: 10000 });
        // What the laptop sends shows in the phone's conversation, as Alice's own message.
        await say(laptop, 'sent from the laptop');
        await open(phone, 'Bob');
        await bubble(phone, 'sent from the laptop').waitFor({ timeout: 10000 });
        assert.ok((await bubble(phone, 'sent from the laptop').getAttribute('class')).includes('own'), 'shown as Alice’s own');
        await bubble(bob, 'sent from the laptop').waitFor({ timeout: 10000 });
        await phone.page.screenshot({ path: path.join(ARTIFACTS, 'web-history-sent-elsewhere.png') });
        // An edit made on the laptop shows on the phone too, on the same message (not as a new one).
        await laptop.page.getByRole('button', { name: 'Edit: sent from the laptop' }).click();
        await say(laptop, 'changed on the laptop');
        await bubble(phone, 'changed on the laptop').getByText('edited').waitFor({ timeout: 10000 });
        assert.strictEqual(await bubble(phone, 'sent from the laptop').count(), 0);
        assert.deepStrictEqual([...phone.errors, ...laptop.errors, ...bob.errors], []);
    });

    it('scrolls back through pages the broker keeps', async function () {
        const bob = people.find((p) => p.user === 'Bob');
        // 60 more messages from Bob (64 in all): a third device gets the newest 50, the rest on "Earlier messages".
        await open(bob, 'Alice');
        for (let i = 1; i <= 60; i++) await say(bob, `old ${i}.`);
        await bubble(bob, 'old 60.').waitFor();
        const tablet = await signIn('Alice', 'AliceTablet');
        await open(tablet, 'Bob');
        await bubble(tablet, 'old 60.').waitFor({ timeout: 10000 });
        assert.strictEqual(await bubble(tablet, 'old 1.').count(), 0, 'the oldest are not fetched yet');
        // The newest 50 of 64 are here; scrolling to the top brings the 14 before them (infinite scroll),
        // in place: the message that was at the top stays in view. Nothing is left to fetch then.
        await tablet.page.getByRole('button', { name: 'Earlier messages' }).waitFor();
        await tablet.page.locator('.messages').evaluate((list) => (list.scrollTop = 0));
        await bubble(tablet, 'old 1.').waitFor({ timeout: 10000 });
        await bubble(tablet, 'old 11.').waitFor();
        const inView = await bubble(tablet, 'old 11.').evaluate((message) => {
            const list = message.closest('.messages').getBoundingClientRect();
            const box = message.getBoundingClientRect();
            return box.bottom > list.top && box.top < list.bottom;
        });
        assert.ok(inView, 'the message read last is still in view: the page arrived above it');
        await bubble(tablet, 'one').waitFor();
        await tablet.page.getByRole('button', { name: 'Earlier messages' }).waitFor({ state: 'detached' });
        assert.strictEqual(await tablet.page.locator('.message').count(), 64);
        await tablet.page.screenshot({ path: path.join(ARTIFACTS, 'web-history-scrolled-back.png') });
        assert.deepStrictEqual(tablet.errors, []);
    });
});
