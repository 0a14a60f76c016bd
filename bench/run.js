'use strict';
// npm run bench [-- --quick] [-- --seed=<n>]: the IM nodes against Node-RED's core MQTT nodes and raw
// MQTT.js (as a user writes it, and on exactly the IM transport), side by side in one run, on
// 127.0.0.1, every case bounded in count and time; the product's defaults beside the open in-memory
// broker and a clean session. Results go to bench/results/<time>-<commit>[-quick].json with the
// commit, the versions and the machine; `node scripts/bench-table.js` turns the newest into the table
// of docs/PERFORMANCE.md. The last line sums the run up (see summaryLine).

const { execFile, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startBrokers, startNodeRed, coreNodesUsePackageMqtt, round, seededRandom } = require('./common');
const { relayCase } = require('./relay');
const { fanoutCase, fanoutGlobals } = require('./fanout');
const { loginCase, loginGlobals } = require('./login');
const { clusterCase } = require('./cluster');
const { REDIS } = require('../test/helpers/redis');
const { historyCase } = require('./history');
const meta = require('./results-meta');
const { renderSection, summaryLine } = require('../scripts/bench-table');

const QUICK = process.argv.includes('--quick');
const SEED = Number(/^--seed=(\d+)$/.exec(process.argv.find((a) => a.startsWith('--seed=')) ?? '')?.[1] ?? Date.now() % 2 ** 31);
/** --only=<text>: only the relay cells whose key contains it, no other case and no results file (for profiling). */
const ONLY = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
/** --core-mqtt=package: the core MQTT nodes on the package's MQTT.js rather than Node-RED's pinned one. */
const CORE_MQTT = process.argv.includes('--core-mqtt=package') ? 'package' : 'node-red';
const log = (line) => console.log(line);

function fileLimit() {
    try {
        return Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim()) || 1024;
    } catch {
        return 1024;
    }
}

function memory(url, accounts) {
    return new Promise((resolve) => {
        execFile(
            process.execPath,
            ['--expose-gc', path.join(__dirname, 'memory.js'), url, String(accounts)],
            { timeout: 120000 },
            (error, stdout) => {
                const line = stdout.trim().split('\n').pop();
                try {
                    resolve(JSON.parse(line));
                } catch {
                    resolve({ accounts, error: error ? error.message : 'no result' });
                }
            },
        );
    });
}

async function main() {
    const started = Date.now();
    // Each friend is a connection of this process (the brokers run in their own processes).
    const members = QUICK ? 1000 : Math.min(10000, fileLimit() - 1000);
    const settings = {
        quick: QUICK,
        rounds: QUICK ? 3 : 5,
        count: QUICK ? 2000 : 6000,
        seconds: QUICK ? 1 : 2,
        limitMs: QUICK ? 6000 : 10000,
        members,
        pacedCount: QUICK ? 40 : 100,
        repeats: 3, // greetings (unpaced, virtual group) and login
        // The cluster: messages per relay phase, its time limit, friends of the fan-out.
        cluster: QUICK ? { count: 1000, limitMs: 4000, members: 200 } : { count: 3000, limitMs: 10000, members: 1000 },
        coreMqtt: CORE_MQTT,
    };
    const results = {
        date: new Date().toISOString(),
        seed: SEED,
        settings,
        code: meta.code(),
        versions: meta.versions(),
        machine: meta.machine(),
    };
    log(
        `bench: ${QUICK ? 'quick' : 'full'} run, seed ${SEED}, commit ${results.code.commit.slice(0, 12)}${results.code.dirty ? ' (dirty tree)' : ''}, ` +
            `${os.cpus().length} CPUs, Node ${process.version}, ${members} friends for fan-out`,
    );
    if (CORE_MQTT === 'package') results.versions.mqttCore = coreNodesUsePackageMqtt();
    const brokers = await startBrokers();
    const red = await startNodeRed({ ...fanoutGlobals(members), ...loginGlobals() });
    try {
        log('relay:');
        results.relay = await relayCase(brokers, red, { ...settings, only: ONLY, random: seededRandom(SEED), log });
        if (ONLY) return log(`--only=${ONLY}: relay cells only, no results file written`);
        results.fanout = {};
        results.login = {};
        for (const broker of brokers.filter((b) => !b.name.startsWith('secured'))) {
            log(`${broker.name}:`);
            results.fanout[broker.name] = await fanoutCase(broker, red, {
                members,
                pacedCount: settings.pacedCount,
                repeats: settings.repeats,
                log,
            });
            results.login[broker.name] = await loginCase(broker, red, { repeats: settings.repeats, log });
        }
        log('memory:');
        results.memory = [];
        for (const n of QUICK ? [100] : [100, 1000]) {
            const m = await memory(brokers[0].url, n);
            results.memory.push(m);
            log(`  ${n} accounts: ${round(m.perAccountKB, 0)} KiB each (${m.connected} connected)`);
        }
        log('history:');
        results.history = await historyCase({ ...settings, random: seededRandom(SEED), log });
    } finally {
        await red.stop();
        for (const b of brokers) await b.stop();
    }
    // The cluster after the other brokers stopped: its instances and Redis take the cores.
    if (REDIS) {
        log('cluster:');
        results.cluster = await clusterCase({ rounds: settings.rounds, ...settings.cluster, random: seededRandom(SEED + 1), log });
    } else {
        results.cluster = { skipped: 'redis-server is not installed' };
        log('cluster: not measured, redis-server is not installed');
    }
    results.machine.loadEnd = os.loadavg();
    results.seconds = round((Date.now() - started) / 1000, 1);
    const dir = path.join(__dirname, 'results');
    fs.mkdirSync(dir, { recursive: true });
    const stamp = results.date.replace(/[:.]/g, '-').slice(0, 19);
    const file = path.join(dir, `${stamp}-${results.code.commit.slice(0, 8)}${QUICK ? '-quick' : ''}.json`);
    fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
    const source = path.relative(path.join(__dirname, '..'), file);
    log('');
    log(renderSection(results, source));
    log('');
    log(`results: ${source} (${results.seconds} s); docs table: node scripts/bench-table.js`);
    log(summaryLine(results));
}

main().then(
    () => process.exit(0),
    (error) => {
        console.error(error);
        process.exit(1);
    },
);
