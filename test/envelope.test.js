'use strict';
const assert = require('assert');
const { TopicCodec } = require('../nodes/lib/topics');
const { createEnvelope, encodeEnvelope, decodeMessage, newMessageId } = require('../nodes/lib/envelope');
const { DuplicateFilter } = require('../nodes/lib/dedupe');
const { signatureLogin } = require('../nodes/lib/cloudAuth');

const codec = new TopicCodec();
const chatTopic = codec.parse(codec.chat('UserB', 'UserA'));

describe('envelope', function () {
    it('round-trips a chat message', function () {
        const sent = createEnvelope({ type: 'chat', from: 'UserA', to: 'UserB', text: 'hello', data: { mood: 'happy' } }, 1764201600000);
        const got = decodeMessage(encodeEnvelope(sent), chatTopic);
        assert.deepStrictEqual(got, {
            v: 1,
            id: sent.id,
            type: 'chat',
            from: 'UserA',
            to: 'UserB',
            ts: 1764201600000,
            text: 'hello',
            data: { mood: 'happy' },
            topic: 'IMS/UserB/Inbox/Chat/UserA',
            kind: 'chat',
            verified: true,
            enveloped: true,
        });
    });

    it('gives unique, time-ordered ULIDs', function () {
        const ids = new Set();
        for (let i = 0; i < 1000; i++) ids.add(newMessageId());
        assert.strictEqual(ids.size, 1000);
        assert.match(newMessageId(), /^[0-9A-HJKMNP-TV-Z]{26}$/);
        assert.ok(newMessageId(1000) < newMessageId(2000));
    });

    it('accepts plain text: type and sender come from the topic', function () {
        const got = decodeMessage(Buffer.from('hi there'), chatTopic, undefined, 5);
        assert.strictEqual(got.text, 'hi there');
        assert.strictEqual(got.type, 'chat');
        assert.strictEqual(got.from, 'UserA');
        assert.strictEqual(got.enveloped, false);
        assert.strictEqual(got.ts, 5);
    });

    it('accepts JSON without the envelope as data', function () {
        const got = decodeMessage('{"text":"yo","n":1}', chatTopic);
        assert.deepStrictEqual(got.data, { text: 'yo', n: 1 });
        assert.strictEqual(got.text, 'yo');
        const notJson = decodeMessage('{not json', chatTopic);
        assert.strictEqual(notJson.text, '{not json');
    });

    it('takes the sender from the topic and flags a payload that claims another one', function () {
        const forged = JSON.stringify({ v: 1, id: 'x1', type: 'chat', from: 'UserC', text: 'I am C' });
        assert.throws(
            () => decodeMessage(forged, chatTopic),
            (err) => err.code === 'IMS_SPOOFED' && /claims "UserC".*says "UserA"/.test(err.message),
        );
        const noFrom = decodeMessage(JSON.stringify({ v: 1, id: 'x2', type: 'chat', text: 'ok' }), chatTopic);
        assert.strictEqual(noFrom.from, 'UserA');
    });

    it('uses the payload sender only where the topic has none (p2p), and marks it unverified', function () {
        const p2p = codec.parse(codec.p2p('GID_IMS@@@DeviceID_B'));
        const got = decodeMessage(JSON.stringify({ v: 1, id: 'p1', type: 'friend.request', from: 'UserA' }), p2p);
        assert.strictEqual(got.from, 'UserA');
        assert.strictEqual(got.verified, false);
        assert.throws(() => decodeMessage('plain', p2p), /cannot name its sender/);
    });

    it('refuses a type that does not belong on the topic', function () {
        const wrong = JSON.stringify({ v: 1, id: 'w', type: 'friend.request', from: 'UserA' });
        assert.throws(
            () => decodeMessage(wrong, chatTopic),
            (err) => err.code === 'IMS_MALFORMED' && /does not belong/.test(err.message),
        );
        const greeting = decodeMessage(JSON.stringify({ v: 1, id: 'g', type: 'greeting', text: 'Happy new year' }), chatTopic);
        assert.strictEqual(greeting.type, 'greeting');
    });

    it('refuses malformed envelopes with a reason', function () {
        const cases = [
            [{ v: 2, id: 'a', type: 'chat' }, /unsupported envelope version/],
            [{ v: 1, id: 'a', type: 'nope' }, /unknown type/],
            [{ v: 1, id: '', type: 'chat' }, /"id"/],
            [{ v: 1, id: 7, type: 'chat' }, /"id"/],
            [{ v: 1, id: 'a', type: 'chat', text: 5 }, /"text" must be a string/],
            [{ v: 1, id: 'a', type: 'chat', ts: 'now' }, /"ts"/],
            [{ v: 1, id: 'a', type: 'chat', data: [1] }, /"data" must be an object/],
        ];
        for (const [body, why] of cases) {
            assert.throws(
                () => decodeMessage(JSON.stringify(body), chatTopic),
                (err) => err.code === 'IMS_MALFORMED' && why.test(err.message),
                JSON.stringify(body),
            );
        }
        assert.throws(() => decodeMessage(Buffer.from([0xff, 0xfe, 0x41]), chatTopic), /not valid UTF-8/);
    });

    it('refuses oversized messages on both sides', function () {
        const big = createEnvelope({ type: 'chat', from: 'UserA', text: 'x'.repeat(2000) });
        assert.throws(
            () => encodeEnvelope(big, 1000),
            (err) => err.code === 'IMS_TOO_LARGE',
        );
        assert.throws(
            () => decodeMessage(Buffer.alloc(1001, 0x61), chatTopic, 1000),
            (err) => err.code === 'IMS_TOO_LARGE' && /1001 bytes; the limit is 1000/.test(err.message),
        );
    });

    it('never copies unknown payload fields into the message', function () {
        const got = decodeMessage(JSON.stringify({ v: 1, id: 'k', type: 'chat', text: 'a', verified: false, __proto__x: 1 }), chatTopic);
        assert.strictEqual(got.verified, true);
        assert.ok(!('__proto__x' in got));
    });
});

