'use strict';
const assert = require('assert');
const { TopicCodec } = require('../nodes/lib/topics');
const { idProblem, assertId, formatClientId, parseClientId } = require('../nodes/lib/ids');

const standard = { profile: 'standard', groupPrefix: 'Group' };
const cloud = { profile: 'cloud', groupPrefix: 'Group' };

describe('topic codec', function () {
    const codec = new TopicCodec();

    // Every row of the SPEC's topic table, built and parsed back.
    const rows = [
        [
            'friend request',
            () => codec.friendRequest('UserB', 'UserA'),
            'IMS/UserB/Inbox/Add/GFReq/UserA',
            { kind: 'friend.request', to: 'UserB', from: 'UserA' },
        ],
        [
            'friend response',
            () => codec.friendResponse('UserA', 'UserB'),
            'IMS/UserA/Inbox/Add/GFResp/UserB',
            { kind: 'friend.response', to: 'UserA', from: 'UserB' },
        ],
        ['1:1 chat', () => codec.chat('UserB', 'UserA'), 'IMS/UserB/Inbox/Chat/UserA', { kind: 'chat', to: 'UserB', from: 'UserA' }],
        [
            'block notice',
            () => codec.unsub('UserA', 'UserB'),
            'IMS/UserA/Inbox/Update/UserB/Unsub',
            { kind: 'unsub', to: 'UserA', from: 'UserB' },
        ],
        [
            'group invitation',
            () => codec.groupInvite('UserB', 'UserA'),
            'IMS/UserB/Inbox/Group/Invite/UserA',
            { kind: 'group.invite', to: 'UserB', from: 'UserA' },
        ],
        [
            'device p2p',
            () => codec.p2p('GID_IMS@@@DeviceID_B'),
            'IMS/p2p/GID_IMS@@@DeviceID_B',
            { kind: 'p2p', clientId: 'GID_IMS@@@DeviceID_B' },
        ],
        ['moments', () => codec.moments('UserB'), 'IMS/UserB', { kind: 'moment', from: 'UserB' }],
        [
            'group chat',
            () => codec.groupMessage('Group123', 'UserB'),
            'IMS/Group123/UserB',
            { kind: 'group', group: 'Group123', from: 'UserB' },
        ],
        ['regional push', () => codec.system('Beijing'), 'IMS/System/Beijing', { kind: 'system', region: 'Beijing' }],
        ['presence', () => codec.presence('UserA'), 'IMS/UserA/Presence', { kind: 'presence', from: 'UserA' }],
    ];
    for (const [name, build, topic, parsed] of rows) {
        it(`builds and parses the ${name} topic`, function () {
            assert.strictEqual(build(), topic);
            assert.deepStrictEqual(codec.parse(topic), { ...parsed, topic });
        });
    }

    it('builds the subscription filters of the seed', function () {
        assert.strictEqual(codec.inboxFilter('UserA'), 'IMS/UserA/Inbox/#');
        assert.strictEqual(codec.groupFilter('Group123'), 'IMS/Group123/#');
    });

    it('works under any parent topic and group prefix', function () {
        const other = new TopicCodec({ parentTopic: 'ChatApp', groupPrefix: 'G-' });
        assert.strictEqual(other.chat('bob', 'alice'), 'ChatApp/bob/Inbox/Chat/alice');
        assert.strictEqual(other.groupMessage('G-family', 'alice'), 'ChatApp/G-family/alice');
        assert.deepStrictEqual(other.parse('ChatApp/G-family/alice'), {
            kind: 'group',
            topic: 'ChatApp/G-family/alice',
            group: 'G-family',
            from: 'alice',
        });
        assert.strictEqual(other.parse('IMS/bob/Inbox/Chat/alice'), null, "another app's parent topic is not ours");
    });

    it('round-trips Unicode IDs on a standard broker', function () {
        const topic = codec.chat('李娜', '张伟');
        assert.strictEqual(topic, 'IMS/李娜/Inbox/Chat/张伟');
        assert.deepStrictEqual(codec.parse(topic), { kind: 'chat', topic, to: '李娜', from: '张伟' });
    });

    it('returns null for topics outside the layout', function () {
        for (const topic of [
            'IMS',
            'IMS/UserA/Inbox',
            'IMS/UserA/Inbox/Chat',
            'IMS/UserA/Inbox/Chat/B/extra',
            'IMS/UserA/Other',
            'IMS/UserA/Inbox/Add/Other/UserB',
            'IMS/p2p/no-separator',
            'IMS/System',
            'IMS/System/a/b',
            'IMS/Group1/a/b',
            'other/UserA',
            'IMS/UserA/Inbox/Chat/Group1',
        ]) {
            assert.strictEqual(codec.parse(topic), null, topic);
        }
    });

    it('refuses to build a topic from an invalid ID', function () {
        assert.throws(() => codec.chat('User/B', 'UserA'), /Invalid user ID "User\/B" contains "\/"/);
        assert.throws(() => codec.chat('UserB', 'Group1'), /starts with the group prefix/);
        assert.throws(() => codec.groupMessage('Chat1', 'UserA'), /must start with the group prefix/);
        assert.throws(() => codec.system('Bei jing'), /region "Bei jing" contains a space/);
        assert.throws(() => codec.p2p('DeviceOnly'), /expected GroupID@@@DeviceID/);
    });

    it('keeps topics within 64 characters under the cloud MQ profile', function () {
        const strict = new TopicCodec({ profile: 'cloud' });
        assert.strictEqual(strict.chat('UserB', 'UserA'), 'IMS/UserB/Inbox/Chat/UserA');
        const long = 'U'.repeat(30);
        assert.throws(
            () => strict.friendRequest(long, long),
            (err) => err.code === 'IMS_TOPIC_TOO_LONG' && /64/.test(err.message),
        );
        assert.doesNotThrow(() => codec.friendRequest(long, long), 'the standard profile has no such limit');
    });

    it('refuses an invalid parent topic or group prefix', function () {
        assert.throws(() => new TopicCodec({ parentTopic: 'I/MS' }), /parent topic/);
        assert.throws(() => new TopicCodec({ parentTopic: '$SYS' }), /starts with "\$"/);
        assert.throws(() => new TopicCodec({ groupPrefix: '' }), /group prefix is empty/);
        assert.throws(() => new TopicCodec({ parentTopic: 'IMS中文', profile: 'cloud' }), /outside A-Z/);
    });
});

