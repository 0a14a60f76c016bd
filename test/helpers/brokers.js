'use strict';
// Real brokers for the integration tests: aedes in-process (through the package's own EmbeddedBroker)
// on an ephemeral 127.0.0.1 port, and Mosquitto with a temporary config when its binary is present.
// Each can be stopped and started again on the same port, for the reconnect tests.

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { EmbeddedBroker } = require('../../nodes/lib/broker');

const MOSQUITTO =
    ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find((file) => fs.existsSync(file)) ||
    whichSync('mosquitto');

function whichSync(cmd) {
    const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : undefined;
}

function freePort() {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            server.close(() => resolve(port));
        });
    });
}

/** Resolves once something accepts TCP connections on the port; gives up after `ms`. */
async function waitForPort(port, ms = 5000) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
        const ok = await new Promise((resolve) => {
            const socket = net.connect(port, '127.0.0.1');
            socket.once('connect', () => {
                socket.destroy();
                resolve(true);
            });
            socket.once('error', () => resolve(false));
        });
        if (ok) return;
        await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`nothing listening on 127.0.0.1:${port} after ${ms} ms`);
}

class AedesUnderTest {
    constructor(options = {}) {
        this.name = 'aedes';
        this.options = options;
    }
    async start(port = 0) {
        this.broker = await EmbeddedBroker.start({ ...this.options, port, host: '127.0.0.1' });
        this.port = this.broker.port;
        this.url = `mqtt://127.0.0.1:${this.port}`;
        return this;
    }
    async stop() {
        if (this.broker) await this.broker.close();
        this.broker = undefined;
    }
    async restart() {
        await this.stop();
        await this.start(this.port);
    }
}

class MosquittoUnderTest {
    constructor(options = {}) {
        this.name = 'mosquitto';
        this.options = options;
    }
    async start(port) {
        this.port = port || this.port || (await freePort());
        this.dir = this.dir || fs.mkdtempSync(path.join(os.tmpdir(), 'ims-mosquitto-'));
        const conf = path.join(this.dir, 'mosquitto.conf');
        const lines = [
            `listener ${this.port} 127.0.0.1`,
            `allow_anonymous ${this.options.passwordFile ? 'false' : 'true'}`,
            ...(this.options.passwordFile ? [`password_file ${this.options.passwordFile}`] : []),
            ...(this.options.aclFile ? [`acl_file ${this.options.aclFile}`] : []),
            'persistence false',
            'user root',
            'log_dest stderr',
            'log_type error',
            ...(this.options.extraConfig || []),
        ];
        fs.writeFileSync(conf, lines.join('\n') + '\n');
        this.process = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
        this.stderr = '';
        this.process.stderr.on('data', (d) => {
            this.stderr += d;
        });
        const exited = new Promise((resolve) => this.process.once('exit', resolve));
        await Promise.race([
            waitForPort(this.port),
            exited.then((code) => {
                throw new Error(`mosquitto exited with ${code}: ${this.stderr}`);
            }),
        ]);
        this.url = `mqtt://127.0.0.1:${this.port}`;
        return this;
    }
    async stop() {
        const child = this.process;
        this.process = undefined;
        if (!child || child.exitCode !== null) return;
        await new Promise((resolve) => {
            child.once('exit', resolve);
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 3000).unref();
        });
    }
    async restart() {
        await this.stop();
        await this.start(this.port);
    }
}

/** The brokers this machine can run: aedes always, Mosquitto when installed. */
function availableBrokers() {
    const kinds = [{ name: 'aedes', create: (o) => new AedesUnderTest(o) }];
    if (MOSQUITTO) kinds.push({ name: 'mosquitto', create: (o) => new MosquittoUnderTest(o) });
    else console.log('    (mosquitto not installed: integration tests run against aedes only)');
    return kinds;
}

/** Runs `suite(kind)` inside a describe block once per available broker. */
function forEachBroker(suite) {
    for (const kind of availableBrokers()) {
        describe(`on ${kind.name}`, function () {
            suite(kind);
        });
    }
}

module.exports = { availableBrokers, forEachBroker, freePort, waitForPort, MOSQUITTO, AedesUnderTest, MosquittoUnderTest };
