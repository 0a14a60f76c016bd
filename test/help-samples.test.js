'use strict';
// The nodes' help shows what goes in and what comes out: each help's sample input (<pre
// class="ims-sample-in">) is sent to Alice's node of that type, through the real runtime and a real
// broker, and what Bob's node emits is compared with the sample output (<pre class="ims-sample-out">):
// the same keys and types at every level, and the same topic, payload and ims.type. Both languages
// show the same samples.

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { load, account, brokerForSuite } = require('./helpers/red');
const { imNode, send, act, record, allConnected, catchNode } = require('./helpers/flows');

const LOCALES = path.join(__dirname, '..', 'nodes', 'locales');
const unescapeHtml = (text) =>
    text
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&amp;/g, '&');

/** The sample input and output of a node's help in `lang`, parsed; undefined when it shows none. */
function samplesOf(type, lang) {
    const html = fs.readFileSync(path.join(LOCALES, lang, `${type}.html`), 'utf8');
    const pre = (cls) => {
        const m = new RegExp(`<pre class="${cls}">([\\s\\S]*?)</pre>`).exec(html);
        return m ? JSON.parse(unescapeHtml(m[1])) : undefined;
    };
    const input = pre('ims-sample-in');
    return input === undefined ? undefined : { input, output: pre('ims-sample-out') };
}

/** Where two values differ in shape (keys at every level, and types), as a list of paths. */
function shapeDifferences(sample, real, at = 'msg') {
    // Node-RED's own bookkeeping (_msgid) is not part of what the help describes.
    if (at === 'msg') real = Object.fromEntries(Object.entries(real).filter(([key]) => !key.startsWith('_')));
    const kind = (v) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);
    if (kind(sample) !== kind(real)) return [`${at}: ${kind(sample)} in the help, ${kind(real)} in fact`];
    if (kind(sample) !== 'object') return [];
    const keys = new Set([...Object.keys(sample), ...Object.keys(real)]);
    const out = [];
    for (const key of keys) {
        if (!(key in real)) out.push(`${at}.${key}: in the help, not in fact`);
        else if (!(key in sample)) out.push(`${at}.${key}: in fact, not in the help`);
        else out.push(...shapeDifferences(sample[key], real[key], `${at}.${key}`));
    }
    return out;
}

/** For each node type with samples: how Alice's and Bob's accounts are set up before the sample is sent. */
const SETUPS = {
    'ims-chat': async () => undefined,
    'ims-friend-request': async () => undefined,
    'ims-moments': async () => act('nB', { action: 'follow', topic: 'Alice' }),
    'ims-group': async () => {
        await act('nA', { action: 'create', topic: 'Group123' });
        await act('nB', { action: 'join', topic: 'Group123' });
    },
    'ims-broadcast': async () => undefined,
};

describe("the nodes' help samples, run", function () {
    this.timeout(20000);
    const suite = brokerForSuite();

    it('every IM node with an input shows a sample, the same in both languages', function () {
        for (const type of Object.keys(SETUPS)) {
            const en = samplesOf(type, 'en-US');
            assert.ok(en && en.output, `${type}: en-US help has a sample input and output`);
            assert.deepStrictEqual(samplesOf(type, 'zh-CN'), en, `${type}: zh-CN shows the same sample`);
        }
    });

    for (const [type, setup] of Object.entries(SETUPS)) {
        it(`${type}: the sample input, sent to Alice's node, comes out of Bob's as the sample output shows`, async function () {
            const { input, output } = samplesOf(type, 'en-US');
            await load([
                account('cfgA', 'Alice', suite.broker.url, { region: 'Hangzhou' }),
                account('cfgB', 'Bob', suite.broker.url, { region: 'Beijing' }),
                ...imNode(type, 'nA', 'A'),
                ...imNode(type, 'nB', 'B'),
                ...catchNode(),
            ]);
            await allConnected(['A', 'B']);
            const bob = record('nB');
            await setup();
            send('nA', input);
            const real = await bob.next((m) => m.ims && m.ims.type === output.ims.type);
            assert.deepStrictEqual(shapeDifferences(output, real), [], `${type}: ${JSON.stringify(real)}`);
            assert.deepStrictEqual([real.topic, real.payload], [output.topic, output.payload], `${type}: topic and payload`);
        });
    }
});
