'use strict';
// The examples as a newcomer runs them: `npm start` (secured demo broker, its own ports), each example
// deployed beside the demo tab exactly as the Examples menu imports it, every inject pressed from top
// to bottom through the editor's inject button, and what the debug sidebar and the node statuses show
// checked. Then every button pressed a second time, with all examples deployed together: still no
// error, no red status, and neither the demo nor another example answers an example's users.

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { startNodeRed } = require('./helpers/editor');
const { Editor } = require('./helpers/admin');

const DIR = path.join(__dirname, '..', 'examples');
const FILES = fs
    .readdirSync(DIR)
    .filter((f) => /^0\d-.*\.json$/.test(f))
    .sort();
const read = (file) => JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'));
const isIm = (n) => n.type.startsWith('ims-') && n.type !== 'ims-config';

/**
 * A Complete node and a debug node per IM node of the example, so the test sees each node finish with a
 * message (its done()) in the debug stream, the acknowledgement a person reads off the flow.
 */
function instrument(flow) {
    return flow.filter(isIm).flatMap((n) => [
        {
            id: `${n.id}-done`,
            type: 'complete',
            z: n.z,
            scope: [n.id],
            uncaught: false,
            x: n.x,
            y: n.y + 500,
            wires: [[`${n.id}-done-dbg`]],
        },
        {
            id: `${n.id}-done-dbg`,
            type: 'debug',
            z: n.z,
            active: true,
            tosidebar: true,
            complete: 'true',
            x: n.x + 200,
            y: n.y + 500,
            wires: [],
        },
    ]);
}

/** Every user ID of the example's accounts. */
const usersOf = (flow) => flow.filter((n) => n.type === 'ims-config').map((n) => n.userId);

