'use strict';
// A login the secured broker refuses over WebSocket: the client hears the CONNACK with the reason, as
// it does over TCP, instead of a plain close (aedes ends the stream right after writing the CONNACK).

const assert = require('assert');
const mqtt = require('mqtt');
const { AedesUnderTest, freePort } = require('./helpers/brokers');

const ACCOUNTS = [{ user: 'UserA', password: 'a-pass' }];

/** Connects once, without reconnecting, and resolves with what the broker answered. */
function connectOnce(url, options) {
    return new Promise((resolve) => {
        const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
        let answered = false;
        const finish = (outcome) => {
            if (answered) return;
            answered = true;
            client.end(true);
            resolve(outcome);
        };
        client.once('connect', () => finish({ connected: true }));
        client.once('error', (error) => finish({ error }));
        client.once('close', () => setTimeout(() => finish({ closed: true }), 200));
    });
}

describe('a refused login over WebSocket', function () {
    let broker;
    let wsUrl;
    before(async function () {
        broker = await new AedesUnderTest({
            wsPort: await freePort(),
            security: { accounts: ACCOUNTS },
            // Enough failed logins before the back-off (whose refusal is a CONNACK too) for every attempt here.
            limits: { failedLoginsPerUser: 100, failedLoginsPerAddress: 100 },
        }).start();
        wsUrl = `ws://127.0.0.1:${broker.broker.wsPort}/mqtt`;
    });
    after(async function () {
        await broker.stop();
    });

    it('reaches the client as the CONNACK: bad user name or password, every time', async function () {
        for (let attempt = 0; attempt < 5; attempt++) {
            const outcome = await connectOnce(wsUrl, { clientId: `GID_IMS@@@Dev_${attempt}`, username: 'UserA', password: 'wrong' });
            assert.ok(outcome.error, `attempt ${attempt}: the client saw ${JSON.stringify(outcome)}, not a refusal`);
            assert.match(outcome.error.message, /Bad user ?name or password/i);
            assert.strictEqual(outcome.error.code, 4);
        }
    });

    it('a refusal aedes itself answers (MQTT 5, which it does not speak) arrives as well', async function () {
        const outcome = await connectOnce(wsUrl, { protocolVersion: 5, clientId: 'GID_IMS@@@Dev5', username: 'UserA', password: 'a-pass' });
        assert.ok(outcome.error, JSON.stringify(outcome));
        assert.match(outcome.error.message, /Unacceptable protocol version/i);
    });

    it('an unknown user hears the same; the right password still connects', async function () {
        const unknown = await connectOnce(wsUrl, { clientId: 'GID_IMS@@@DevX', username: 'Nobody', password: 'x' });
        assert.ok(unknown.error, JSON.stringify(unknown));
        assert.strictEqual(unknown.error.code, 4);
        const right = await connectOnce(wsUrl, { clientId: 'GID_IMS@@@DevA', username: 'UserA', password: 'a-pass' });
        assert.deepStrictEqual(right, { connected: true });
    });
});
