'use strict';
// Typing, receipts, edit and recall (src/lib/chatEvents.ts) between real sessions on real brokers:
// what a client accepts, and what it refuses (forged receipts, changes of someone else's message,
// late recalls) with a clear error while the messages after it still arrive.

const assert = require('assert');
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { forEachBroker, MOSQUITTO, MosquittoUnderTest } = require('./helpers/brokers');
const { ImsSession } = require('../nodes/lib/session');
const { ChatEvents } = require('../nodes/lib/chatEvents');
const { createEnvelope, encodeEnvelope, decodeMessage } = require('../nodes/lib/envelope');
const { TopicCodec } = require('../nodes/lib/topics');

/** Every message a session delivers, checked by its ChatEvents; refusals are kept beside them. */
function watch(session, events) {
    const seen = [];
    const waiters = [];
    session.on('message', (message) => {
        let entry;
        try {
            entry = { message, event: events.receive(message) };
        } catch (error) {
            entry = { message, error };
        }
        seen.push(entry);
        for (const waiter of [...waiters]) waiter();
    });
    return {
        seen,
        /** The first entry (from now on, or already seen since `from`) matching `test`, within `ms`. */
        next(test, ms = 5000, from = 0) {
            return new Promise((resolve, reject) => {
                const check = () => {
                    const found = seen.slice(from).find(test);
                    if (!found) return false;
                    waiters.splice(waiters.indexOf(check), 1);
                    clearTimeout(timer);
                    resolve(found);
                    return true;
                };
                const timer = setTimeout(() => {
                    waiters.splice(waiters.indexOf(check), 1);
                    reject(new Error(`nothing matching within ${ms} ms; seen: ${JSON.stringify(seen.map((e) => e.message.type))}`));
                }, ms);
                waiters.push(check);
                check();
            });
        },
    };
}

describe('chat events: envelope types on the existing topics', function () {
    const codec = new TopicCodec({});
    it('accepts typing, receipt, edit and recall on a chat topic, and all but receipts on a group topic', function () {
        for (const type of ['typing', 'receipt', 'edit', 'recall']) {
            const payload = JSON.stringify({ v: 1, id: 'X1', type, from: 'UserA', ts: 1, data: { target: 'M1' } });
            assert.strictEqual(decodeMessage(payload, codec.parse('IMS/UserB/Inbox/Chat/UserA')).type, type);
        }
        for (const type of ['typing', 'edit', 'recall']) {
            const payload = JSON.stringify({ v: 1, id: 'X2', type, from: 'UserA', ts: 1, data: { target: 'M1' } });
            assert.strictEqual(decodeMessage(payload, codec.parse('IMS/Group1/UserA')).type, type);
        }
        const receipt = JSON.stringify({ v: 1, id: 'X3', type: 'receipt', from: 'UserA', ts: 1, data: { status: 'read', ids: ['M1'] } });
        assert.throws(() => decodeMessage(receipt, codec.parse('IMS/Group1/UserA')), { code: 'IMS_MALFORMED' });
        assert.throws(() => decodeMessage(receipt, codec.parse('IMS/UserA')), { code: 'IMS_MALFORMED' }, 'not on moments');
    });
});

