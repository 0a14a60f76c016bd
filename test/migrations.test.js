'use strict';
// Versioned node configuration: every node type's editor defaults carry the version its migrations
// end at, each migration is checked, and the flows 0.1.0 shipped (test/fixtures/flows-0.1.0/, the
// examples as they were) still work: migrated as the runtime and the editor migrate them, and run.

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { MIGRATIONS, migrate, currentVersion, versionOf } = require('../nodes/lib/migrations');
const { helper, nodeModules, connected, brokerForSuite } = require('./helpers/red');
const { until } = require('./helpers/wait');
const { recordAt } = require('./helpers/flows');
const pkg = require('../package.json');

const root = path.join(__dirname, '..');
const TYPES = Object.keys(pkg['node-red'].nodes);
const FIXTURES = path.join(__dirname, 'fixtures', 'flows-0.1.0');
const fixture = (file) => JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8'));

describe('node configuration versions and migrations', function () {
    it('every node type has migrations, and its editor defaults start new nodes at the last version', function () {
        for (const type of TYPES) {
            assert.ok(MIGRATIONS[type] && MIGRATIONS[type].length > 0, `${type} has a migration list`);
            const versions = MIGRATIONS[type].map((m) => m.version);
            assert.deepStrictEqual(
                versions,
                [...versions].sort((a, b) => a - b),
                `${type}: migrations in version order`,
            );
            const html = fs.readFileSync(path.join(root, 'nodes', `${type}.html`), 'utf8');
            // In its defaults, or in the spec it gives ImsEditor.imNode (which puts it in the defaults).
            const declared = /\bversion: \{ value: (\d+) \}/.exec(html) || /ImsEditor\.imNode\([^]*?\bversion: (\d+),/.exec(html);
            assert.ok(declared, `${type}.html declares a version in its defaults`);
            assert.strictEqual(Number(declared[1]), currentVersion(type), `${type}: editor and runtime agree on the version`);
        }
    });

    it('leaves a current configuration as it is, and migrates an old one once', function () {
        const current = { type: 'ims-group', version: currentVersion('ims-group'), invitees: 'Bob' };
        assert.strictEqual(migrate('ims-group', current), current);
        const old = { type: 'ims-group', users: 'Bob, Carol', usersType: 'str' };
        const once = migrate('ims-group', old);
        assert.deepStrictEqual(once, { type: 'ims-group', version: 1, invitees: 'Bob, Carol', inviteesType: 'str' });
        assert.deepStrictEqual(migrate('ims-group', once), once);
        assert.deepStrictEqual(old, { type: 'ims-group', users: 'Bob, Carol', usersType: 'str' }, 'the saved object is not changed');
        assert.strictEqual(versionOf({}), 0);
    });

    it("brings every node of 0.1.0's example flows to the current version, keeping every setting", function () {
        const files = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
        assert.ok(files.length >= 7, files.join(', '));
        let groups = 0;
        for (const file of files) {
            for (const node of fixture(file).filter((n) => TYPES.includes(n.type))) {
                assert.strictEqual(versionOf(node), 0, `${file}: ${node.id} is a 0.1.0 node`);
                const migrated = migrate(node.type, node);
                assert.strictEqual(migrated.version, currentVersion(node.type), `${file}: ${node.id}`);
                const { users, usersType, ...kept } = node;
                for (const [key, value] of Object.entries(kept)) assert.deepStrictEqual(migrated[key], value, `${file}: ${node.id}.${key}`);
                if (node.type === 'ims-group') {
                    groups++;
                    assert.ok(!('users' in migrated), `${file}: ${node.id} has no reserved "users" left`);
                    assert.strictEqual(migrated.invitees, users);
                    if (usersType !== undefined) assert.strictEqual(migrated.inviteesType, usersType);
                }
            }
        }
        assert.ok(groups >= 4, 'the fixtures have ims-group nodes');
    });

    it("drops a version 1 account's virtual groups box (version 2), keeping every other setting", function () {
        const saved = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'flows-v1', '01-friends-and-chat.json'), 'utf8'));
        const accounts = saved.filter((n) => n.type === 'ims-config');
        assert.deepStrictEqual(
            accounts.map((n) => [n.version, n.virtualGroups]),
            [
                [1, true],
                [1, false],
            ],
        );
        for (const node of accounts) {
            const migrated = migrate(node.type, node);
            const kept = { ...node, version: 2 };
            delete kept.virtualGroups;
            assert.deepStrictEqual(migrated, kept, `${node.id}: only the box is gone`);
        }
    });

    describe('older settings, run by the runtime', function () {
        const suite = brokerForSuite();

        it('a version 1 account with the virtual groups box connects, and learns what the broker offers from $IMS/capabilities whatever the box said', async function () {
            const flow = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'flows-v1', '01-friends-and-chat.json'), 'utf8'))
                .filter((n) => n.type === 'ims-config' || n.type === 'ims-chat')
                // The open test broker takes no password: the example's ${IMS_EXAMPLE_PASSWORD} is left out.
                .map((n) => (n.type === 'ims-config' ? { ...n, url: suite.broker.url, reconnectPeriod: 300, credentials: {} } : n));
            await helper.load(nodeModules, flow);
            for (const id of ['ims-ex1-alice', 'ims-ex1-bob']) {
                await connected(helper.getNode(id), 8000);
                // The embedded broker announces virtual groups: Bob1's unticked box no longer hides them.
                const capabilities = await helper.getNode(id).account.session.capabilities();
                assert.strictEqual(capabilities.virtualGroups, true, id);
            }
        });

        it('a 0.1.0 group node invites the users of its saved "users" setting', async function () {
            // 0.1.0's group-chat example with its Invite field filled in, as a hand-edited flows.json had it.
            const flow = fixture('03-group-chat.json').map((n) => {
                if (n.type === 'ims-config') return { ...n, url: suite.broker.url, reconnectPeriod: 300 };
                if (n.id === 'ims-ex3-ga') return { ...n, users: 'Bob' };
                if (n.type === 'debug') return { id: n.id, type: 'helper', z: n.z, wires: [] };
                return n;
            });
            await helper.load(
                nodeModules,
                flow.filter((n) => n.type !== 'inject'),
            );
            await Promise.all(['ims-ex3-alice', 'ims-ex3-bob', 'ims-ex3-carol'].map((id) => connected(helper.getNode(id), 8000)));
            const alice = recordAt('ims-ex3-dbg-a');
            const bob = recordAt('ims-ex3-dbg-b');
            helper.getNode('ims-ex3-ga').receive({ topic: 'Group123', action: 'create' });
            const session = helper.getNode('ims-ex3-alice').account.session;
            assert.ok(await until(() => session.state.has('groups', 'Group123')), 'Alice created Group123');
            helper.getNode('ims-ex3-ga').receive({ topic: 'Group123', action: 'invite' });
            const invitation = await bob.next((m) => m.ims.type === 'group.invite');
            assert.deepStrictEqual([invitation.topic, invitation.ims.from], ['Group123', 'Alice']);
            await alice.next((m) => m.ims.type === 'group.join' && m.ims.from === 'Bob');
        });
    });
});
