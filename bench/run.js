'use strict';
// npm run bench [-- --quick]: the IM nodes against Node-RED's core MQTT nodes and raw MQTT.js, side by
// side in one run, on 127.0.0.1, every case bounded in count and time. Results go to
// bench/results/<date>.json; a table is printed and the last line sums it up.

const { execFileSync, execFile } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startBrokers, startNodeRed, round } = require('./common');
const { relayCase } = require('./relay');
const { fanoutCase } = require('./fanout');
const { loginCase } = require('./login');

const QUICK = process.argv.includes('--quick');
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
    const settings = { quick: QUICK, rounds: QUICK ? 1 : 3, count: QUICK ? 3000 : 10000, seconds: QUICK ? 1 : 3, members };
    log(`bench: ${QUICK ? 'quick' : 'full'} run, ${os.cpus().length} cores, Node ${process.version}, ${members} friends for fan-out`);
    const brokers = await startBrokers();
    const red = await startNodeRed();
    const results = {
        date: new Date().toISOString(),
        settings,
        machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
        brokers: {},
    };
    try {
        for (const broker of brokers) {
            log(`${broker.name}:`);
            results.brokers[broker.name] = {
                relay: await relayCase(broker, red, { ...settings, log }),
                fanout: await fanoutCase(broker, { members, log }),
                login: await loginCase(broker, { log }),
            };
        }
        log('memory:');
        results.memory = [];
        for (const n of [100, 1000]) {
            const m = await memory(brokers[0].url, n);
            results.memory.push(m);
            log(`  ${n} accounts: ${round(m.perAccountKB, 0)} KiB each (${m.connected} connected)`);
        }
    } finally {
        await red.stop();
        for (const b of brokers) await b.stop();
    }
    results.seconds = round((Date.now() - started) / 1000, 1);
    const dir = path.join(__dirname, 'results');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${results.date.slice(0, 10)}${QUICK ? '-quick' : ''}.json`);
    fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
    printTable(results);
    log(`results: ${path.relative(process.cwd(), file)} (${results.seconds} s)`);
    const r = results.brokers.embedded.relay;
    log(
        `bench: relay ims/core ${round(r['ims.qos1'].maxRate / r['core.qos1'].maxRate)}x, ims/raw ${round(r['ims.qos1'].maxRate / r['raw.qos1'].maxRate)}x; p99@5k ims ${r['ims.qos1'].p99_5k} core ${r['core.qos1'].p99_5k}`,
    );
}

function printTable(results) {
    const rows = [['broker', 'case', 'raw', 'core', 'ims', 'ims/core', 'ims/raw']];
    for (const [name, b] of Object.entries(results.brokers)) {
        for (const qos of [0, 1]) {
            const [raw, core, ims] = ['raw', 'core', 'ims'].map((c) => b.relay[`${c}.qos${qos}`].maxRate);
            rows.push([name, `relay QoS ${qos} msg/s`, raw, core, ims, round(ims / core), round(ims / raw)]);
        }
        for (const qos of [0, 1]) {
            const [raw, core, ims] = ['raw', 'core', 'ims'].map((c) => b.relay[`${c}.qos${qos}`].cpuPerMessageUs);
            rows.push([name, `relay QoS ${qos} bot CPU us/msg`, raw, core, ims, round(ims / core), round(ims / raw)]);
        }
        for (const key of ['p50_1k', 'p99_1k', 'p50_5k', 'p99_5k']) {
            const [raw, core, ims] = ['raw', 'core', 'ims'].map((c) => b.relay[`${c}.qos1`][key]);
            rows.push([name, `relay QoS 1 ${key.replace('_', ' @')} ms`, raw, core, ims, round(ims / core), round(ims / raw)]);
        }
        rows.push([name, `greet ${b.fanout.members}: per publish ms`, '', '', b.fanout.perPublish.ms, '', '']);
        if (b.fanout.virtualGroup)
            rows.push([name, `greet ${b.fanout.members}: virtual group ms`, '', '', b.fanout.virtualGroup.ms, '', '']);
        rows.push([
            name,
            `login ${b.login.subscriptions} subs: ms (SUBSCRIBE packets)`,
            '',
            '',
            `${b.login.ms} (${b.login.subscribePackets})`,
            '',
            '',
        ]);
    }
    for (const m of results.memory)
        rows.push(['embedded', `memory ${m.accounts} accounts: KiB each`, '', '', round(m.perAccountKB, 0), '', '']);
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
    for (const r of rows) console.log(r.map((c, i) => String(c ?? '').padEnd(widths[i])).join('  '));
}

main().then(
    () => process.exit(0),
    (error) => {
        console.error(error);
        process.exit(1);
    },
);
