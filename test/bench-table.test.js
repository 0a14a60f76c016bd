'use strict';
// The table of docs/PERFORMANCE.md is generated from a benchmark results file by
// scripts/bench-table.js: run it on a fixture and check the table, the verdicts and the exact last
// line, so the script cannot break silently; and check that the doc's table is the one its named
// results file generates (nobody typed it).

const assert = require('assert');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { BEGIN, END, renderSection, summaryLine } = require('../scripts/bench-table');

const ROOT = path.join(__dirname, '..');
const SCRIPT = path.join(ROOT, 'scripts', 'bench-table.js');
const FIXTURE = path.join(__dirname, 'fixtures', 'bench-results.json');
const LAST_LINE =
    /^bench: relay ims\/core \d+\.\d\dx, ims\/raw \d+\.\d\dx, ims\/transport \d+\.\d\dx; p99@5k ims\/transport \d+\.\d\dx; secured\/open \d+\.\d\dx$/;
const X = '(\\d+\\.\\d\\dx|n/a)';
const LAST_LINE_OR_NA = new RegExp(
    `^bench: relay ims/core ${X}, ims/raw ${X}, ims/transport ${X}; p99@5k ims/transport ${X}; secured/open ${X}$`,
);

describe('bench table script (scripts/bench-table.js)', function () {
    let dir;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-bench-table-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    function docWithMarkers() {
        const doc = path.join(dir, 'PERFORMANCE.md');
        fs.writeFileSync(doc, `# Before\n\n${BEGIN}\nold table\n${END}\n\n## After\n`);
        return doc;
    }

    function run(file, doc) {
        return execFileSync(process.execPath, [SCRIPT, file, '--doc', doc], { encoding: 'utf8' });
    }

    it('writes the table between the markers, keeps the rest, and prints the exact last line', function () {
        const results = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
        const doc = docWithMarkers();
        const out = run(FIXTURE, doc);
        const text = fs.readFileSync(doc, 'utf8');
        assert.ok(text.startsWith(`# Before\n\n${BEGIN}\n`));
        assert.ok(text.endsWith(`${END}\n\n## After\n`));
        assert.ok(!text.includes('old table'));
        const lines = out.trim().split('\n');
        const last = lines[lines.length - 1];
        assert.match(last, LAST_LINE);
        const r = results.relay.ratios;
        const x = (name) => `${r[name].median.toFixed(2)}x`;
        assert.strictEqual(
            last,
            `bench: relay ims/core ${x('embedded.qos1.rate.ims/core')}, ims/raw ${x('embedded.qos1.rate.ims/raw')}, ` +
                `ims/transport ${x('embedded.qos1.rate.ims/transport')}; p99@5k ims/transport ${x('embedded.qos1.p99_5k.ims/transport')}; ` +
                `secured/open ${x('defaults.qos1.rate.secured/open')}`,
        );
        // The doc shows the same line, the commit, and a row per measured cell with its spread.
        assert.ok(text.includes(`\n${last}\n`));
        assert.ok(text.includes(results.code.commit.slice(0, 12)));
        assert.ok(text.includes('(clean tree)'));
        assert.ok(text.includes('| broker | bot | QoS | msg/s |'));
        for (const cell of Object.values(results.relay.summary)) {
            const median = Math.round(cell.rate.median).toLocaleString('en-US').replace(/,/g, ' ');
            assert.ok(text.includes(` | ${cell.qos} | ${median} (`), `a row for ${cell.broker}/${cell.contender}`);
        }
        assert.match(
            text,
            /\| relay QoS 1 ims\/core on the embedded broker \| ≥ 1 \| [\d.]+ \([\d.]+–[\d.]+\) \| (met|\*\*missed\*\* by \d+ %) \|/,
        );
        assert.ok(text.includes('default pacing'));
        // Run again: the same text (the markers survive a rewrite).
        run(FIXTURE, doc);
        assert.strictEqual(fs.readFileSync(doc, 'utf8'), text);
    });

    it('says so when the run measured a dirty tree, and fails without markers', function () {
        const results = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
        results.code = { ...results.code, dirty: true, dirtyFiles: ['src/lib/session.ts'] };
        const file = path.join(dir, 'dirty.json');
        fs.writeFileSync(file, JSON.stringify(results));
        const doc = docWithMarkers();
        run(file, doc);
        assert.match(fs.readFileSync(doc, 'utf8'), /\*\*on a dirty tree\*\* \(uncommitted changes in src\/lib\/session\.ts/);
        const bare = path.join(dir, 'bare.md');
        fs.writeFileSync(bare, '# no markers\n');
        assert.throws(() => execFileSync(process.execPath, [SCRIPT, file, '--doc', bare], { stdio: 'pipe' }), /no generated section/);
    });

    it('shows the cluster: a row per instance count with its ratios and Redis cost, or why it was not measured', function () {
        const results = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
        const one = (median) => ({ min: median, median, max: median, n: 1 });
        const cell = (instances, redis, relay, ms) => ({
            instances,
            redis,
            relay: { rate: one(relay), ...(redis ? { redisPerMessage: one(2) } : {}) },
            fanout: { rate: one(200000 / ms), ms: one(ms), ...(redis ? { redisPerMessage: one(1) } : {}) },
        });
        results.cluster = {
            members: 200,
            rounds: [{}],
            summary: {
                single: cell(1, false, 2000, 50),
                'cluster-1': cell(1, true, 1500, 50),
                'cluster-2': cell(2, true, 1000, 100),
                'cluster-3': { ...cell(3, true, 800, 200), failed: 1, error: 'ims-broker did not start' },
            },
            ratios: {
                'cluster-1.relay/single': one(0.75),
                'cluster-1.fanout/single': one(1),
                'cluster-2.relay/single': one(0.5),
                'cluster-2.fanout/single': one(0.5),
            },
        };
        const text = renderSection(results, 'x.json');
        assert.ok(text.includes('### Cluster on Redis'));
        assert.ok(text.includes('| one process, no Redis | 2 000 | 1 |  | 50 | 1 |  |'), text);
        assert.ok(text.includes('| 1 on Redis | 1 500 | 0.75 | 2.0 | 50 | 1.00 | 1.0 |'));
        assert.ok(text.includes('| 2 on Redis | 1 000 | 0.50 | 2.0 | 100 | 0.50 | 1.0 |'));
        assert.ok(text.includes('| 3 on Redis (**failed** in 1 of 1 rounds: ims-broker did not start) | 800 |'));
        results.cluster = { skipped: 'redis-server is not installed' };
        assert.ok(renderSection(results, 'x.json').includes('Not measured: redis-server is not installed.'));
    });

    it('docs/PERFORMANCE.md holds the table its named results file generates', function () {
        const text = fs.readFileSync(path.join(ROOT, 'docs', 'PERFORMANCE.md'), 'utf8');
        const begin = text.indexOf(BEGIN);
        const end = text.indexOf(END);
        assert.ok(begin >= 0 && end > begin, 'the markers of the generated section');
        const section = text.slice(begin + BEGIN.length, end).trim();
        const source = /Generated from `([^`]+)`/.exec(section)?.[1];
        assert.ok(source, 'the section names its results file');
        const results = JSON.parse(fs.readFileSync(path.join(ROOT, source), 'utf8'));
        assert.strictEqual(section, renderSection(results, source));
        // A ratio whose cells failed in every round reads n/a (the table says which cell failed and why).
        assert.match(summaryLine(results), LAST_LINE_OR_NA);
    });
});

describe('bench table: the history case (issue 14)', function () {
    it('shows the fetch time and the relay cost of history when a run measured them, and nothing when not', function () {
        const results = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
        assert.ok(!renderSection(results, 'fixture.json').includes('history:'), 'an older run has no history rows');
        results.history = {
            fetch: { stored: 100000, requests: 30, fillSeconds: 40.2, newestMs: 3.25, newestP95Ms: 6.5, middleMs: 3.5 },
            cost: { rounds: 5, count: 6000, onRate: 4500, offRate: 5000, ratio: 0.9, ratioMin: 0.85, ratioMax: 0.97 },
        };
        const section = renderSection(results, 'fixture.json');
        assert.match(
            section,
            /\| embedded \(secured, disk store\) \| history: newest 50 of 100000 stored \| 3\.25 ms \| p95 6\.50 ms; 50 from the middle 3\.50 ms; 30 requests \|/,
        );
        assert.match(section, /\| history: relay QoS 1, on \/ off \| 0\.90x \| 4 500 \/ 5 000 msg\/s, 5 rounds \(0\.85–0\.97\) \|/);
    });
});
