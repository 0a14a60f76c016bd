'use strict';
// The in-memory history store at its bound, for long: a full log drops its oldest entry at every
// append, and what is kept (and found, and replaced) stays exactly the newest entries, in order,
// across the moments the store compacts its array.

const assert = require('assert');
const { MemoryHistoryStore } = require('../nodes/lib/broker/historyStore');

describe('the in-memory history store at its bound', function () {
    it('keeps the newest entries of a full log, in order, through 3 000 appends', async function () {
        const store = new MemoryHistoryStore();
        const bounds = { perConversation: 10, maxAgeMs: Infinity };
        const message = (i) => ({ v: 1, id: `m${i}`, type: 'chat', from: 'Alice', ts: i, text: `t${i}` });
        for (let i = 1; i <= 3000; i++) {
            const entry = await store.append('u/Bob/Alice', i, message(i), bounds);
            assert.strictEqual(entry.seq, i);
        }
        assert.strictEqual(await store.lastSeq('u/Bob/Alice'), 3000);
        const kept = await store.range('u/Bob/Alice', { after: 0, limit: 50 }, 0);
        assert.deepStrictEqual(
            kept.map((e) => e.seq),
            Array.from({ length: 10 }, (_, i) => 2991 + i),
        );
        const page = await store.range('u/Bob/Alice', { before: 2999, limit: 3 }, 0);
        assert.deepStrictEqual(
            page.map((e) => e.message.id),
            ['m2996', 'm2997', 'm2998'],
        );
        assert.strictEqual(await store.find('u/Bob/Alice', 'm2990'), undefined, 'a dropped entry is not found');
        const last = await store.find('u/Bob/Alice', 'm2995');
        await store.replace('u/Bob/Alice', { ...last, message: { ...last.message, text: 'edited' } });
        assert.strictEqual((await store.find('u/Bob/Alice', 'm2995')).message.text, 'edited');
        assert.strictEqual((await store.range('u/Bob/Alice', { after: 2994, limit: 1 }, 0))[0].message.text, 'edited');
    });
});