describe('chat events: the ledger', function () {
    const { MessageLedger } = require('../nodes/lib/chatEvents');
    it('reads up to a message in sending order, even when IDs of one millisecond sort otherwise', function () {
        const ledger = new MessageLedger(10);
        const chat = { kind: 'user', id: 'UserB' };
        for (const id of ['01AAAAAAAAZ', '01AAAAAAAAB', '01AAAAAAAAM']) ledger.record(id, 'UserA', chat, 1);
        ledger.record('01AAAAAAAAC', 'UserB', chat, 1); // the peer's own message is not counted
        ledger.record('01AAAAAAAAA', 'UserA', { kind: 'group', id: 'Group1' }, 1); // nor another conversation
        assert.deepStrictEqual(ledger.sentUpTo('UserA', chat, '01AAAAAAAAB'), ['01AAAAAAAAZ', '01AAAAAAAAB']);
        assert.deepStrictEqual(ledger.sentUpTo('UserA', chat, '01AAAAAAAAM'), ['01AAAAAAAAZ', '01AAAAAAAAB', '01AAAAAAAAM']);
        assert.deepStrictEqual(ledger.sentUpTo('UserA', chat, '01AAAAAAAAN'), ['01AAAAAAAAB', '01AAAAAAAAM'], 'unknown: ULID order');
        assert.strictEqual(ledger.lastSentBy('UserA', chat), '01AAAAAAAAM');
    });

    it('lets a receipt that overtakes its message’s acknowledgement wait for it (whenSent)', async function () {
        const session = new ImsSession({ userId: 'UserA', presence: false, broker: { url: 'mqtt://127.0.0.1:1' } });
        const events = new ChatEvents(session);
        const sent = createEnvelope({ type: 'chat', from: 'UserA', to: 'UserB', text: 'hi' });
        let acknowledged;
        const tracked = events.track(new Promise((resolve) => (acknowledged = resolve)), { kind: 'user', id: 'UserB' });
        const receipt = decodeMessage(
            JSON.stringify({ v: 1, id: 'R1', type: 'receipt', from: 'UserB', ts: 1, data: { status: 'read', ids: [sent.id] } }),
            session.codec.parse('IMS/UserA/Inbox/Chat/UserB'),
        );
        assert.throws(() => events.receive(receipt), { code: 'IMS_UNEXPECTED' }, 'not in the ledger before the acknowledgement');
        const waiting = events.whenSent();
        assert.ok(waiting, 'a send is in flight');
        acknowledged(sent);
        await waiting;
        assert.strictEqual(await tracked, sent);
        assert.deepStrictEqual(events.receive(receipt).ids, [sent.id]);
        assert.strictEqual(events.whenSent(), undefined, 'nothing in flight any more');
    });

    it('forgets the oldest messages beyond its capacity', function () {
        const ledger = new MessageLedger(2);
        const chat = { kind: 'user', id: 'UserB' };
        for (const id of ['m1', 'm2', 'm3']) ledger.record(id, 'UserA', chat, 1);
        assert.deepStrictEqual([ledger.size, ledger.get('m1'), ledger.get('m3').from], [2, undefined, 'UserA']);
    });
});

forEachBroker((kind) => sessionSuite('chat events between sessions', () => kind.create().start()));

