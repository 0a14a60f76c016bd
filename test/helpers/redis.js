'use strict';
// A real redis-server (Debian's package) on a free loopback port, without persistence, for the
// cluster tests; `flush()` empties it between tests.

const { spawn, spawnSync } = require('child_process');
const { freePort, waitForPort } = require('./brokers');

const REDIS = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((file) => spawnSync('test', ['-x', file]).status === 0);

class RedisUnderTest {
    async start() {
        if (!REDIS) throw new Error('redis-server is not installed (apt-get install redis-server): cluster tests need it');
        this.port = await freePort();
        this.process = spawn(REDIS, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
            stdio: ['ignore', 'ignore', 'pipe'],
        });
        await waitForPort(this.port);
        this.url = `redis://127.0.0.1:${this.port}`;
        return this;
    }

    async flush() {
        const Redis = require('ioredis');
        const client = new Redis(this.url);
        try {
            await client.flushall();
        } finally {
            await client.quit();
        }
    }

    async stop() {
        const child = this.process;
        if (!child || child.exitCode !== null) return;
        await new Promise((resolve) => {
            child.once('exit', resolve);
            child.kill('SIGTERM');
        });
    }
}

module.exports = { RedisUnderTest, REDIS };
