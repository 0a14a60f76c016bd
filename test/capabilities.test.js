'use strict';
// The embedded broker says what it adds to MQTT on a retained $IMS/capabilities message, so clients
// learn it (virtual groups, attribute push, security) instead of being told by a checkbox.

const assert = require('assert');
const mqtt = require('mqtt');
const { EmbeddedBroker, CAPABILITIES_TOPIC } = require('../nodes/lib/broker');

async function capabilitiesOf(broker, login = {}) {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'GID_IMS@@@caps', reconnectPeriod: 0, ...login });
    try {
        const message = new Promise((resolve) => client.once('message', (topic, payload) => resolve({ topic, body: JSON.parse(payload) })));
        const [grant] = await client.subscribeAsync(CAPABILITIES_TOPIC);
        assert.strictEqual(grant.qos, 0);
        return await message;
    } finally {
        await client.endAsync();
    }
}

describe('broker capabilities', function () {
    it('an open broker announces virtual groups and attribute push, not secured', async function () {
        const broker = await EmbeddedBroker.start({ port: 0 });
        try {
            const { topic, body } = await capabilitiesOf(broker);
            assert.strictEqual(topic, '$IMS/capabilities');
            assert.deepStrictEqual(body, {
                v: 1,
                broker: 'ims-broker',
                virtualGroups: true,
                attributePush: true,
                secured: false,
                history: false,
            });
        } finally {
            await broker.close();
        }
    });

    it('a secured broker lets any account read it, and says it is secured', async function () {
        const broker = await EmbeddedBroker.start({ port: 0, security: { accounts: [{ user: 'Alice', password: 'pw' }] } });
        try {
            const { body } = await capabilitiesOf(broker, { username: 'Alice', password: 'pw' });
            assert.strictEqual(body.secured, true);
            assert.strictEqual(body.virtualGroups, true);
            assert.strictEqual(body.history, true, 'a secured broker keeps history (issue 14)');
        } finally {
            await broker.close();
        }
    });

    it('no client may publish on it', async function () {
        const broker = await EmbeddedBroker.start({ port: 0 });
        const forger = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'GID_IMS@@@forger', reconnectPeriod: 0 });
        try {
            const closed = new Promise((resolve) => forger.once('close', resolve));
            forger.publish(CAPABILITIES_TOPIC, '{"v":1,"virtualGroups":false}', { qos: 1, retain: true });
            await closed;
            const { body } = await capabilitiesOf(broker);
            assert.strictEqual(body.virtualGroups, true);
        } finally {
            forger.end(true);
            await broker.close();
        }
    });
});
