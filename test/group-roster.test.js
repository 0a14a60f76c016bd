'use strict';
// The secured broker's retained member list of each group on $IMS/groups/<group>: members read it and
// see it change at every join and leave; nobody else reads it, by name or by wildcard, live or retained.

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { EmbeddedBroker } = require('../nodes/lib/broker');
const { decodeRoster, rosterTopic } = require('../nodes/lib/groupRoster');
const { connectAs, grants, envelope, nextOn } = require('./helpers/mqtt-clients');
const { RedisUnderTest } = require('./helpers/redis');

const ACCOUNTS = ['Alice', 'Bob', 'Carol', 'Mallory'].map((user) => ({ user, password: `${user}-pw` }));
const ROSTER = rosterTopic('GroupTeam');

/** Resolves with the next roster of `topic` that satisfies `pred` (already received, or the next ones). */
function rosterWhere(client, topic, pred, ms = 5000) {
    const match = ([t, payload]) => t === topic && pred(decodeRoster(payload));
    const seen = client.received.find(match);
    if (seen) return Promise.resolve(decodeRoster(seen[1]));
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            client.off('message', onMessage);
            reject(new Error(`no matching roster on ${topic}; got ${JSON.stringify(client.received.filter(([t]) => t === topic))}`));
        }, ms);
        function onMessage(t, payload) {
            if (!match([t, payload.toString()])) return;
            clearTimeout(timer);
            client.off('message', onMessage);
            resolve(decodeRoster(payload.toString()));
        }
        client.on('message', onMessage);
    });
}

