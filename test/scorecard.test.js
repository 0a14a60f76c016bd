'use strict';
// The flow library's scorecard (node-red-dev validate, as `npm run validate` runs it): every check
// passes. It asks the npm registry about Node-RED and our dependencies; the flow library's catalogue,
// which these machines cannot reach, is answered by scripts/catalogue-stub.js with an empty list.

const assert = require('assert');
const { execFile } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');

describe('flow library scorecard', function () {
    this.timeout(180000);

    it('passes every check of node-red-dev validate', async function () {
        const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ims-scorecard-')), 'scorecard.json');
        const log = await new Promise((resolve, reject) => {
            execFile(
                process.execPath,
                ['-r', './scripts/catalogue-stub.js', 'node_modules/node-red-dev/bin/run', 'validate', '-o', out],
                { cwd: root, timeout: 170000 },
                (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stdout}\n${stderr}`)) : resolve(stdout + stderr)),
            );
        });
        const scorecard = JSON.parse(fs.readFileSync(out, 'utf8'));
        const checks = Object.keys(scorecard);
        for (const id of ['P01', 'P03', 'P04', 'P05', 'P06', 'P07', 'P08', 'N01', 'N02', 'D01', 'D02', 'D03']) {
            assert.ok(checks.includes(id), `scorecard has ${id}: ${checks.join(', ')}`);
        }
        const failed = Object.entries(scorecard)
            .filter(([id, v]) => id !== 'package' && v.test !== true)
            .map(([id, v]) => `${id} ${JSON.stringify(v)}`);
        assert.deepStrictEqual(failed, [], log);
        fs.rmSync(path.dirname(out), { recursive: true, force: true });
    });
});