describe('ID rules', function () {
    const valid = ['UserA', 'user_a-1', '李娜', 'a', 'x'.repeat(200), 'emoji😀', 'a@b'];
    for (const id of valid) {
        it(`accepts user ID ${JSON.stringify(id.slice(0, 20))} on a standard broker`, function () {
            assert.strictEqual(idProblem('user', id, standard), null);
        });
    }
    const invalid = [
        ['', /empty/],
        ['a/b', /"\/"/],
        ['a+b', /"\+"/],
        ['a#b', /"#"/],
        ['a.b', /"\."/],
        ['*', /"\*"/], // a wildcard on NATS and RabbitMQ: user `*` would subscribe every inbox there
        ['>', /">"/],
        ['User*', /"\*"/],
        ['a>b', /">"/],
        ['a b', /a space/],
        ['a\tb', /U\+0009/],
        ['a\nb', /U\+000A/],
        ['a\u0000b', /U\+0000/],
        ['a\u200bb', /U\+200B/],
        ['a\u202eb', /U\+202E/],
        ['a\u00a0b', /U\+00A0/],
        ['a\u3000b', /U\+3000/],
        ['a\ufeffb', /U\+FEFF/],
        ['\ue000', /U\+E000/],
        ['$SYS', /starts with "\$"/],
        ['p2p', /reserved/],
        ['System', /reserved/],
        ['Group7', /group prefix/],
    ];
    for (const [id, why] of invalid) {
        it(`refuses user ID ${JSON.stringify(id)}`, function () {
            assert.match(idProblem('user', id, standard), why);
            assert.throws(
                () => assertId('user', id, standard),
                (err) => err.code === 'IMS_INVALID_ID',
            );
        });
    }
    it('refuses non-strings', function () {
        for (const value of [undefined, null, 42, {}]) assert.match(idProblem('user', value, standard), /empty/);
    });
    it('applies the strict charset under the cloud MQ profile', function () {
        assert.strictEqual(idProblem('user', 'User_A-1', cloud), null);
        assert.match(idProblem('user', '李娜', cloud), /outside A-Z/);
        assert.match(idProblem('user', 'a@b', cloud), /outside A-Z/);
    });
    it('keeps group IDs and user IDs apart', function () {
        assert.strictEqual(idProblem('group', 'Group123', standard), null);
        assert.match(idProblem('group', 'Group', standard), /add a name/);
        assert.match(idProblem('group', 'Team1', standard), /must start with the group prefix/);
        assert.match(idProblem('user', 'Group123', standard), /starts with the group prefix/);
    });
    it('allows reserved names as regions (third level)', function () {
        assert.strictEqual(idProblem('region', 'System', standard), null);
    });
});

describe('Client IDs', function () {
    it('formats and parses GroupID@@@DeviceID', function () {
        assert.strictEqual(formatClientId('GID_IMS', 'DeviceID_A', standard), 'GID_IMS@@@DeviceID_A');
        assert.deepStrictEqual(parseClientId('GID_IMS@@@DeviceID_A', standard), { mqGroupId: 'GID_IMS', deviceId: 'DeviceID_A' });
    });
    it('refuses "@" inside GroupID or DeviceID, and a missing separator', function () {
        assert.throws(() => formatClientId('GID_IMS', 'Dev@@@ice', standard), /contains "@"/);
        assert.throws(() => formatClientId('GID@IMS', 'Device', standard), /contains "@"/);
        assert.throws(() => parseClientId('GID_IMS-DeviceA', standard), /expected GroupID@@@DeviceID/);
    });
    it('needs GID_ or GID- and at most 64 characters under the cloud MQ profile', function () {
        assert.strictEqual(formatClientId('GID-IMS', 'DeviceID_A', cloud), 'GID-IMS@@@DeviceID_A');
        assert.throws(() => formatClientId('IMS', 'DeviceID_A', cloud), /must start with GID_ or GID-/);
        assert.doesNotThrow(() => formatClientId('IMS', 'DeviceID_A', standard));
        const device61 = 'D'.repeat(64 - 'GID_IMS@@@'.length);
        assert.strictEqual(formatClientId('GID_IMS', device61, cloud).length, 64);
        assert.throws(() => formatClientId('GID_IMS', device61 + 'x', cloud), /65 characters, the cloud MQ profile allows 64/);
    });
});
