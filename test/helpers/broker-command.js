'use strict';
// The `ims-broker` command (bin/ims-broker.js) as a user runs it, in a child process: it prints JSON
// lines (listening, refused, closed...), and stops on SIGTERM or dies on SIGKILL.

const { spawn } = require('child_process');
const path = require('path');

const BIN = path.join(__dirname, '..', '..', 'bin', 'ims-broker.js');

class BrokerCommand {
    constructor(args) {
        this.args = args;
        this.events = [];
    }

    /** Starts it and resolves with the `listening` event. */
    start() {
        this.child = spawn(process.execPath, [BIN, ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        this.child.stderr.on('data', (d) => (stderr += d));
        let buffered = '';
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`ims-broker did not start: ${stderr}`)), 15000);
            this.child.once('exit', (code) =>
                reject(new Error(`ims-broker exited with ${code}: ${stderr} ${JSON.stringify(this.events)}`)),
            );
            this.child.stdout.on('data', (d) => {
                buffered += d;
                let nl;
                while ((nl = buffered.indexOf('\n')) >= 0) {
                    const event = JSON.parse(buffered.slice(0, nl));
                    buffered = buffered.slice(nl + 1);
                    this.events.push(event);
                    if (event.event === 'listening') {
                        clearTimeout(timer);
                        this.port = event.port;
                        this.url = `mqtt://127.0.0.1:${event.port}`;
                        resolve(event);
                    }
                    if (event.event === 'error') reject(new Error(event.error));
                }
            });
        });
    }

    /** SIGTERM (or SIGKILL for a crash); resolves with the exit code and signal. */
    stop(signal = 'SIGTERM') {
        const child = this.child;
        if (!child || child.exitCode !== null || child.signalCode) return Promise.resolve({ code: child?.exitCode });
        return new Promise((resolve) => {
            child.removeAllListeners('exit');
            child.once('exit', (code, sig) => resolve({ code, signal: sig }));
            child.kill(signal);
        });
    }
}

module.exports = { BrokerCommand };
