'use strict';
// The broker's history service (issue 14): what a user's devices get back from the embedded broker,
// over real sockets, as plain MQTT clients. Attacks on it are in history-attacks.test.js.

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { EmbeddedBroker } = require('../nodes/lib/broker');
const { ImsSession } = require('../nodes/lib/session');
const { connectAs, envelope, nextOn } = require('./helpers/mqtt-clients');
const { ask, historyTopics, texts } = require('./helpers/history');
const { until } = require('./helpers/wait');

const ACCOUNTS = [
    { user: 'Alice', password: 'alice-pass' },
    { user: 'Bob', password: 'bob-pass' },
    { user: 'Carol', password: 'carol-pass' },
];
const PASSWORD = Object.fromEntries(ACCOUNTS.map((a) => [a.user, a.password]));
const { historyBroker } = require('./helpers/history');

describe('history and multi-device sync (embedded broker)', function () {
    this.timeout(30000);
    const f = historyBroker(ACCOUNTS);
    const { start, as, chat } = f;
    let dirs;

    /** The package's own client (ImsSession), as the nodes and the web client use it. */
    async function session(userId, deviceId, extra = {}) {
        const s = new ImsSession({
            userId,
            deviceId,
            presence: false,
            broker: {
                url: `mqtt://127.0.0.1:${f.broker.port}`,
                username: userId,
                password: PASSWORD[userId],
                clean: true,
                reconnectPeriod: 200,
            },
            ...extra,
        });
        sessions.push(s);
        await s.login();
        await s.connection.whenConnected(5000);
        return s;
    }
    async function chats(client, from, to, count, prefix = 'm') {
        const sent = [];
        for (let i = 1; i <= count; i++) sent.push(await chat(client, from, to, `${prefix}${i}`));
        await f.broker.history.settled();
        return sent;
    }

    let sessions;
    beforeEach(() => {
        dirs = [];
        sessions = [];
    });
    afterEach(async () => {
        await Promise.all(sessions.map((s) => s.logout().catch(() => undefined)));
        await f.stop();
        for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('announces history and keeps both sides of a 1:1 chat in one order every device sees', async () => {
        await start();
        assert.strictEqual(f.broker.capabilities.history, true);
        const alice = await as('Alice');
        const bob = await as('Bob');
        await chat(alice, 'Alice', 'Bob', 'hi Bob');
        await chat(bob, 'Bob', 'Alice', 'hi Alice');
        await chat(alice, 'Alice', 'Bob', 'how are you?');
        await f.broker.history.settled();
        // Alice's second device, signed in later, sees the whole conversation.
        const laptop = await as('Alice', 'laptop');
        const page = await ask(laptop, 'Alice', 'laptop', { op: 'page', conversation: 'u:Bob' });
        assert.strictEqual(page.ok, true);
        assert.deepStrictEqual(texts(page), ['hi Bob', 'hi Alice', 'how are you?']);
        assert.deepStrictEqual(
            page.entries.map((e) => e.seq),
            [1, 2, 3],
        );
        assert.deepStrictEqual(
            page.entries.map((e) => e.message.from),
            ['Alice', 'Bob', 'Alice'],
        );
        const phone = await ask(alice, 'Alice', 'dev1', { op: 'page', conversation: 'u:Bob' });
        assert.deepStrictEqual(phone.entries, page.entries, 'every device of Alice gets the same order');
        const bobs = await ask(bob, 'Bob', 'dev1', { op: 'page', conversation: 'u:Alice' });
        assert.deepStrictEqual(texts(bobs), ['hi Bob', 'hi Alice', 'how are you?']);
        const list = await ask(laptop, 'Alice', 'laptop', { op: 'conversations' });
        assert.deepStrictEqual(
            list.conversations.map((c) => [c.conversation, c.lastSeq, c.unread, c.last.message.text]),
            [['u:Bob', 3, 1, 'how are you?']],
        );
    });

    it("delivers what one device sends to the user's other devices, and nothing to others", async () => {
        await start();
        const phone = await as('Alice', 'phone');
        const laptop = await as('Alice', 'laptop');
        const carol = await as('Carol');
        const { sync } = await historyTopics(laptop, 'Alice', 'laptop');
        await carol.subscribeAsync('IMS/Carol/#', { qos: 1 });
        const sent = await chat(phone, 'Alice', 'Bob', 'from my phone');
        const [, body] = await nextOn(laptop, sync);
        const push = JSON.parse(body);
        assert.strictEqual(push.op, 'entry');
        assert.strictEqual(push.conversation, 'u:Bob');
        assert.strictEqual(push.entry.message.id, sent.id);
        assert.strictEqual(push.entry.message.text, 'from my phone');
        await chat(carol, 'Carol', 'Carol', 'marker');
        assert.ok(await until(() => carol.received.some(([t]) => t === 'IMS/Carol/Inbox/Chat/Carol')));
        assert.ok(!carol.received.some(([t]) => t.includes('History')), 'Carol got none of Alice’s history');
    });

    it('keeps a greeting sent through a virtual group in the conversation with each member, without the list', async () => {
        await start();
        const alice = await as('Alice');
        const bob = await as('Bob');
        const greeting = envelope({ type: 'greeting', from: 'Alice', text: 'happy new year', data: { members: ['Bob', 'Carol'] } });
        await alice.publishAsync('IMS/Alice/Greet/team', greeting, { qos: 1 });
        await f.broker.history.settled();
        const bobs = await ask(bob, 'Bob', 'dev1', { op: 'page', conversation: 'u:Alice' });
        assert.deepStrictEqual(texts(bobs), ['happy new year']);
        assert.strictEqual(bobs.entries[0].message.type, 'greeting');
        assert.strictEqual(bobs.entries[0].message.data?.members, undefined, 'Bob does not learn who else was greeted');
        const toCarol = await ask(alice, 'Alice', 'dev1', { op: 'page', conversation: 'u:Carol' });
        assert.deepStrictEqual(texts(toCarol), ['happy new year']);
        assert.deepStrictEqual(f.refusals, []);
    });

    it('after a reconnect, "since" returns exactly what was missed', async () => {
        await start();
        const alice = await as('Alice');
        const bob = await as('Bob');
        await chats(bob, 'Bob', 'Alice', 3, 'before');
        const first = await ask(alice, 'Alice', 'dev1', { op: 'since', after: {} });
        assert.deepStrictEqual(
            first.conversations.map((c) => [c.conversation, c.lastSeq]),
            [['u:Bob', 3]],
        );
        await alice.endAsync();
        await chats(bob, 'Bob', 'Alice', 2, 'missed');
        await chats(bob, 'Bob', 'Carol', 1, 'to carol');
        const back = await as('Alice');
        const since = await ask(back, 'Alice', 'dev1', { op: 'since', after: { 'u:Bob': 3 } });
        assert.strictEqual(since.conversations.length, 1);
        assert.deepStrictEqual(texts(since.conversations[0]), ['missed1', 'missed2']);
        assert.strictEqual(since.conversations[0].more, false);
        const nothing = await ask(back, 'Alice', 'dev1', { op: 'since', after: { 'u:Bob': 5 } });
        assert.deepStrictEqual(nothing.conversations, []);
    });

    it('pages back from the newest, and each page ends where the next starts', async () => {
        await start();
        const alice = await as('Alice');
        await chats(alice, 'Alice', 'Bob', 120);
        const newest = await ask(alice, 'Alice', 'dev1', { op: 'page', conversation: 'u:Bob', limit: 50 });
        assert.strictEqual(newest.entries.length, 50);
        assert.strictEqual(newest.entries[0].seq, 71);
        assert.strictEqual(newest.entries[49].message.text, 'm120');
        assert.strictEqual(newest.more, true);
        const older = await ask(alice, 'Alice', 'dev1', { op: 'page', conversation: 'u:Bob', before: 71, limit: 50 });
        assert.deepStrictEqual([older.entries[0].seq, older.entries[49].seq], [21, 70]);
        const oldest = await ask(alice, 'Alice', 'dev1', { op: 'page', conversation: 'u:Bob', before: 21, limit: 50 });
        assert.deepStrictEqual(
            texts(oldest),
            Array.from({ length: 20 }, (_, i) => `m${i + 1}`),
        );
        assert.strictEqual(oldest.more, false);
        await chats(alice, 'Alice', 'Bob', 100, 'n');
        const huge = await ask(alice, 'Alice', 'dev1', { op: 'page', conversation: 'u:Bob', limit: 100000 });
        assert.strictEqual(huge.entries.length, 200, 'a page holds at most MAX_PAGE (200) entries');
        assert.deepStrictEqual([huge.entries[0].seq, huge.more], [21, true]);
    });

    it('keeps at most historyPerConversation messages, the newest', async () => {
        await start({ limits: { historyPerConversation: 10 } });
        const alice = await as('Alice');
        await chats(alice, 'Alice', 'Bob', 25);
        const page = await ask(alice, 'Alice', 'dev1', { op: 'page', conversation: 'u:Bob', limit: 200 });
        assert.deepStrictEqual(
            page.entries.map((e) => e.seq),
            Array.from({ length: 10 }, (_, i) => 16 + i),
        );
        assert.strictEqual(page.lastSeq, 25);
    });

    it('keeps nothing and announces no history with historyPerConversation 0', async () => {
        await start({ limits: { historyPerConversation: 0 } });
        assert.strictEqual(f.broker.capabilities.history, false);
        assert.strictEqual(f.broker.history, undefined);
        const alice = await as('Alice');
        await assert.rejects(ask(alice, 'Alice', 'dev1', { op: 'conversations' }, 700), /no history answer/);
    });

    it('applies edits and recalls to the stored message and keeps them as entries of their own', async () => {
        await start();
        const alice = await as('Alice');
        const [first, second] = await chats(alice, 'Alice', 'Bob', 2);
        await alice.publishAsync(
            'IMS/Bob/Inbox/Chat/Alice',
            envelope({ type: 'edit', from: 'Alice', text: 'm1 (fixed)', data: { target: first.id } }),
        );
        await alice.publishAsync('IMS/Bob/Inbox/Chat/Alice', envelope({ type: 'recall', from: 'Alice', data: { target: second.id } }));
        await alice.publishAsync('IMS/Bob/Inbox/Chat/Alice', envelope({ type: 'typing', from: 'Alice', data: { state: 'typing' } }), {
            qos: 1,
        });
        await f.broker.history.settled();
        const bob = await as('Bob');
        const page = await ask(bob, 'Bob', 'dev1', { op: 'page', conversation: 'u:Alice' });
        assert.deepStrictEqual(
            page.entries.map((e) => e.message.type),
            ['chat', 'chat', 'edit', 'recall'],
            'typing is never stored',
        );
        assert.strictEqual(page.entries[0].message.text, 'm1 (fixed)');
        assert.ok(page.entries[0].edited > 0);
        assert.strictEqual(page.entries[1].recalled, true);
        assert.strictEqual(page.entries[1].message.text, undefined);
    });

    it('keeps a group conversation once, in one order for every member', async () => {
        await start();
        const alice = await as('Alice');
        const bob = await as('Bob');
        await alice.subscribeAsync('IMS/Group1/#', { qos: 1 });
        await alice.publishAsync(
            'IMS/Bob/Inbox/Group/Invite/Alice',
            envelope({ type: 'group.invite', from: 'Alice', data: { group: 'Group1' } }),
            {
                qos: 1,
            },
        );
        await bob.subscribeAsync('IMS/Group1/#', { qos: 1 });
        await alice.publishAsync('IMS/Group1/Alice', envelope({ type: 'group.message', from: 'Alice', text: 'welcome' }), { qos: 1 });
        await bob.publishAsync('IMS/Group1/Bob', envelope({ type: 'group.message', from: 'Bob', text: 'thanks' }), { qos: 1 });
        await f.broker.history.settled();
        const carol = await as('Carol');
        const forCarol = await ask(carol, 'Carol', 'dev1', { op: 'page', conversation: 'g:Group1' });
        assert.strictEqual(forCarol.ok, false);
        assert.strictEqual(forCarol.error.code, 'IMS_FORBIDDEN');
        for (const [client, user] of [
            [alice, 'Alice'],
            [bob, 'Bob'],
        ]) {
            const page = await ask(client, user, 'dev1', { op: 'page', conversation: 'g:Group1' });
            assert.deepStrictEqual(texts(page), ['welcome', 'thanks']);
        }
        const list = await ask(bob, 'Bob', 'dev1', { op: 'conversations' });
        assert.deepStrictEqual(
            list.conversations.map((c) => [c.conversation, c.unread]),
            [['g:Group1', 1]],
        );
    });

    it("unread counts agree across a user's devices: a read mark on one reaches the others", async () => {
        await start();
        const phone = await as('Alice', 'phone');
        const laptop = await as('Alice', 'laptop');
        const bob = await as('Bob');
        const sent = await chats(bob, 'Bob', 'Alice', 3);
        const { sync } = await historyTopics(laptop, 'Alice', 'laptop');
        const before = await ask(laptop, 'Alice', 'laptop', { op: 'conversations' });
        assert.strictEqual(before.conversations[0].unread, 3);
        // The phone reads up to the second message: a read receipt to Bob with upTo.
        await phone.publishAsync(
            'IMS/Bob/Inbox/Chat/Alice',
            envelope({ type: 'receipt', from: 'Alice', data: { status: 'read', upTo: sent[1].id } }),
            {
                qos: 1,
            },
        );
        const [, body] = await nextOn(laptop, sync);
        assert.deepStrictEqual(JSON.parse(body), { v: 1, op: 'read', conversation: 'u:Bob', readUpTo: 2, unread: 1 });
        const after = await ask(laptop, 'Alice', 'laptop', { op: 'conversations' });
        assert.deepStrictEqual([after.conversations[0].readUpTo, after.conversations[0].unread], [2, 1]);
        const page = await ask(phone, 'Alice', 'phone', { op: 'page', conversation: 'u:Bob' });
        assert.deepStrictEqual([page.readUpTo, page.unread], [2, 1]);
    });

    it('a disk-backed broker keeps history, read marks and the sequence across a restart', async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-history-'));
        dirs.push(dir);
        await start({ storeDir: dir });
        let alice = await as('Alice');
        const sent = await chats(alice, 'Alice', 'Bob', 3);
        const bob = await as('Bob');
        await bob.publishAsync(
            'IMS/Alice/Inbox/Chat/Bob',
            envelope({ type: 'receipt', from: 'Bob', data: { status: 'read', upTo: sent[2].id } }),
            {
                qos: 1,
            },
        );
        await f.broker.history.settled();
        await f.stop();
        await start({ storeDir: dir });
        alice = await as('Alice');
        await chats(alice, 'Alice', 'Bob', 1, 'after');
        const page = await ask(alice, 'Alice', 'dev1', { op: 'page', conversation: 'u:Bob' });
        assert.deepStrictEqual(texts(page), ['m1', 'm2', 'm3', 'after1']);
        assert.deepStrictEqual(
            page.entries.map((e) => e.seq),
            [1, 2, 3, 4],
        );
        const bobAgain = await as('Bob');
        const list = await ask(bobAgain, 'Bob', 'dev1', { op: 'conversations' });
        assert.deepStrictEqual(
            list.conversations.map((c) => [c.conversation, c.readUpTo, c.unread]),
            [['u:Alice', 3, 1]],
        );
    });

    it('a disk-backed broker keeps the count bound too', async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-history-'));
        dirs.push(dir);
        await start({ storeDir: dir, limits: { historyPerConversation: 5 } });
        const alice = await as('Alice');
        await chats(alice, 'Alice', 'Bob', 12);
        const page = await ask(alice, 'Alice', 'dev1', { op: 'page', conversation: 'u:Bob' });
        assert.deepStrictEqual(texts(page), ['m8', 'm9', 'm10', 'm11', 'm12']);
        const since = await ask(alice, 'Alice', 'dev1', { op: 'since', after: { 'u:Bob': 2 }, limit: 3 });
        assert.deepStrictEqual(texts(since.conversations[0]), ['m8', 'm9', 'm10']);
        assert.strictEqual(since.conversations[0].more, true);
    });

    it("the session's history client: a later device pages back, learns what another device sent, times out on a plain broker", async () => {
        await start();
        const phone = await session('Alice', 'phone');
        const bob = await session('Bob', 'bobphone');
        for (let i = 1; i <= 5; i++) await phone.sendChat('Bob', { text: `a${i}` });
        await bob.sendChat('Alice', { text: 'b1' });
        await f.broker.history.settled();
        const laptop = await session('Alice', 'laptop');
        assert.strictEqual(await laptop.history.available(), true);
        const newest = await laptop.history.page({ kind: 'user', id: 'Bob' }, { limit: 3 });
        assert.deepStrictEqual(texts(newest), ['a4', 'a5', 'b1']);
        assert.strictEqual(newest.more, true);
        const older = await laptop.history.page('u:Bob', { before: newest.entries[0].seq, limit: 3 });
        assert.deepStrictEqual(texts(older), ['a1', 'a2', 'a3']);
        const [summary] = await laptop.history.conversations();
        assert.deepStrictEqual([summary.conversation, summary.unread, summary.last.message.text], ['u:Bob', 1, 'b1']);
        const synced = new Promise((resolve) => laptop.history.on('sync', resolve));
        await laptop.history.start();
        const sent = await phone.sendChat('Bob', { text: 'a6' });
        const sync = await synced;
        assert.deepStrictEqual([sync.op, sync.conversation, sync.entry.message.id], ['entry', 'u:Bob', sent.id]);
        const missed = await laptop.history.since({ 'u:Bob': older.lastSeq });
        assert.deepStrictEqual(texts(missed[0]), ['a6']);
        // A malformed request's error reaches the caller as an ImsError.
        await assert.rejects(laptop.history.page('u:Bob', { limit: -1 }), (error) => error.code === 'IMS_MALFORMED');
    });

    it('the history client times out with IMS_TIMEOUT where no broker answers (history off)', async () => {
        await start({ limits: { historyPerConversation: 0 } });
        const alice = await session('Alice', 'phone');
        const short = new (require('../nodes/lib/historyClient').HistoryClient)(
            {
                userId: 'Alice',
                deviceId: 'phone',
                codec: alice.codec,
                hold: (owner, topics) => alice.hold(owner, topics),
                capabilities: () => alice.capabilities(),
                publishRaw: (topic, payload, qos) => alice.connection.publish(topic, payload, { qos }),
            },
            500,
        );
        assert.strictEqual(await short.available(), false);
        await assert.rejects(short.conversations(), (error) => error.code === 'IMS_TIMEOUT');
    });
});

