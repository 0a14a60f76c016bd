'use strict';
// Property-based test of the secured broker (fast-check): random sequences of connects (any user, any
// Client ID, clean or not), subscriptions to anything, honest and spoofed publishes, blocks, unblocks,
// group invitations, joins, leaves and broker restarts, checked against a small model of who may read
// what. A message may reach a client only if the model let that client's user read it at some moment
// between its publish and its arrival; and a chat to a user reaches every live device of that user that
// holds its inbox subscription. Counterexamples that fast-check shrank are kept as fixed cases.

const assert = require('assert');
const fc = require('fast-check');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { EmbeddedBroker } = require('../nodes/lib/broker');
const { connectAs, grants, envelope } = require('./helpers/mqtt-clients');
const { until } = require('./helpers/wait');

const USERS = ['Alice', 'Bob', 'Carol'];
const PASSWORD = { Alice: 'a-pw', Bob: 'b-pw', Carol: 'c-pw' };
const ACCOUNTS = USERS.map((user) => ({ user, password: PASSWORD[user] }));
const DEVICES = ['GID_IMS@@@d1', 'GID_IMS@@@d2', 'GID_IMS@@@d3', 'GID_IMS@@@d4'];
const GROUP = 'GroupA';

const FILTERS = [
    ...USERS.flatMap((u) => [`IMS/${u}/Inbox/#`, `IMS/${u}`, `IMS/${u}/Presence`, `IMS/${u}/#`]),
    ...DEVICES.map((d) => `IMS/p2p/${d}`),
    `IMS/${GROUP}/#`,
    'IMS/+/Inbox/#',
    'IMS/#',
    '#',
    'IMS/p2p/#',
    '$SYS/#',
];

/** Who may read `topic` in the model's state. */
function modelCanRead(state, user, clientId, topic) {
    const levels = topic.split('/');
    if (levels[0] !== 'IMS') return false;
    if (levels[1] === 'p2p') return levels[2] === clientId;
    if (levels[1] === GROUP) return state.members.has(user);
    const owner = levels[1];
    if (levels[2] === 'Inbox') return owner === user;
    return owner === user || !state.blocks.has(`${owner}>${user}`);
}

const user = fc.constantFrom(...USERS);
const command = fc.oneof(
    fc.record({ kind: fc.constant('connect'), user, device: fc.nat(DEVICES.length - 1), clean: fc.boolean() }),
    fc.record({ kind: fc.constant('disconnect'), slot: fc.nat(5) }),
    fc.record({ kind: fc.constant('subscribe'), slot: fc.nat(5), filter: fc.constantFrom(...FILTERS) }),
    fc.record({
        kind: fc.constant('publish'),
        slot: fc.nat(5),
        to: user,
        as: user,
        where: fc.constantFrom('inbox', 'moment', 'presence', 'group', 'p2p'),
        device: fc.nat(DEVICES.length - 1),
    }),
    fc.record({ kind: fc.constant('block'), blocker: user, blocked: user }),
    fc.record({ kind: fc.constant('unblock'), blocker: user, blocked: user }),
    fc.record({ kind: fc.constant('invite'), invitee: user }),
    fc.record({ kind: fc.constant('leave'), member: user }),
    fc.record({ kind: fc.constant('restart') }),
);

