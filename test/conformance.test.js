'use strict';
// MQTT 3.1.1 where aedes alone falls short: overlapping subscriptions deliver one copy at the highest
// QoS of the matching subscriptions, capped by the published QoS ([MQTT-3.3.5-1]).

const assert = require('assert');
const mqtt = require('mqtt');
const { EmbeddedBroker, topicMatches } = require('../nodes/lib/broker');

const { recorder } = require('./helpers/wait');

describe('MQTT 3.1.1 conformance of the embedded broker', function () {
    let broker;
    let url;
    before(async function () {
        broker = await EmbeddedBroker.start({ port: 0 });
        url = `mqtt://127.0.0.1:${broker.port}`;
    });
    after(async function () {
        await broker.close();
    });

    const cases = [
        // [subscriptions in order, published QoS, expected QoS of the one copy]
        [
            [
                ['IMS/A/Inbox/#', 0],
                ['IMS/A/Inbox/Chat/+', 1],
            ],
            1,
            1,
        ],
        [
            [
                ['IMS/A/Inbox/Chat/+', 1],
                ['IMS/A/Inbox/#', 0],
            ],
            1,
            1,
        ],
        [
            [
                ['IMS/A/Inbox/#', 1],
                ['IMS/A/Inbox/Chat/B', 0],
            ],
            1,
            1,
        ],
        [
            [
                ['IMS/A/Inbox/#', 1],
                ['IMS/+/Inbox/Chat/B', 2],
            ],
            2,
            2,
        ],
        [[['IMS/A/Inbox/#', 1]], 2, 1],
        [
            [
                ['IMS/A/Inbox/#', 2],
                ['IMS/A/Inbox/Chat/+', 0],
            ],
            0,
            0,
        ],
    ];
    for (const [subs, published, expected] of cases) {
        it(`${subs.map(([f, q]) => `${f}@${q}`).join(' + ')}, published at QoS ${published}: one copy at QoS ${expected}`, async function () {
            const sub = await mqtt.connectAsync(url, { clientId: `s${Math.random()}`, reconnectPeriod: 0 });
            const pub = await mqtt.connectAsync(url, { clientId: `p${Math.random()}`, reconnectPeriod: 0 });
            try {
                const messages = recorder(sub, 'message', { map: (topic, payload, packet) => [payload.toString(), packet.qos] });
                for (const [filter, qos] of subs) await sub.subscribeAsync(filter, { qos });
                await pub.publishAsync('IMS/A/Inbox/Chat/B', 'x', { qos: published });
                await pub.publishAsync('IMS/A/Inbox/Chat/B', 'marker', { qos: published });
                // Copies arrive in order: once a copy of the marker is in, every copy of "x" is too.
                await messages.until(([text]) => text === 'marker', 3000);
                assert.deepStrictEqual(
                    messages.seen.filter(([text]) => text === 'x').map(([, qos]) => qos),
                    [expected],
                );
            } finally {
                await Promise.all([sub.endAsync(), pub.endAsync()]);
            }
        });
    }

    it('raises the QoS of the next copy when a subscription at a higher QoS is added later', async function () {
        const sub = await mqtt.connectAsync(url, { clientId: `s${Math.random()}`, reconnectPeriod: 0 });
        const pub = await mqtt.connectAsync(url, { clientId: `p${Math.random()}`, reconnectPeriod: 0 });
        try {
            const messages = recorder(sub, 'message', { map: (topic, payload, packet) => [payload.toString(), packet.qos] });
            const got = messages.seen;
            await sub.subscribeAsync('IMS/A/Inbox/#', { qos: 0 });
            await pub.publishAsync('IMS/A/Inbox/Chat/B', 'first', { qos: 1 });
            await messages.next(3000);
            await sub.subscribeAsync('IMS/A/Inbox/Chat/+', { qos: 1 });
            await pub.publishAsync('IMS/A/Inbox/Chat/B', 'second', { qos: 1 });
            await messages.next(3000);
            await sub.unsubscribeAsync('IMS/A/Inbox/Chat/+');
            await pub.publishAsync('IMS/A/Inbox/Chat/B', 'third', { qos: 1 });
            await messages.next(3000);
            assert.deepStrictEqual(got, [
                ['first', 0],
                ['second', 1],
                ['third', 0],
            ]);
        } finally {
            await Promise.all([sub.endAsync(), pub.endAsync()]);
        }
    });

    it('matches topic filters as MQTT does', function () {
        const yes = [
            ['#', 'a/b'],
            ['a/#', 'a'],
            ['a/#', 'a/b/c'],
            ['a/+/c', 'a/b/c'],
            ['+', 'a'],
            ['a/+', 'a/'],
        ];
        const no = [
            ['a/+', 'a/b/c'],
            ['a/b', 'a/c'],
            ['#', '$SYS/x'],
            ['+/x', '$SYS/x'],
            ['a/b/c', 'a/b'],
        ];
        for (const [f, t] of yes) assert.strictEqual(topicMatches(f, t), true, `${f} ~ ${t}`);
        for (const [f, t] of no) assert.strictEqual(topicMatches(f, t), false, `${f} !~ ${t}`);
    });
});
