'use strict';
// The embedded broker in a child process, so a test can kill it with SIGKILL (a crash: nothing is
// flushed, no will is published) and start it again on the same disk store.

const { spawn } = require('child_process');
const path = require('path');

const CHILD = `
const { EmbeddedBroker } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'nodes', 'lib', 'broker'))});
EmbeddedBroker.start(JSON.parse(process.argv[1])).then((broker) => {
    broker.on('refused', (r) => process.stdout.write(JSON.stringify({ refused: r }) + '\\n'));
    process.stdout.write(JSON.stringify({ port: broker.port }) + '\\n');
}, (error) => { console.error(error); process.exit(1); });
`;

class BrokerProcess {
    constructor(options) {
        this.options = options;
        this.refusals = [];
    }

    /** Starts the broker (on the same port as before, after a restart) and resolves once it listens. */
    start() {
        const options = { ...this.options, port: this.port || this.options.port || 0 };
        this.child = spawn(process.execPath, ['-e', CHILD, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        this.child.stderr.on('data', (d) => (stderr += d));
        return new Promise((resolve, reject) => {
            let buffered = '';
            const timer = setTimeout(() => reject(new Error(`broker process did not start: ${stderr}`)), 15000);
            this.child.once('exit', (code) => reject(new Error(`broker process exited with ${code}: ${stderr}`)));
            this.child.stdout.on('data', (d) => {
                buffered += d;
                let nl;
                while ((nl = buffered.indexOf('\n')) >= 0) {
                    const line = JSON.parse(buffered.slice(0, nl));
                    buffered = buffered.slice(nl + 1);
                    if (line.refused) this.refusals.push(line.refused);
                    if (line.port) {
                        clearTimeout(timer);
                        this.port = line.port;
                        this.url = `mqtt://127.0.0.1:${line.port}`;
                        resolve(this);
                    }
                }
            });
        });
    }

    /** A crash: SIGKILL, then wait for the process to be gone. */
    kill() {
        const child = this.child;
        if (!child || child.exitCode !== null || child.signalCode) return Promise.resolve();
        return new Promise((resolve) => {
            child.removeAllListeners('exit');
            child.once('exit', resolve);
            child.kill('SIGKILL');
        });
    }
}

module.exports = { BrokerProcess };
