'use strict';
// What ties a results file to the code and the machine: the commit and whether the tree was dirty,
// the versions of Node and of every dependency that carries messages, CPUs and load.

const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { ROOT } = require('./common');
const { MOSQUITTO } = require('../test/helpers/brokers');

function run(cmd, args) {
    try {
        return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (error) {
        return (error.stdout ?? '').toString().trim() || undefined;
    }
}

/** The version of `name` as Node would load it from `from`: the nearest node_modules/<name> upwards. */
function versionOf(name, from = ROOT) {
    // Not require.resolve: ESM-only packages (aedes) do not export their package.json.
    for (let dir = from; ; dir = path.dirname(dir)) {
        const file = path.join(dir, 'node_modules', name, 'package.json');
        if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')).version;
        if (path.dirname(dir) === dir) return undefined;
    }
}

function code() {
    // Results files of earlier runs are not code: they do not make the tree dirty.
    const changes = (run('git', ['status', '--porcelain']) ?? '')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.slice(3))
        .filter((f) => !f.startsWith('bench/results/'));
    return { commit: run('git', ['rev-parse', 'HEAD']) ?? 'unknown', dirty: changes.length > 0, dirtyFiles: changes.slice(0, 20) };
}

function versions() {
    const coreNodes = path.dirname(require.resolve('@node-red/nodes/package.json', { paths: [ROOT] }));
    const mosquitto = MOSQUITTO ? /mosquitto version (\S+)/.exec(run(MOSQUITTO, ['-h']) ?? '')?.[1] : undefined;
    return {
        node: process.version,
        mqtt: versionOf('mqtt'),
        mqttCore: versionOf('mqtt', coreNodes),
        nodeRed: versionOf('node-red'),
        aedes: versionOf('aedes'),
        aedesPersistenceLevel: versionOf('aedes-persistence-level'),
        classicLevel: versionOf('classic-level'),
        mosquitto,
    };
}

function machine() {
    const cpus = os.cpus();
    return { cpus: cpus.length, cpu: cpus[0]?.model, platform: `${os.platform()} ${os.release()}`, loadStart: os.loadavg() };
}

module.exports = { code, versions, machine };