// docs/PROTOCOL.md says these pass Mosquitto's recipe ACL (docs/SECURITY.md) as any chat does.
const ACL = path.join(__dirname, '..', 'docs', 'recipes', 'mosquitto-ims.acl');
const haveMosquittoPasswd = spawnSync('sh', ['-c', 'command -v mosquitto_passwd']).status === 0;
(MOSQUITTO && haveMosquittoPasswd ? describe : describe.skip)('on mosquitto with the recipe ACL', function () {
    let dir;
    before(function () {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-chat-events-acl-'));
        for (const user of ['UserA', 'UserB', 'UserC']) {
            const file = path.join(dir, 'passwords');
            execFileSync('mosquitto_passwd', [...(fs.existsSync(file) ? [] : ['-c']), '-b', file, user, `${user}-pw`]);
        }
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    sessionSuite(
        'chat events between sessions',
        () => new MosquittoUnderTest({ passwordFile: path.join(dir, 'passwords'), aclFile: ACL }).start(),
        (user) => ({ username: user, password: `${user}-pw` }),
    );
});

/** The sessions' tests on the broker `start` gives, with `login(user)`'s credentials. */
function sessionSuite(title, start, login = () => ({})) {
    describe(title, function () {
        let broker;
        const sessions = [];
        before(async function () {
            broker = await start();
        });
        after(async function () {
            await broker.stop();
        });
        afterEach(async function () {
            await Promise.all(sessions.splice(0).map((s) => s.logout()));
        });

        async function account(userId, options = {}) {
            const session = new ImsSession({
                userId,
                deviceId: `${userId}_test_${Date.now()}`,
                presence: false,
                broker: { url: broker.url, clean: true, reconnectPeriod: 200, ...login(userId) },
            });
            sessions.push(session);
            const events = new ChatEvents(session, options);
            const inbox = watch(session, events);
            await session.login();
            await session.connection.whenConnected(5000);
            // Subscriptions acknowledged (bounded): a publish may otherwise overtake them on another connection.
            const deadline = Date.now() + 5000;
            while (session.connection.subscriptions.size > session.connection.ackedCount && Date.now() < deadline) {
                await new Promise((resolve) => setTimeout(resolve, 20));
            }
            return { session, events, inbox };
        }

        /** A raw envelope published as `from` (the topic's sender level is theirs, so it is not a spoof). */
        function publishRaw(session, topic, fields, ts = Date.now()) {
            const envelope = createEnvelope({ ...fields, from: session.userId }, ts);
            return session.connection.publish(topic, encodeEnvelope(envelope), { qos: 1 }).then(() => envelope);
        }

        it('delivered and read receipts reach the sender and mark its messages; typing arrives and says who', async function () {
            const alice = await account('UserA');
            const bob = await account('UserB');
            const sent = [];
            for (const text of ['one', 'two', 'three']) {
                const envelope = await alice.session.sendChat('UserB', { text });
                alice.events.sent(envelope, { kind: 'user', id: 'UserB' });
                sent.push(envelope);
            }
            const third = await bob.inbox.next((e) => e.message.text === 'three');
            assert.deepStrictEqual(third.event, { type: 'message', conversation: { kind: 'user', id: 'UserA' } });

            await bob.events.typing({ kind: 'user', id: 'UserA' });
            const typing = await alice.inbox.next((e) => e.message.type === 'typing');
            assert.deepStrictEqual(typing.event, { type: 'typing', active: true, conversation: { kind: 'user', id: 'UserB' } });

            await bob.events.receipt('UserA', 'delivered', { ids: [sent[0].id] });
            const delivered = await alice.inbox.next((e) => e.message.type === 'receipt');
            assert.ifError(delivered.error);
            assert.deepStrictEqual([delivered.event.status, delivered.event.ids], ['delivered', [sent[0].id]]);

            await bob.events.receipt('UserA', 'read', { upTo: third.message.id });
            const read = await alice.inbox.next((e) => e.message.type === 'receipt' && e.message.data.status === 'read');
            assert.ifError(read.error);
            assert.deepStrictEqual(read.event.ids.sort(), sent.map((e) => e.id).sort(), 'read up to the third marks all three');
        });

        it('refuses a forged receipt (a message never sent to its sender) and keeps what follows', async function () {
            const alice = await account('UserA');
            const bob = await account('UserB');
            const toCarol = await alice.session.sendChat('UserC', { text: 'for Carol only' });
            alice.events.sent(toCarol, { kind: 'user', id: 'UserC' });

            // Bob claims to have read Alice's message to Carol, and a made-up one.
            await publishRaw(bob.session, 'IMS/UserA/Inbox/Chat/UserB', { type: 'receipt', data: { status: 'read', ids: [toCarol.id] } });
            const forged = await alice.inbox.next((e) => e.message.type === 'receipt');
            assert.strictEqual(forged.error.code, 'IMS_UNEXPECTED');
            assert.match(forged.error.message, /Receipt from UserB for message .* which UserA did not send to UserB/);
            await publishRaw(bob.session, 'IMS/UserA/Inbox/Chat/UserB', { type: 'receipt', data: { status: 'bogus', ids: ['x'] } });
            const malformed = await alice.inbox.next((e) => e.message.type === 'receipt' && e.message.data.status === 'bogus');
            assert.strictEqual(malformed.error.code, 'IMS_MALFORMED');

            await bob.session.sendChat('UserA', { text: 'still here' });
            const after = await alice.inbox.next((e) => e.message.text === 'still here');
            assert.strictEqual(after.event.type, 'message', 'the next message is delivered as usual');
        });

        it('edit and recall of one’s own message reach the other side; another’s are refused on both sides', async function () {
            const alice = await account('UserA');
            const bob = await account('UserB');
            const chat = { kind: 'user', id: 'UserB' };
            const original = await alice.session.sendChat('UserB', { text: 'helo' });
            alice.events.sent(original, chat);
            await bob.inbox.next((e) => e.message.id === original.id);

            await alice.events.edit(chat, original.id, 'hello');
            const edit = await bob.inbox.next((e) => e.message.type === 'edit');
            assert.deepStrictEqual(edit.event, {
                type: 'edit',
                target: original.id,
                text: 'hello',
                conversation: { kind: 'user', id: 'UserA' },
            });

            // Bob's client refuses to change Alice's message before publishing anything...
            assert.throws(() => bob.events.edit({ kind: 'user', id: 'UserA' }, original.id, 'hacked'), { code: 'IMS_NOT_OWNER' });
            await assert.rejects(bob.events.recall({ kind: 'user', id: 'UserA' }, original.id), { code: 'IMS_NOT_OWNER' });
            // ...and Alice's refuses a hand-made one.
            await publishRaw(bob.session, 'IMS/UserA/Inbox/Chat/UserB', { type: 'recall', data: { target: original.id } });
            const forged = await alice.inbox.next((e) => e.message.type === 'recall');
            assert.strictEqual(forged.error.code, 'IMS_NOT_OWNER');
            assert.match(forged.error.message, /UserB cannot recall message .*: UserA sent it, and only its sender may/);

            await alice.events.recall(chat, original.id);
            const recall = await bob.inbox.next((e) => e.message.type === 'recall');
            assert.deepStrictEqual(recall.event, { type: 'recall', target: original.id, conversation: { kind: 'user', id: 'UserA' } });
            assert.strictEqual(bob.events.ledger.get(original.id).recalled, true);
        });

        it('in a group: a member recalls its own message, not another member’s; a late recall is refused', async function () {
            const alice = await account('UserA');
            const bob = await account('UserB', { recallWindowMs: 60000 });
            await alice.session.groups.create('Group1');
            await bob.session.groups.join('Group1');
            const group = { kind: 'group', id: 'Group1' };
            const fromAlice = await alice.session.groups.say('Group1', 'from Alice');
            alice.events.sent(fromAlice, group);
            const seen = await bob.inbox.next((e) => e.message.id === fromAlice.id);
            assert.deepStrictEqual(seen.event.conversation, group);

            await publishRaw(bob.session, 'IMS/Group1/UserB', { type: 'recall', data: { target: fromAlice.id } });
            const forged = await alice.inbox.next((e) => e.message.type === 'recall');
            assert.strictEqual(forged.error.code, 'IMS_NOT_OWNER');

            // A recall stamped 10 minutes after the message is past Bob's one-minute window.
            await publishRaw(alice.session, 'IMS/Group1/UserA', { type: 'recall', data: { target: fromAlice.id } }, fromAlice.ts + 600000);
            const late = await bob.inbox.next((e) => e.message.type === 'recall');
            assert.strictEqual(late.error.code, 'IMS_TOO_LATE');

            // A group message's read receipt goes to its sender's inbox and names the group.
            await bob.events.receipt('UserA', 'read', { upTo: fromAlice.id }, 'Group1');
            const read = await alice.inbox.next((e) => e.message.type === 'receipt');
            assert.ifError(read.error);
            assert.deepStrictEqual(
                [read.message.topic, read.event.ids, read.event.conversation],
                ['IMS/UserA/Inbox/Chat/UserB', [fromAlice.id], group],
            );
        });
    });
}