describe('examples on npm start, as imported, pressed top to bottom', function () {
    this.timeout(60000);
    let nodeRed;
    let editor;
    const deployed = new Map();

    before(async function () {
        nodeRed = await startNodeRed({ demo: true });
        editor = await new Editor(nodeRed.url).open();
        await editor.until(() => editor.status.get('ims-demo-chat')?.fill === 'green', 20000, "the demo bot's account");
    });
    after(async function () {
        editor?.close();
        await nodeRed?.stop();
    });

    /** Deploys the example (unless it runs), waits for every account of it to be connected, returns a driver for it. */
    async function run(file) {
        const flow = read(file);
        if (!deployed.has(file)) await editor.add([...flow, ...instrument(flow)]);
        const ims = flow.filter(isIm);
        // Connected: green, or blue where a node shows its own note (a greeting's progress, "already a friend").
        const connected = (n) => ['green', 'blue'].includes(editor.status.get(n.id)?.fill);
        await editor.until(() => ims.every(connected), 20000, `${file}: every account connected`);
        for (const d of editor.debug) d.taken = true; // what the sidebar showed before is not this run's
        deployed.set(file, flow);
        const byId = new Map(flow.map((n) => [n.id, n]));
        /** The IM nodes a click on `inject` reaches first (through functions and changes). */
        const reached = (inject) => {
            const found = new Set();
            const queue = [...byId.get(inject).wires.flat()];
            for (let i = 0; i < queue.length && i < 100; i++) {
                const n = byId.get(queue[i]);
                if (isIm(n)) found.add(n.id);
                else queue.push(...n.wires.flat());
            }
            return [...found];
        };
        return {
            /** Presses the inject and waits until each IM node it reaches finished `times` messages, or reported an error. */
            async press(inject, times = 1) {
                const targets = reached(inject);
                const before = new Map(targets.map((id) => [id, editor.debug.filter((d) => d.id === `${id}-done-dbg`).length]));
                const errorsBefore = editor.problems(new Set(targets)).length;
                await editor.press(inject);
                await editor.until(
                    () =>
                        editor.problems(new Set(targets)).length > errorsBefore ||
                        targets.every((id) => editor.debug.filter((d) => d.id === `${id}-done-dbg`).length >= before.get(id) + times),
                    10000,
                    `${file}: ${byId.get(inject).name} done`,
                );
            },
            debug: (id, pred, ms) => editor.nextDebug(id, pred, ms),
            status: (id) => editor.status.get(id) || {},
        };
    }

    /** What each example shows, checked the way a person reads the debug sidebar; `again` on the second run. */
    const SCRIPTS = {
        async '01-friends-and-chat.json'(x, again) {
            await x.press('ims-ex1-ask');
            if (again) {
                assert.match(x.status('ims-ex1-fa').text, /already a friend/);
            } else {
                assert.strictEqual((await x.debug('ims-ex1-dbg-fb')).ims.type, 'friend.request');
                assert.strictEqual((await x.debug('ims-ex1-dbg-fa')).ims.data.accepted, true);
            }
            await x.press('ims-ex1-say');
            assert.strictEqual((await x.debug('ims-ex1-dbg-cb', (m) => m.ims.type === 'chat')).payload, 'Hello Bob1!');
            assert.strictEqual((await x.debug('ims-ex1-dbg-ca')).payload, 'Hi Alice1, you said: Hello Bob1!');
            await x.press('ims-ex1-p2p');
            const p2p = await x.debug('ims-ex1-dbg-cb', (m) => m.ims.topic.includes('/p2p/'));
            assert.strictEqual(p2p.payload, 'Are you on your phone?');
        },
        async '02-moments-follow-block.json'(x, again) {
            await x.press('ims-ex2-fa');
            if (again) assert.match(x.status('ims-ex2-ma').text, /already following/);
            // On the second run too: the first run's last inject lifted Bob2's block.
            await x.press('ims-ex2-fc');
            await x.press('ims-ex2-post');
            await Promise.all([x.debug('ims-ex2-dbg-a'), x.debug('ims-ex2-dbg-c')]);
            await x.press('ims-ex2-block');
            assert.strictEqual((await x.debug('ims-ex2-dbg-c')).ims.type, 'unsub');
            await x.press('ims-ex2-post2');
            assert.strictEqual((await x.debug('ims-ex2-dbg-a')).payload, 'Moon over West Lake 🌕');
            await x.press('ims-ex2-unblock');
            const lifted = await x.debug('ims-ex2-dbg-c', (m) => m.ims.type === 'unsub');
            assert.deepStrictEqual([lifted.topic, lifted.ims.data], ['Bob2', { lifted: true }]);
        },
        async '03-group-chat.json'(x, again) {
            await x.press('ims-ex3-create');
            await x.press('ims-ex3-invite');
            if (!again) {
                await x.debug('ims-ex3-dbg-a', (m) => m.ims.type === 'group.join' && m.ims.from === 'Bob3');
                await x.debug('ims-ex3-dbg-a', (m) => m.ims.type === 'group.join' && m.ims.from === 'Carol3');
            }
            await x.press('ims-ex3-say');
            for (const id of ['ims-ex3-dbg-a', 'ims-ex3-dbg-c']) {
                const m = await x.debug(id, (d) => d.ims.type === 'group.message');
                assert.deepStrictEqual([m.topic, m.payload, m.ims.from], ['Group123', 'Hello everyone!', 'Bob3']);
            }
        },
        async '04-greetings.json'(x, again) {
            await x.press('ims-ex4-friends');
            if (!again) {
                for (const from of ['Bob4', 'Carol4']) {
                    assert.strictEqual((await x.debug('ims-ex4-dbg-fa', (m) => m.ims.from === from)).ims.data.accepted, true);
                }
            }
            await x.press('ims-ex4-greet');
            assert.deepStrictEqual((await x.debug('ims-ex4-dbg-report')).payload, {
                published: ['Bob4', 'Carol4'],
                refused: [],
                failed: [],
            });
            for (const id of ['ims-ex4-dbg-b', 'ims-ex4-dbg-c']) assert.strictEqual((await x.debug(id)).ims.type, 'greeting');
        },
        async '05-regional-push.json'(x) {
            await x.press('ims-ex5-bj');
            for (const id of ['ims-ex5-dbg-a', 'ims-ex5-dbg-c']) assert.strictEqual((await x.debug(id)).payload, '北京的朋友们, 新年快乐!');
            await x.press('ims-ex5-hz');
            assert.strictEqual((await x.debug('ims-ex5-dbg-b')).payload, '杭州的朋友们, 新年快乐!');
            assert.ok(
                !editor.debug.some((d) => d.id === 'ims-ex5-dbg-b' && d.msg.topic === 'Beijing'),
                "Beijing's push did not reach Bob5",
            );
        },
        async '06-login-and-presence.json'(x, again) {
            await x.press('ims-ex6-friends');
            if (!again) await x.debug('ims-ex6-dbg-b', (m) => m.ims.type === 'presence' && m.payload === 'online');
            await x.press('ims-ex6-out');
            await x.debug('ims-ex6-dbg-b', (m) => m.ims.type === 'presence' && m.payload === 'offline');
            await x.press('ims-ex6-in');
            await x.debug('ims-ex6-dbg-b', (m) => m.ims.type === 'presence' && m.payload === 'online');
        },
    };

    it('has a script for every example', function () {
        assert.deepStrictEqual(Object.keys(SCRIPTS).sort(), FILES);
    });

    for (const again of [false, true]) {
        for (const file of FILES) {
            it(`${file}${again ? ', pressed again with every example deployed' : ''}: does what its comments say, with no error`, async function () {
                const x = await run(file);
                const ids = new Set(read(file).map((n) => n.id));
                const before = editor.problems(ids).length;
                await SCRIPTS[file](x, again);
                const problems = editor.problems(ids).slice(before);
                assert.deepStrictEqual(problems, [], `${file}: errors or warnings in the debug sidebar`);
                assert.deepStrictEqual(editor.red(ids), [], `${file}: red statuses`);
            });
        }
    }

    it("left the demo tab alone: no error, no red status, and Bot's traffic has none of the examples' users", function () {
        const demo = new Set(JSON.parse(fs.readFileSync(path.join(DIR, 'demo-bot.json'), 'utf8')).map((n) => n.id));
        assert.deepStrictEqual(editor.problems(demo), []);
        assert.deepStrictEqual(editor.red(demo), []);
        const exampleUsers = new Set([...deployed.values()].flatMap(usersOf));
        const crossed = editor.debug.filter((d) => demo.has(d.id) && d.msg && exampleUsers.has(d.msg.topic));
        assert.deepStrictEqual(crossed, []);
    });
});
