'use strict';
// Message catalogues and help: zh-CN has every key of en-US (and no other), every node has help in both
// languages, and every key the editor or the runtime asks for exists in the catalogue it is looked up in.

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const pkg = require('../package.json');

const root = path.join(__dirname, '..');
const LANGS = ['en-US', 'zh-CN'];
const sets = Object.keys(pkg['node-red'].nodes);
const catalogue = (lang, set) => JSON.parse(fs.readFileSync(path.join(root, 'nodes', 'locales', lang, `${set}.json`), 'utf8'));

function keysOf(obj, prefix = '') {
    return Object.entries(obj).flatMap(([k, v]) => (v && typeof v === 'object' ? keysOf(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}
function lookup(obj, key) {
    return key.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);
}
function placeholders(text) {
    return [...String(text).matchAll(/__(\w+)__/g)].map((m) => m[1]).sort();
}

describe('message catalogues and help', function () {
    for (const set of sets) {
        it(`${set}: zh-CN has exactly the keys of en-US, with the same placeholders`, function () {
            const en = catalogue('en-US', set);
            const zh = catalogue('zh-CN', set);
            assert.deepStrictEqual(keysOf(zh).sort(), keysOf(en).sort());
            for (const key of keysOf(en)) {
                assert.deepStrictEqual(placeholders(lookup(zh, key)), placeholders(lookup(en, key)), `${set}: ${key}`);
                assert.ok(String(lookup(zh, key)).trim(), `${set}: ${key} is not empty in zh-CN`);
            }
        });

        it(`${set}: help in both languages with inputs or details and an example`, function () {
            for (const lang of LANGS) {
                const help = fs.readFileSync(path.join(root, 'nodes', 'locales', lang, `${set}.html`), 'utf8');
                assert.match(help, new RegExp(`data-help-name="${set}"`), `${lang} ${set}`);
                const sections = [...help.matchAll(/<h3>([^<]+)<\/h3>/g)].map((m) => m[1]);
                assert.ok(sections.length >= 2, `${lang} ${set} has sections: ${sections}`);
                assert.ok(
                    sections.some((s) => /Example|示例/.test(s)),
                    `${lang} ${set} has an example`,
                );
            }
        });

        it(`${set}: every key its editor file uses is in its catalogue`, function () {
            const html = fs.readFileSync(path.join(root, 'nodes', `${set}.html`), 'utf8');
            const used = [
                ...[...html.matchAll(/data-i18n="(?:\[[a-z]+\])?([^"]+)"/g)].map((m) => m[1]),
                ...[...html.matchAll(/this\._\('([^']+)'\)/g)].map((m) => m[1]),
            ].filter((k) => !k.includes(':'));
            assert.ok(used.length > 0);
            const en = catalogue('en-US', set);
            for (const key of used) assert.notStrictEqual(lookup(en, key), undefined, `${set}.html uses ${key}`);
        });

        it(`${set}: every key its runtime code asks for is in its catalogue`, function () {
            const file = path.join(root, 'src', `${set}.ts`);
            const code = fs.readFileSync(file, 'utf8');
            const own = [...code.matchAll(/RED\._\('([^':]+)'/g)].map((m) => m[1]);
            const en = catalogue('en-US', set);
            for (const key of own) assert.notStrictEqual(lookup(en, key), undefined, `src/${set}.ts asks for ${key}`);
        });
    }

    it('the shared messages and the ID rules are in the ims-config catalogue', function () {
        const en = catalogue('en-US', 'ims-config');
        const red = fs
            .readdirSync(path.join(root, 'src', 'red'))
            .map((f) => fs.readFileSync(path.join(root, 'src', 'red', f), 'utf8'))
            .join('\n');
        const shared = [...red.matchAll(/shared\(RED, '([^']+)'/g)].map((m) => `ims-config.${m[1]}`);
        const account = [...red.matchAll(/RED\._\('(ims-config\.[^']+)'/g)].map((m) => m[1]);
        assert.ok(shared.length > 0 && account.length > 0);
        for (const key of [...shared, ...account]) assert.notStrictEqual(lookup(en, key), undefined, key);
        const { PROBLEM_TEXT, KIND_NAMES } = require('../nodes/lib/ids');
        for (const [key, text] of Object.entries(PROBLEM_TEXT)) {
            assert.strictEqual(en['ims-config'].rules[key], text, `rules.${key} matches the runtime's English`);
        }
        for (const [kind, name] of Object.entries(KIND_NAMES)) assert.strictEqual(en['ims-config'].rules.kind[kind], name);
    });
});
