'use strict';
// Pictures and files, inline in chat and group messages: the rules (src/lib/attachments.ts), the nodes
// sending a Buffer with msg.filename and emitting received ones as Buffers, and the secured broker
// refusing an oversized, disguised (a .png that is an .exe) or malformed attachment with a clear answer
// to the sender, losing nothing else.

const assert = require('assert');
const { checkAttachment, makeAttachment, sniffType, DEFAULT_MAX_ATTACHMENT_BYTES } = require('../nodes/lib/attachments');
const { decodeMessage, createEnvelope } = require('../nodes/lib/envelope');
const { TopicCodec } = require('../nodes/lib/topics');
const { AedesUnderTest } = require('./helpers/brokers');
const { helper, load, unloadAll } = require('./helpers/red');
const { accounts, imNode, send, act, record, allConnected, catchNode } = require('./helpers/flows');

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
/** The start of a Windows program ("MZ", then its DOS stub). */
const EXE = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(62), Buffer.from('This program cannot be run in DOS mode.')]);
const b64 = (bytes) => bytes.toString('base64');
const code = (fn) => {
    try {
        fn();
    } catch (error) {
        return error.code;
    }
    return 'accepted';
};

describe('attachments: the rules', function () {
    it('knows pictures, documents and programs by their magic numbers', function () {
        assert.strictEqual(sniffType(PNG), 'image/png');
        assert.strictEqual(sniffType(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'image/jpeg');
        assert.strictEqual(sniffType(Buffer.from('%PDF-1.7')), 'application/pdf');
        assert.strictEqual(sniffType(EXE), 'application/x-msdownload');
        assert.strictEqual(sniffType(Buffer.from('hello')), undefined);
    });

    it('makes an attachment of a picture, its type from the name or the bytes', function () {
        const named = makeAttachment(PNG, { name: 'dot.png' });
        assert.deepStrictEqual(named, { name: 'dot.png', type: 'image/png', size: PNG.length, data: b64(PNG) });
        assert.strictEqual(makeAttachment(PNG, { name: 'dot' }).type, 'image/png');
        assert.strictEqual(makeAttachment(Buffer.from('notes'), { name: 'notes.txt' }).type, 'text/plain');
        assert.ok(checkAttachment(named).bytes.equals(PNG));
    });

    it('refuses a disguised file: a .png that is an .exe, a picture that is not one, text with binary in it', function () {
        const att = (fields) => ({ name: 'cat.png', type: 'image/png', size: EXE.length, data: b64(EXE), ...fields });
        assert.strictEqual(
            code(() => checkAttachment(att())),
            'IMS_DISGUISED',
        );
        assert.strictEqual(
            code(() => checkAttachment(att({ type: 'application/octet-stream' }))),
            'IMS_FILE_TYPE',
        );
        assert.strictEqual(
            code(() => checkAttachment(att({ name: 'setup.exe', type: 'application/x-msdownload' }))),
            'IMS_FILE_TYPE',
        );
        const text = Buffer.from('hello');
        assert.strictEqual(
            code(() => checkAttachment({ name: 'a.png', type: 'image/png', size: text.length, data: b64(text) })),
            'IMS_DISGUISED',
        );
        assert.strictEqual(
            code(() => checkAttachment({ name: 'dot.jpg', type: 'image/png', size: PNG.length, data: b64(PNG) })),
            'IMS_DISGUISED',
            'the name says JPEG',
        );
        const binary = Buffer.from([0x41, 0, 0x42]);
        assert.strictEqual(
            code(() => checkAttachment({ name: 'a.txt', type: 'text/plain', size: 3, data: b64(binary) })),
            'IMS_DISGUISED',
        );
        assert.strictEqual(
            code(() => makeAttachment(EXE, { name: 'cat.png' })),
            'IMS_DISGUISED',
            'the sender learns first',
        );
    });

    it('refuses an oversized file before decoding it, and malformed ones', function () {
        const big = Buffer.alloc(DEFAULT_MAX_ATTACHMENT_BYTES + 1, 0x41);
        assert.strictEqual(
            code(() => makeAttachment(big, { name: 'big.txt' })),
            'IMS_TOO_LARGE',
        );
        assert.strictEqual(
            code(() => checkAttachment({ name: 'big.bin', type: 'text/plain', size: 10 ** 9, data: 'QUFB' })),
            'IMS_TOO_LARGE',
        );
        const good = { name: 'dot.png', type: 'image/png', size: PNG.length, data: b64(PNG) };
        for (const bad of [
            'a string',
            { ...good, data: 'not base64!' },
            { ...good, size: 3 },
            { ...good, name: '' },
            { ...good, name: '../../etc/passwd' },
            { ...good, type: 'picture' },
            { ...good, thumb: b64(EXE) },
            { ...good, width: -1 },
        ]) {
            assert.match(
                code(() => checkAttachment(bad)),
                /^IMS_(MALFORMED|DISGUISED)$/,
                JSON.stringify(bad).slice(0, 80),
            );
        }
        assert.strictEqual(
            code(() => checkAttachment({ ...good, thumb: b64(PNG), width: 1, height: 1 })),
            'accepted',
        );
    });

    it('is checked by every receiver as part of the message', function () {
        const codec = new TopicCodec({});
        const topic = codec.parse('IMS/UserB/Inbox/Chat/UserA');
        const message = (data, type = 'chat') => JSON.stringify(createEnvelope({ type, from: 'UserA', data }));
        const good = { name: 'dot.png', type: 'image/png', size: PNG.length, data: b64(PNG) };
        assert.strictEqual(decodeMessage(message({ attachment: good }), topic).data.attachment.name, 'dot.png');
        assert.strictEqual(
            code(() => decodeMessage(message({ attachment: { ...good, data: b64(EXE), size: EXE.length } }), topic)),
            'IMS_DISGUISED',
        );
        assert.strictEqual(
            code(() => decodeMessage(message({ attachment: good }, 'typing'), topic)),
            'IMS_MALFORMED',
        );
    });
});

describe('attachments through the nodes and the secured broker', function () {
    this.timeout(30000);
    let broker;
    const refusals = [];
    before(async function () {
        broker = await new AedesUnderTest({
            security: {
                accounts: [
                    { user: 'UserA', password: 'a-pass' },
                    { user: 'UserB', password: 'b-pass' },
                ],
            },
        }).start();
        broker.broker.on('refused', (r) => refusals.push(r));
    });
    after(async function () {
        await broker.stop();
    });
    afterEach(() => unloadAll());

    async function start() {
        await load(
            [
                ...accounts(broker.url, ['A', 'B']),
                ...imNode('ims-chat', 'chatA', 'A', { to: 'UserB' }),
                ...imNode('ims-chat', 'chatB', 'B'),
                ...imNode('ims-group', 'groupA', 'A'),
                ...imNode('ims-group', 'groupB', 'B'),
                ...catchNode(),
            ],
            { cfgA: { password: 'a-pass' }, cfgB: { password: 'b-pass' } },
        );
        await allConnected(['A', 'B']);
        const caught = [];
        helper.getNode('caught').on('input', (msg) => caught.push(msg));
        return { chatB: record('chatB'), caught };
    }

    it('sends a picture from a Buffer with msg.filename; the receiver emits it as a Buffer with its name and type', async function () {
        const { chatB } = await start();
        send('chatA', { payload: PNG, filename: '/home/alice/dot.png' });
        const msg = await chatB.next();
        assert.ok(Buffer.isBuffer(msg.payload) && msg.payload.equals(PNG));
        assert.strictEqual(msg.filename, 'dot.png');
        assert.strictEqual(msg.contentType, 'image/png');
        assert.deepStrictEqual(msg.ims.data.attachment, { name: 'dot.png', type: 'image/png', size: PNG.length });
        assert.strictEqual(msg.topic, 'UserA');
    });

    it('a group member says a file; the other members emit it as a Buffer', async function () {
        await start();
        const groupB = record('groupB');
        await act('groupA', { action: 'create', topic: 'GroupPics' });
        await act('groupA', { action: 'invite', topic: 'GroupPics', payload: ['UserB'] });
        await act('groupB', { action: 'join', topic: 'GroupPics' });
        const pdf = Buffer.from('%PDF-1.4\n%minutes of the meeting\n');
        await act('groupA', { action: 'say', topic: 'GroupPics', payload: pdf, filename: 'minutes.pdf' });
        const msg = await groupB.next((m) => m.ims.type === 'group.message');
        assert.ok(msg.payload.equals(pdf));
        assert.strictEqual(msg.filename, 'minutes.pdf');
        assert.strictEqual(msg.contentType, 'application/pdf');
        assert.strictEqual(msg.topic, 'GroupPics');
    });

    it('refuses a disguised file at the sender with a catchable error; the next message goes through', async function () {
        const { chatB, caught } = await start();
        send('chatA', { payload: EXE, filename: 'cat.png' });
        send('chatA', { payload: 'after the refusal' });
        assert.strictEqual((await chatB.next()).payload, 'after the refusal');
        assert.strictEqual(caught.length, 1);
        assert.strictEqual(caught[0].error.source.id, 'chatA');
        assert.match(caught[0].error.message, /Disguised attachment: "cat.png" is a program/);
    });

    it('the broker refuses what a client sends past its own check (oversized, disguised, malformed) and tells it why; nothing else is lost', async function () {
        const { chatB, caught } = await start();
        const connection = helper.getNode('cfgA').account.session.connection;
        const raw = (attachment, id) =>
            connection.publish(
                'IMS/UserB/Inbox/Chat/UserA',
                JSON.stringify({ v: 1, id, type: 'chat', from: 'UserA', ts: Date.now(), data: { attachment } }),
                { qos: 1 },
            );
        const big = Buffer.alloc(185 * 1024, 0x41);
        const before = refusals.length;
        await raw({ name: 'big.txt', type: 'text/plain', size: big.length, data: b64(big) }, 'big1');
        await raw({ name: 'cat.png', type: 'image/png', size: EXE.length, data: b64(EXE) }, 'exe1');
        await raw({ name: 'dot.png', type: 'image/png', size: PNG.length, data: 'not base64!' }, 'bad1');
        send('chatA', { payload: 'still here' });
        assert.strictEqual((await chatB.next()).payload, 'still here');
        assert.strictEqual(chatB.seen.length, 1, 'Bob received none of the refused messages');

        // Each refusal reaches the sender's flow, from the broker's answer, naming the code and the file.
        const deadline = Date.now() + 5000;
        while (caught.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        assert.deepStrictEqual(
            caught.map((m) => [m.error.source.id, m.error.message.replace(/:.*$/, '')]),
            [
                ['chatA', 'The broker refused the message'],
                ['chatA', 'The broker refused the message'],
                ['chatA', 'The broker refused the message'],
            ],
        );
        const texts = caught.map((m) => m.error.message).join('\n');
        assert.match(texts, /Attachment "big.txt" is 189440 bytes; the limit is 184320/);
        assert.match(texts, /Disguised attachment: "cat.png" is a program/);
        assert.match(texts, /Malformed attachment: "data" must be base64/);
        assert.deepStrictEqual(
            refusals.slice(before).map((r) => [r.user, r.action]),
            [
                ['UserA', 'publish'],
                ['UserA', 'publish'],
                ['UserA', 'publish'],
            ],
        );
    });

    it('nobody may forge the broker’s refusal on another device’s p2p topic', async function () {
        const { caught } = await start();
        const connection = helper.getNode('cfgA').account.session.connection;
        const before = refusals.length;
        await connection.publish(
            'IMS/p2p/GID_IMS@@@UserB_test',
            JSON.stringify({
                v: 1,
                id: 'forged',
                type: 'refusal',
                from: 'System',
                ts: Date.now(),
                text: 'forged',
                data: { code: 'IMS_TOO_LARGE', topic: 'IMS/UserA/Inbox/Chat/UserB' },
            }),
            { qos: 1 },
        );
        assert.match(refusals[before].reason, /only the broker sends System refusals/);
        assert.strictEqual(caught.length, 0);
    });
});
