'use strict';
// The relay driver, in a child process that lives for the whole run: an MQTT.js client that chats
// with the bot and measures its replies. It is the same client for every contender and connects anew
// for each one. The parent sends {id, cmd, ...} over IPC and gets {id, result}.

const { performance } = require('perf_hooks');
const { client, sleep, percentile } = require('./common');

const DRIVER_INBOX = 'IMS/Driver/Inbox/Chat/Bot';
const TO_BOT = 'IMS/Bot/Inbox/Chat/Driver';

class Driver {
    static async connect(url, qos, options) {
        const d = new Driver();
        d.qos = qos;
        d.run = Math.random().toString(36).slice(2, 8);
        d.seq = 0;
        d.client = await client(url, { clientId: 'GID_IMS@@@Driver_bench', ...options });
        d.onReply = () => undefined;
        d.client.on('message', (_topic, payload) => {
            let text;
            try {
                text = JSON.parse(payload.toString()).text;
            } catch {
                return;
            }
            const [run, seq] = String(text).split(':');
            if (run === d.run) d.onReply(Number(seq), performance.now());
        });
        await d.client.subscribeAsync(DRIVER_INBOX, { qos });
        return d;
    }

    send() {
        const seq = ++this.seq;
        const body = JSON.stringify({
            v: 1,
            id: `${this.run}-${seq}`,
            type: 'chat',
            from: 'Driver',
            ts: Date.now(),
            text: `${this.run}:${seq}`,
        });
        this.client.publish(TO_BOT, body, { qos: this.qos });
        return seq;
    }

    /** Sends until a reply comes back: the bot is subscribed and ready. */
    async ready(ms = 15000) {
        const deadline = Date.now() + ms;
        let answered = false;
        this.onReply = () => {
            answered = true;
        };
        while (!answered && Date.now() < deadline) {
            this.send();
            await sleep(20);
        }
        await sleep(100); // let the probes' replies drain
        this.onReply = () => undefined;
        if (!answered) throw new Error('the bot never answered');
    }

    /** Maximum rate: `count` messages with at most `window` unanswered; messages per second. */
    throughput(count, window, limitMs = 30000) {
        return new Promise((resolve) => {
            let sent = 0;
            let received = 0;
            const first = this.seq + 1;
            const start = performance.now();
            const timer = setTimeout(() => finish(true), limitMs);
            const pump = () => {
                while (sent < count && sent - received < window) {
                    this.send();
                    sent++;
                }
            };
            const finish = (timedOut) => {
                clearTimeout(timer);
                this.onReply = () => undefined;
                const seconds = (performance.now() - start) / 1000;
                resolve({ rate: received / seconds, received, count, timedOut });
            };
            this.onReply = (seq) => {
                if (seq < first) return;
                received++;
                if (received >= count) finish(false);
                else pump();
            };
            pump();
        });
    }

    /** A fixed offered rate for `seconds`: p50 and p99 of the reply latency in milliseconds. */
    async latency(rate, seconds) {
        const sentAt = new Map();
        const latencies = [];
        this.onReply = (seq, now) => {
            const t = sentAt.get(seq);
            if (t !== undefined) {
                latencies.push(now - t);
                sentAt.delete(seq);
            }
        };
        // Sent in 1 ms ticks (5 messages at 5k/s): 5 ms ticks sent bursts of 25, and the last of a burst
        // queued behind the other 24 at every hop, which measured the burst more than the bot.
        const tick = 1; // ms
        const perTick = (rate * tick) / 1000;
        const total = Math.round(rate * seconds);
        const start = performance.now();
        let sent = 0;
        while (sent < total) {
            const due = Math.min(total, Math.floor(((performance.now() - start) / tick + 1) * perTick));
            while (sent < due) {
                const seq = this.send();
                sentAt.set(seq, performance.now());
                sent++;
            }
            await sleep(tick);
        }
        const deadline = Date.now() + 3000; // what is not back by then counts as lost
        while (sentAt.size > 0 && Date.now() < deadline) await sleep(10);
        this.onReply = () => undefined;
        latencies.sort((a, b) => a - b);
        return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), lost: sentAt.size, sent: total };
    }

    end() {
        return this.client.endAsync();
    }
}

let driver;
process.on('message', async ({ id, cmd, ...args }) => {
    try {
        let result;
        if (cmd === 'connect') {
            await driver?.end();
            driver = await Driver.connect(args.url, args.qos, args.options);
        } else if (cmd === 'disconnect') {
            await driver?.end();
            driver = undefined;
        } else if (cmd === 'ready') await driver.ready();
        else if (cmd === 'throughput') result = await driver.throughput(args.count, args.window, args.limitMs);
        else if (cmd === 'latency') result = await driver.latency(args.rate, args.seconds);
        else if (cmd === 'end') {
            await driver?.end();
            process.send({ id, result: null }, () => process.exit(0));
            return;
        }
        process.send({ id, result });
    } catch (error) {
        process.send({ id, error: error.message });
    }
});

process.on('disconnect', () => process.exit(0));
