'use strict';
// Attacks on the broker's history service (issue 14), in the style of attacks.test.js: each attack a
// hostile user (Mallory) tries as a plain MQTT client against the real broker, with its honest twin
// beside it, which must keep working.

const assert = require('assert');
const { grants, envelope, nextOn } = require('./helpers/mqtt-clients');
const { ask, historyBroker, historyTopics, texts } = require('./helpers/history');
const { until } = require('./helpers/wait');

const ACCOUNTS = [
    { user: 'Alice', password: 'alice-pass' },
    { user: 'Bob', password: 'bob-pass' },
    { user: 'Mallory', password: 'mallory-pass' },
];

describe('attacks on the history service', function () {
    this.timeout(30000);
    const f = historyBroker(ACCOUNTS);
    const { as, chat } = f;
    const start = (limits = {}) => f.start({ limits });

    /** Alice and Bob with a conversation of two messages; returns the clients and Bob's message. */
    async function conversation() {
        const alice = await as('Alice');
        const bob = await as('Bob');
        await chat(alice, 'Alice', 'Bob', 'secret for Bob');
        const fromBob = await chat(bob, 'Bob', 'Alice', 'secret for Alice');
        await f.broker.history.settled();
        return { alice, bob, fromBob };
    }

    beforeEach(() => start());
    afterEach(() => f.stop());

    it("refuses reading another user's history: their request topic, their answer topic, wildcards", async () => {
        const { alice } = await conversation();
        const mallory = await as('Mallory');
        // Subscribing Alice's answers, or everyone's, is refused; '#' and '+' levels too.
        assert.deepStrictEqual(
            await grants(mallory, [
                'IMS/Alice/History/Resp/dev1',
                'IMS/Alice/History/#',
                'IMS/+/History/#',
                '#',
                'IMS/Alice/#',
                'IMS/Alice/History/Sync',
            ]),
            [128, 128, 128, 128, 128, 128],
        );
        // Asking on Alice's request topic is refused as publishing as Alice: no answer reaches anyone.
        await mallory.subscribeAsync('IMS/Mallory/#', { qos: 1 });
        await mallory.publishAsync('IMS/Alice/History/Req/dev1', JSON.stringify({ v: 1, id: 'steal', op: 'page', conversation: 'u:Bob' }), {
            qos: 1,
        });
        assert.ok(await until(() => f.refusals.some((r) => r.user === 'Mallory' && r.topic === 'IMS/Alice/History/Req/dev1')));
        // Mallory's own history has nothing of Alice and Bob's conversation.
        const own = await ask(mallory, 'Mallory', 'dev1', { op: 'page', conversation: 'u:Bob' });
        assert.deepStrictEqual(own.entries, []);
        const sinceAll = await ask(mallory, 'Mallory', 'dev1', { op: 'since', after: { 'u:Alice': 0, 'u:Bob': 0 } });
        assert.deepStrictEqual(sinceAll.conversations, []);
        // The broker may not be asked to answer elsewhere: answer and sync topics are the broker's alone.
        await mallory.publishAsync('IMS/Alice/History/Resp/dev1', '{"v":1,"id":"x","ok":true}', { qos: 1 });
        await mallory.publishAsync('IMS/Mallory/History/Sync', '{"v":1,"op":"read"}', { qos: 1 });
        assert.ok(
            await until(() => f.refusals.filter((r) => r.user === 'Mallory' && /only the broker publishes/.test(r.reason)).length === 2),
        );
        assert.ok(!mallory.received.some(([t]) => t.startsWith('IMS/Alice')), 'Mallory received nothing of Alice');
        // The honest twin: Alice reads her own, and her subscription of her own namespace is granted.
        assert.deepStrictEqual(await grants(alice, ['IMS/Alice/History/#']), [1]);
        const page = await ask(alice, 'Alice', 'dev1', { op: 'page', conversation: 'u:Bob' });
        assert.deepStrictEqual(texts(page), ['secret for Bob', 'secret for Alice']);
        assert.ok(!alice.received.some(([, body]) => body.includes('"steal"')), 'the stolen request was routed nowhere');
    });

    it('ignores a forged read mark: a message not in the reader’s conversation, a group it is not in', async () => {
        const { alice, fromBob } = await conversation();
        const mallory = await as('Mallory');
        const { sync } = await historyTopics(alice, 'Alice', 'dev1');
        // Mallory marks Bob's message to Alice as read, as herself (the only way the broker lets her publish).
        await mallory.publishAsync(
            'IMS/Bob/Inbox/Chat/Mallory',
            envelope({ type: 'receipt', from: 'Mallory', data: { status: 'read', upTo: fromBob.id } }),
            { qos: 1 },
        );
        await mallory.publishAsync(
            'IMS/Bob/Inbox/Chat/Mallory',
            envelope({ type: 'receipt', from: 'Mallory', data: { status: 'read', upTo: fromBob.id, group: 'Group1' } }),
            { qos: 1 },
        );
        // ...or as Alice: refused at publish.
        await mallory.publishAsync(
            'IMS/Bob/Inbox/Chat/Alice',
            envelope({ type: 'receipt', from: 'Alice', data: { status: 'read', upTo: fromBob.id } }),
            { qos: 1 },
        );
        await f.broker.history.settled();
        assert.ok(f.refusals.some((r) => r.user === 'Mallory' && r.topic === 'IMS/Bob/Inbox/Chat/Alice'));
        const list = await ask(alice, 'Alice', 'dev1', { op: 'conversations' });
        assert.deepStrictEqual(
            list.conversations.map((c) => [c.conversation, c.readUpTo, c.unread]),
            [['u:Bob', 0, 1]],
        );
        const mallorys = await ask(mallory, 'Mallory', 'dev1', { op: 'conversations' });
        assert.deepStrictEqual(mallorys.conversations, [], 'no mark, no conversation for Mallory');
        // The honest twin: Alice's own receipt moves her mark and reaches her devices.
        await alice.publishAsync(
            'IMS/Bob/Inbox/Chat/Alice',
            envelope({ type: 'receipt', from: 'Alice', data: { status: 'read', upTo: fromBob.id } }),
            { qos: 1 },
        );
        const [, body] = await nextOn(alice, sync);
        assert.deepStrictEqual(JSON.parse(body), { v: 1, op: 'read', conversation: 'u:Bob', readUpTo: 2, unread: 0 });
    });

    it("applies no edit or recall of someone else's message to history", async () => {
        const { alice, bob, fromBob } = await conversation();
        // Alice tries to rewrite and recall Bob's message in their conversation.
        await alice.publishAsync(
            'IMS/Bob/Inbox/Chat/Alice',
            envelope({ type: 'edit', from: 'Alice', text: 'Bob said yes', data: { target: fromBob.id } }),
            {
                qos: 1,
            },
        );
        await alice.publishAsync('IMS/Bob/Inbox/Chat/Alice', envelope({ type: 'recall', from: 'Alice', data: { target: fromBob.id } }), {
            qos: 1,
        });
        await f.broker.history.settled();
        for (const [client, user, peer] of [
            [alice, 'Alice', 'u:Bob'],
            [bob, 'Bob', 'u:Alice'],
        ]) {
            const page = await ask(client, user, 'dev1', { op: 'page', conversation: peer });
            assert.deepStrictEqual(texts(page), ['secret for Bob', 'secret for Alice'], user);
            assert.ok(!page.entries.some((e) => e.recalled || e.edited), user);
        }
        // The honest twin: Bob edits his own message.
        await bob.publishAsync(
            'IMS/Alice/Inbox/Chat/Bob',
            envelope({ type: 'edit', from: 'Bob', text: 'edited by Bob', data: { target: fromBob.id } }),
            { qos: 1 },
        );
        await f.broker.history.settled();
        const page = await ask(alice, 'Alice', 'dev1', { op: 'page', conversation: 'u:Bob' });
        assert.strictEqual(page.entries[1].message.text, 'edited by Bob');
    });

    it('answers a huge or malformed request with an error, and keeps answering the honest ones', async () => {
        const { alice } = await conversation();
        const huge = await ask(
            alice,
            'Alice',
            'dev1',
            Buffer.from(JSON.stringify({ v: 1, id: 'big', op: 'conversations', pad: 'x'.repeat(70000) })),
        );
        assert.deepStrictEqual([huge.ok, huge.error.code], [false, 'IMS_TOO_LARGE']);
        for (const bad of [
            'not json',
            '[]',
            '{"v":2,"id":"a","op":"page","conversation":"u:Bob"}',
            '{"v":1,"op":"page","conversation":"u:Bob"}',
            '{"v":1,"id":"a","op":"drop tables"}',
            '{"v":1,"id":"a","op":"page","conversation":"Bob"}',
            '{"v":1,"id":"a","op":"page","conversation":"u:Bob","before":-1}',
            '{"v":1,"id":"a","op":"page","conversation":"u:Bob","limit":"all"}',
            '{"v":1,"id":"a","op":"since","after":{"u:Bob":"x"}}',
            '{"v":1,"id":"a","op":"since","after":[1]}',
        ]) {
            const answer = await ask(alice, 'Alice', 'dev1', Buffer.from(bad));
            assert.deepStrictEqual([answer.ok, answer.error.code], [false, 'IMS_MALFORMED'], bad);
        }
        const many = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`u:U${i}`, 0]));
        const tooMany = await ask(alice, 'Alice', 'dev1', { op: 'since', after: many });
        assert.deepStrictEqual([tooMany.ok, tooMany.error.code], [false, 'IMS_MALFORMED']);
        const page = await ask(alice, 'Alice', 'dev1', { op: 'page', conversation: 'u:Bob' });
        assert.deepStrictEqual(texts(page), ['secret for Bob', 'secret for Alice']);
    });

    it("bounds a user's request flood; another user is answered meanwhile", async () => {
        await f.stop();
        await start({ historyRequestsPerMinute: 20 });
        const mallory = await as('Mallory');
        const { request, response } = await historyTopics(mallory, 'Mallory', 'dev1');
        for (let i = 0; i < 200; i++) mallory.publish(request, JSON.stringify({ v: 1, id: `f${i}`, op: 'conversations' }), { qos: 0 });
        const alice = await as('Alice');
        const honest = await ask(alice, 'Alice', 'dev1', { op: 'conversations' });
        assert.strictEqual(honest.ok, true);
        // 20 answers, one "rate limited", then silence; the f.refusals say why.
        assert.ok(await until(() => mallory.received.filter(([t]) => t === response).length >= 21, 5000));
        await ask(alice, 'Alice', 'dev1', { op: 'conversations' }); // a round trip after the flood
        await f.broker.history.settled();
        const answers = mallory.received.filter(([t]) => t === response).map(([, body]) => JSON.parse(body));
        assert.strictEqual(answers.length, 21);
        assert.strictEqual(answers.filter((a) => a.ok).length, 20);
        assert.deepStrictEqual(answers.find((a) => !a.ok).error.code, 'IMS_RATE_LIMITED');
        assert.ok(f.refusals.some((r) => r.user === 'Mallory' && r.action === 'limit' && /history requests/.test(r.reason)));
    });

    it("keeps a blocked user's messages out of the blocker's history, not out of the sender's", async () => {
        const alice = await as('Alice');
        const mallory = await as('Mallory');
        await chat(mallory, 'Mallory', 'Alice', 'before the block');
        await alice.publishAsync('IMS/Mallory/Inbox/Update/Alice/Unsub', envelope({ type: 'unsub', from: 'Alice' }), { qos: 1 });
        await chat(mallory, 'Mallory', 'Alice', 'after the block');
        await f.broker.history.settled();
        const alices = await ask(alice, 'Alice', 'dev1', { op: 'page', conversation: 'u:Mallory' });
        assert.deepStrictEqual(texts(alices), ['before the block']);
        const mallorys = await ask(mallory, 'Mallory', 'dev1', { op: 'page', conversation: 'u:Alice' });
        assert.deepStrictEqual(texts(mallorys), ['before the block', 'after the block']);
        // The honest twin: Bob, not blocked, is kept.
        const bob = await as('Bob');
        await chat(bob, 'Bob', 'Alice', 'hello');
        await f.broker.history.settled();
        assert.deepStrictEqual(texts(await ask(alice, 'Alice', 'dev1', { op: 'page', conversation: 'u:Bob' })), ['hello']);
    });
});