describe('group rosters on the secured broker', function () {
    this.timeout(30000);
    let broker;
    let url;
    let dir;
    const clients = [];
    const as = async (user) => {
        const client = await connectAs(url, user, `${user}-pw`);
        clients.push(client);
        return client;
    };
    const start = async () => {
        broker = await EmbeddedBroker.start({ port: 0, host: '127.0.0.1', storeDir: dir, security: { accounts: ACCOUNTS } });
        url = `mqtt://127.0.0.1:${broker.port}`;
    };

    before(async function () {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-roster-'));
        await start();
    });
    after(async function () {
        for (const client of clients.splice(0)) await client.endAsync(true).catch(() => undefined);
        await broker.close();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it('is kept for members through create, join and leave; a non-member reads it neither by name nor by wildcard', async function () {
        const alice = await as('Alice');
        const bob = await as('Bob');
        const mallory = await as('Mallory');
        // Alice creates the group, then reads its roster.
        assert.deepStrictEqual(await grants(alice, ['IMS/GroupTeam/#', ROSTER]), [1, 1]);
        assert.deepStrictEqual(await rosterWhere(alice, ROSTER, () => true), { group: 'GroupTeam', members: ['Alice'] });

        // Mallory is no member: her subscriptions to it are refused, whatever the filter.
        const attempts = [ROSTER, '$IMS/groups/+', '$IMS/groups/#', '$IMS/#', '#', '+/groups/GroupTeam', '$share/x/$IMS/groups/GroupTeam'];
        assert.deepStrictEqual(
            await grants(mallory, attempts),
            attempts.map(() => 128),
        );

        // Bob is invited and joins: both members see the new list.
        await alice.publishAsync(
            'IMS/Bob/Inbox/Group/Invite/Alice',
            envelope({ type: 'group.invite', from: 'Alice', data: { group: 'GroupTeam' } }),
            {
                qos: 1,
            },
        );
        assert.deepStrictEqual(await grants(bob, ['IMS/GroupTeam/#', ROSTER]), [1, 1]);
        const both = { group: 'GroupTeam', members: ['Alice', 'Bob'] };
        assert.deepStrictEqual(await rosterWhere(bob, ROSTER, () => true), both);
        assert.deepStrictEqual(await rosterWhere(alice, ROSTER, (r) => r.members.length === 2), both);

        // Bob leaves: Alice sees him gone; Bob hears no more of it.
        await bob.publishAsync('IMS/GroupTeam/Bob', envelope({ type: 'group.leave', from: 'Bob', data: { group: 'GroupTeam' } }), {
            qos: 1,
        });
        assert.deepStrictEqual(await rosterWhere(alice, ROSTER, (r) => r.members.length === 1), { group: 'GroupTeam', members: ['Alice'] });
        // A marker after the change, on Bob's own inbox: when it arrives, the roster would have too.
        await grants(bob, 'IMS/Bob/Inbox/#');
        await alice.publishAsync('IMS/Bob/Inbox/Chat/Alice', envelope({ type: 'chat', from: 'Alice', text: 'marker' }), { qos: 1 });
        await nextOn(bob, 'IMS/Bob/Inbox/Chat/Alice');
        // (Bob may have had the list with him twice: live as he joined, and retained as he subscribed.)
        const bobSaw = bob.received.filter(([t]) => t === ROSTER).map(([, payload]) => decodeRoster(payload).members.join());
        assert.deepStrictEqual([...new Set(bobSaw)], ['Alice,Bob'], 'a former member reads no later roster');
        assert.deepStrictEqual(await grants(bob, ROSTER), [128], 'nor may subscribe it again');
        assert.strictEqual(mallory.received.filter(([t]) => t.startsWith('$IMS/groups')).length, 0);
    });

    it('is still there, for members only, after a restart on the same store', async function () {
        for (const client of clients.splice(0)) await client.endAsync(true);
        await broker.close();
        await start();
        const alice = await as('Alice');
        const carol = await as('Carol');
        assert.deepStrictEqual(await grants(alice, ROSTER), [1]);
        assert.deepStrictEqual(await rosterWhere(alice, ROSTER, () => true), { group: 'GroupTeam', members: ['Alice'] });
        assert.deepStrictEqual(await grants(carol, ['$IMS/groups/+', ROSTER]), [128, 128]);
    });

    it('in a cluster: a join on one instance reaches members on the other; non-members there read nothing', async function () {
        const redis = await new RedisUnderTest().start();
        const options = { port: 0, host: '127.0.0.1', redisUrl: redis.url, security: { accounts: ACCOUNTS } };
        const instances = [await EmbeddedBroker.start(options), await EmbeddedBroker.start(options)];
        const on = (i, user) =>
            connectAs(`mqtt://127.0.0.1:${instances[i].port}`, user, `${user}-pw`, { clientId: `GID_IMS@@@${user}_c${i}` });
        const users = [];
        try {
            const alice = await on(0, 'Alice');
            const bob = await on(1, 'Bob');
            const mallory = await on(1, 'Mallory');
            users.push(alice, bob, mallory);
            const roster = rosterTopic('GroupCluster');
            assert.deepStrictEqual(await grants(alice, ['IMS/GroupCluster/#', roster]), [1, 1]);
            await alice.publishAsync(
                'IMS/Bob/Inbox/Group/Invite/Alice',
                envelope({ type: 'group.invite', from: 'Alice', data: { group: 'GroupCluster' } }),
                { qos: 1 },
            );
            // The invitation is a fact shared through Redis: Bob's instance learns it in a moment.
            let granted = [];
            for (let attempt = 0; attempt < 50 && granted[0] !== 1; attempt++) {
                granted = await grants(bob, ['IMS/GroupCluster/#', roster]);
                if (granted[0] !== 1) await new Promise((resolve) => setTimeout(resolve, 50));
            }
            assert.deepStrictEqual(granted, [1, 1]);
            const both = { group: 'GroupCluster', members: ['Alice', 'Bob'] };
            assert.deepStrictEqual(await rosterWhere(alice, roster, (r) => r.members.length === 2), both);
            assert.deepStrictEqual(await rosterWhere(bob, roster, (r) => r.members.length === 2), both);
            assert.deepStrictEqual(await grants(mallory, [roster, '$IMS/groups/+', '$IMS/#']), [128, 128, 128]);
            assert.strictEqual(mallory.received.length, 0);
        } finally {
            for (const client of users) await client.endAsync(true).catch(() => undefined);
            for (const instance of instances) await instance.close();
            await redis.stop();
        }
    });
});