async function run(commands) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-prop-'));
    let broker = await EmbeddedBroker.start({ port: 0, security: { accounts: ACCOUNTS }, storeDir: dir });
    let url = `mqtt://127.0.0.1:${broker.port}`;
    const states = [{ blocks: new Set(), members: new Set(['Alice']) }];
    const state = () => states[states.length - 1];
    const next = (change) => {
        const s = state();
        const copy = { blocks: new Set(s.blocks), members: new Set(s.members) };
        change(copy);
        states.push(copy);
    };
    const slots = [];
    const published = new Map(); // payload id → model step of its publish
    const violations = [];
    const ops = { Alice: undefined, Bob: undefined, Carol: undefined };
    const honest = async (who) => {
        if (!ops[who] || !ops[who].connected) ops[who] = await connectAs(url, who, PASSWORD[who], { clientId: `GID_IMS@@@${who}_ops` });
        return ops[who];
    };
    const watch = (client, who, clientId) => {
        client.on('message', (topic, payload) => {
            const id = /"id":"(p\d+)"/.exec(payload.toString())?.[1];
            if (!id || !published.has(id)) return;
            const from = published.get(id);
            const allowed = states.slice(from).some((s) => modelCanRead(s, who, clientId, topic));
            if (!allowed) violations.push(`${who} (${clientId}) read ${topic} ${payload}`);
        });
    };
    try {
        // Alice creates the group first, so the model knows its one member.
        const alice = await honest('Alice');
        await grants(alice, `IMS/${GROUP}/#`);
        let n = 0;
        for (const c of commands) {
            if (c.kind === 'connect') {
                const clientId = DEVICES[c.device];
                try {
                    const client = await connectAs(url, c.user, PASSWORD[c.user], { clientId, clean: c.clean });
                    client.user = c.user;
                    watch(client, c.user, clientId);
                    slots.push(client);
                } catch {
                    // refused (another user's device): the model has nothing to check
                }
            } else if (c.kind === 'disconnect') {
                const client = slots[c.slot % Math.max(1, slots.length)];
                if (client) await client.endAsync(true);
            } else if (c.kind === 'subscribe') {
                const client = slots[c.slot % Math.max(1, slots.length)];
                if (!client?.connected) continue;
                const [code] = await grants(client, c.filter).catch(() => [128]);
                if (code !== 128 && (c.filter === `IMS/${client.user}/Inbox/#` || c.filter === `IMS/${client.user}/#`))
                    client.ownInbox = true;
            } else if (c.kind === 'publish') {
                const client = slots[c.slot % Math.max(1, slots.length)];
                if (!client?.connected) continue;
                const id = `p${n++}`;
                const topic = {
                    inbox: `IMS/${c.to}/Inbox/Chat/${c.as}`,
                    moment: `IMS/${c.as}`,
                    presence: `IMS/${c.as}/Presence`,
                    group: `IMS/${GROUP}/${c.as}`,
                    p2p: `IMS/p2p/${DEVICES[c.device]}`,
                }[c.where];
                published.set(id, states.length - 1);
                await client.publishAsync(
                    topic,
                    envelope({
                        id,
                        type: c.where === 'group' ? 'group.message' : c.where === 'inbox' ? 'chat' : c.where === 'p2p' ? 'chat' : c.where,
                        from: c.as,
                    }),
                    { qos: 1 },
                );
            } else if (c.kind === 'block' && c.blocker !== c.blocked) {
                const blocker = await honest(c.blocker);
                next((s) => s.blocks.add(`${c.blocker}>${c.blocked}`)); // a block applies from the moment it is published
                await blocker.publishAsync(
                    `IMS/${c.blocked}/Inbox/Update/${c.blocker}/Unsub`,
                    envelope({ type: 'unsub', from: c.blocker }),
                    { qos: 1 },
                );
            } else if (c.kind === 'unblock') {
                broker.unblock(c.blocker, c.blocked);
                next((s) => s.blocks.delete(`${c.blocker}>${c.blocked}`));
            } else if (c.kind === 'invite' && c.invitee !== 'Alice') {
                const inviter = await honest('Alice');
                await inviter.publishAsync(
                    `IMS/${c.invitee}/Inbox/Group/Invite/Alice`,
                    envelope({ type: 'group.invite', from: 'Alice', data: { group: GROUP } }),
                    { qos: 1 },
                );
                const invitee = await honest(c.invitee);
                const [code] = await grants(invitee, `IMS/${GROUP}/#`);
                if (code !== 128) next((s) => s.members.add(c.invitee));
            } else if (c.kind === 'leave' && c.member !== 'Alice' && state().members.has(c.member)) {
                const member = await honest(c.member);
                next((s) => s.members.delete(c.member));
                await member.publishAsync(
                    `IMS/${GROUP}/${c.member}`,
                    envelope({ type: 'group.leave', from: c.member, data: { group: GROUP } }),
                    { qos: 1 },
                );
            } else if (c.kind === 'restart') {
                for (const client of [...slots, ...Object.values(ops)]) client?.end(true);
                slots.length = 0;
                for (const u of USERS) ops[u] = undefined;
                await broker.close();
                broker = await EmbeddedBroker.start({ port: 0, security: { accounts: ACCOUNTS }, storeDir: dir });
                url = `mqtt://127.0.0.1:${broker.port}`;
            }
        }
        // Let what is in flight arrive: one round trip through every live client.
        await Promise.all(slots.filter((c) => c.connected).map((c) => grants(c, 'IMS/nothing/here').catch(() => undefined)));
        // And what the model requires does arrive: a chat to each user reaches every live device of
        // that user holding its inbox subscription (on this session or a restored one).
        const readers = slots.filter((c) => c.connected && c.ownInbox);
        for (const who of new Set(readers.map((c) => c.user))) {
            const sender = await honest(USERS.find((u) => u !== who));
            const id = `live${n++}`;
            const topic = `IMS/${who}/Inbox/Chat/${sender.options.username}`;
            const arrived = readers
                .filter((c) => c.user === who)
                .map((c) =>
                    until(() => c.received.some(([t, p]) => t === topic && p.includes(id)), 3000).then(
                        (ok) => ok || violations.push(`${who} (${c.options.clientId}) missed ${id}`),
                    ),
                );
            await sender.publishAsync(topic, envelope({ id, type: 'chat', from: sender.options.username }), { qos: 1 });
            await Promise.all(arrived);
        }
        return violations;
    } finally {
        await Promise.all([...slots, ...Object.values(ops)].filter(Boolean).map((c) => c.endAsync(true).catch(() => undefined)));
        await broker.close();
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe('secured broker properties (fast-check)', function () {
    this.timeout(300000);

    it('never delivers a message to a client whose user may not read it, and delivers what it must', async function () {
        await fc.assert(
            fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 30 }), async (commands) => {
                const violations = await run(commands);
                assert.deepStrictEqual(violations, []);
            }),
            { numRuns: Number(process.env.IMS_PROPERTY_RUNS) || 25, seed: Number(process.env.IMS_PROPERTY_SEED) || undefined },
        );
    });

    // Shrunk counterexamples of the attacks in issue 10, kept as fixed regression cases.
    const REGRESSIONS = {
        'another user takes over a persistent device, then reads its queue': [
            { kind: 'connect', user: 'Bob', device: 0, clean: false },
            { kind: 'subscribe', slot: 0, filter: 'IMS/Bob/Inbox/#' },
            { kind: 'disconnect', slot: 0 },
            { kind: 'connect', user: 'Carol', device: 0, clean: false },
            { kind: 'publish', slot: 0, to: 'Bob', as: 'Carol', where: 'inbox', device: 0 },
            { kind: 'connect', user: 'Alice', device: 0, clean: false },
        ],
        'a block while the follower is offline, then a restart': [
            { kind: 'connect', user: 'Alice', device: 1, clean: false },
            { kind: 'subscribe', slot: 0, filter: 'IMS/Bob' },
            { kind: 'disconnect', slot: 0 },
            { kind: 'restart' },
            { kind: 'block', blocker: 'Bob', blocked: 'Alice' },
            { kind: 'connect', user: 'Bob', device: 2, clean: true },
            { kind: 'publish', slot: 0, to: 'Bob', as: 'Bob', where: 'moment', device: 0 },
            { kind: 'connect', user: 'Alice', device: 1, clean: false },
        ],
        'a wildcard subscription and a p2p topic of another device': [
            { kind: 'connect', user: 'Carol', device: 3, clean: true },
            { kind: 'subscribe', slot: 0, filter: 'IMS/p2p/#' },
            { kind: 'subscribe', slot: 0, filter: 'IMS/p2p/GID_IMS@@@d1' },
            { kind: 'connect', user: 'Alice', device: 0, clean: true },
            { kind: 'publish', slot: 1, to: 'Bob', as: 'Alice', where: 'p2p', device: 0 },
        ],
        'a member leaves and the group goes on': [
            { kind: 'invite', invitee: 'Bob' },
            { kind: 'connect', user: 'Bob', device: 0, clean: false },
            { kind: 'subscribe', slot: 0, filter: 'IMS/GroupA/#' },
            { kind: 'leave', member: 'Bob' },
            { kind: 'connect', user: 'Alice', device: 1, clean: true },
            { kind: 'publish', slot: 1, to: 'Bob', as: 'Alice', where: 'group', device: 0 },
        ],
    };
    for (const [name, commands] of Object.entries(REGRESSIONS)) {
        it(`regression: ${name}`, async function () {
            assert.deepStrictEqual(await run(commands), []);
        });
    }
});