describe('duplicate filter', function () {
    it('accepts a (sender, id) once, remembers at least `capacity` pairs and forgets older ones', function () {
        const filter = new DuplicateFilter(3);
        assert.strictEqual(filter.accept('A', '1'), true);
        assert.strictEqual(filter.accept('A', '1'), false);
        assert.strictEqual(filter.accept('B', '1'), true, 'same id from another sender is another message');
        filter.accept('A', '2');
        for (const [from, id] of [
            ['A', '1'],
            ['B', '1'],
            ['A', '2'],
        ]) {
            assert.strictEqual(filter.accept(from, id), false, `${from}/${id} is among the last 3`);
        }
        for (const id of ['3', '4', '5', '6', '7', '8']) assert.strictEqual(filter.accept('A', id), true);
        for (const id of ['6', '7', '8']) assert.strictEqual(filter.accept('A', id), false, `A/${id} is among the last 3`);
        assert.strictEqual(filter.accept('A', '1'), true, 'the oldest was forgotten');
    });

    it('stays bounded under a long stream of distinct messages, and knows every recent one', function () {
        const filter = new DuplicateFilter(1000);
        for (let i = 0; i < 100000; i++) assert.strictEqual(filter.accept(`U${i % 7}`, `id-${i}`), true, `message ${i} is new`);
        assert.ok(filter.size >= 1000 && filter.size <= 2000, `remembers ${filter.size}`);
        for (let i = 99000; i < 100000; i++) assert.strictEqual(filter.accept(`U${i % 7}`, `id-${i}`), false, `message ${i} is a repeat`);
        assert.strictEqual(filter.accept('U0', 'id-0'), true, 'long forgotten');
    });

    it('tells apart pairs that differ only in where the sender ends and the id begins', function () {
        const filter = new DuplicateFilter();
        assert.strictEqual(filter.accept('AB', 'C'), true);
        assert.strictEqual(filter.accept('A', 'BC'), true);
        assert.strictEqual(filter.accept('AB', 'C'), false);
    });
});

describe('cloud MQ signature login', function () {
    it('signs the Client ID with HmacSHA1 and never sends the secret', function () {
        // Reference value computed independently: base64(HMAC-SHA1(key="secret", "GID_IMS@@@DeviceID_A")).
        const login = signatureLogin('GID_IMS@@@DeviceID_A', { accessKey: 'AK', secretKey: 'secret', instanceId: 'mqtt-cn-123' });
        assert.strictEqual(login.username, 'Signature|AK|mqtt-cn-123');
        assert.strictEqual(
            login.password,
            require('child_process')
                .execSync("printf '%s' 'GID_IMS@@@DeviceID_A' | openssl dgst -sha1 -hmac secret -binary | base64")
                .toString()
                .trim(),
        );
        assert.ok(!login.password.includes('secret'));
    });
});