describe('history in a cluster: two instances sharing a real redis-server', function () {
    this.timeout(30000);
    let redis;
    let instances;
    let clients;

    before(async () => {
        redis = await new (require('./helpers/redis').RedisUnderTest)().start();
    });
    after(async () => {
        await redis?.stop();
    });
    beforeEach(async () => {
        await redis.flush();
        clients = [];
        instances = [];
        for (let i = 0; i < 2; i++) {
            instances.push(
                await EmbeddedBroker.start({
                    port: 0,
                    security: { accounts: ACCOUNTS },
                    redisUrl: redis.url,
                    limits: { historyPerConversation: 30 },
                }),
            );
        }
    });
    afterEach(async () => {
        await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
        await Promise.all(instances.map((b) => b.close()));
    });
    async function on(index, user, device) {
        const client = await connectAs(`mqtt://127.0.0.1:${instances[index].port}`, user, PASSWORD[user], {
            clientId: `GID_IMS@@@${user}_${device}`,
        });
        clients.push(client);
        return client;
    }
    const settled = () => Promise.all(instances.map((b) => b.history.settled()));

    it('every instance answers with the same conversation, in one order, bounded, with marks and pushes across instances', async () => {
        assert.strictEqual(instances[0].capabilities.history, true);
        const alice = await on(0, 'Alice', 'phone');
        const bob = await on(1, 'Bob', 'phone');
        const laptop = await on(1, 'Alice', 'laptop');
        const { sync } = await historyTopics(laptop, 'Alice', 'laptop');
        const sent = [];
        for (let i = 1; i <= 20; i++) {
            const [client, from, to] = i % 2 ? [alice, 'Alice', 'Bob'] : [bob, 'Bob', 'Alice'];
            const body = JSON.parse(envelope({ type: 'chat', from, to, text: `m${i}` }));
            await client.publishAsync(`IMS/${to}/Inbox/Chat/${from}`, JSON.stringify(body), { qos: 1 });
            sent.push(body);
        }
        // Alice's phone (instance A) sent m1: her laptop (instance B) hears of it.
        const [, first] = await nextOn(laptop, sync);
        assert.strictEqual(JSON.parse(first).entry.message.text, 'm1');
        await settled();
        const fromA = await ask(alice, 'Alice', 'phone', { op: 'page', conversation: 'u:Bob', limit: 200 });
        const fromB = await ask(laptop, 'Alice', 'laptop', { op: 'page', conversation: 'u:Bob', limit: 200 });
        assert.deepStrictEqual(fromA.entries, fromB.entries);
        assert.deepStrictEqual(
            fromA.entries.map((e) => e.seq),
            Array.from({ length: 20 }, (_, i) => i + 1),
        );
        assert.deepStrictEqual(new Set(texts(fromA)), new Set(sent.map((m) => m.text)));
        // Bob's mark, set through instance B, is read through instance A.
        await bob.publishAsync(
            'IMS/Alice/Inbox/Chat/Bob',
            envelope({ type: 'receipt', from: 'Bob', data: { status: 'read', upTo: sent[18].id } }),
            {
                qos: 1,
            },
        );
        await settled();
        const bobOnA = await on(0, 'Bob', 'laptop');
        // Publishes taken by two instances are numbered in the order Redis saw them (not always the
        // order they were sent): the mark is the seq Bob's history gives the message he named.
        const bobs = await ask(bobOnA, 'Bob', 'laptop', { op: 'page', conversation: 'u:Alice', limit: 200 });
        const marked = bobs.entries.find((e) => e.message.id === sent[18].id).seq;
        const unread = bobs.entries.filter((e) => e.seq > marked && e.message.from === 'Alice').length;
        const list = await ask(bobOnA, 'Bob', 'laptop', { op: 'conversations' });
        assert.deepStrictEqual(
            list.conversations.map((c) => [c.conversation, c.lastSeq, c.readUpTo, c.unread]),
            [['u:Alice', 20, marked, unread]],
        );
        // The bound holds in Redis: 30 kept of 40.
        for (let i = 21; i <= 40; i++)
            await alice.publishAsync('IMS/Bob/Inbox/Chat/Alice', envelope({ type: 'chat', from: 'Alice', text: `m${i}` }), { qos: 1 });
        await settled();
        const bounded = await ask(bobOnA, 'Bob', 'laptop', { op: 'page', conversation: 'u:Alice', limit: 200 });
        assert.deepStrictEqual([bounded.entries.length, bounded.entries[0].seq, bounded.lastSeq], [30, 11, 40]);
    });
});
