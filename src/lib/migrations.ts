// Versioned node configuration: every IMS node type has a `version` in its settings and a list of
// migrations that bring an older configuration up to date. The runtime runs them when a node starts,
// the editor when a node is added to the workspace, so flows saved with older nodes keep working.
// The editor loads this compiled file as it is (scripts/copy-assets.js): it must require nothing.

/** A node's settings as Node-RED stores them in flows.json. */
export type NodeConfig = Record<string, unknown>;

export interface Migration {
    /** The version this migration produces. */
    version: number;
    /** Why the shape changed, for whoever reads the list. */
    why: string;
    up(config: NodeConfig): NodeConfig;
}

/** Stamps `version` on a configuration that had none: nothing else changed shape. */
function stamp(version: number, why: string): Migration {
    return { version, why, up: (config) => ({ ...config, version }) };
}

/** Moves `from` to `to` (and `<from>Type` to `<to>Type`), unless `to` is already set. */
function rename(config: NodeConfig, from: string, to: string): NodeConfig {
    const out: NodeConfig = { ...config };
    for (const [a, b] of [
        [from, to],
        [`${from}Type`, `${to}Type`],
    ]) {
        if (a in out) {
            if (out[b] === undefined || out[b] === '') out[b] = out[a];
            delete out[a];
        }
    }
    return out;
}

/** `config` without `key`, a setting nothing reads any more. */
function drop(config: NodeConfig, key: string): NodeConfig {
    const out: NodeConfig = { ...config };
    delete out[key];
    return out;
}

const FIRST = 'the first versioned configuration';

export const MIGRATIONS: Readonly<Record<string, readonly Migration[]>> = Object.freeze({
    'ims-config': [
        stamp(1, FIRST),
        {
            version: 2,
            why: 'the `virtualGroups` checkbox is gone: the session learns what the broker expands from `$IMS/capabilities`',
            up: (config) => ({ ...drop(config, 'virtualGroups'), version: 2 }),
        },
    ],
    'ims-broker': [stamp(1, FIRST)],
    'ims-login': [stamp(1, FIRST)],
    'ims-chat': [stamp(1, FIRST)],
    'ims-friend-request': [stamp(1, FIRST)],
    'ims-moments': [stamp(1, FIRST)],
    'ims-group': [
        {
            version: 1,
            why: '`users` is a property Node-RED reserves (the editor dropped the Invite field): it is `invitees` now',
            up: (config) => ({ ...rename(config, 'users', 'invitees'), version: 1 }),
        },
    ],
    'ims-broadcast': [stamp(1, FIRST)],
});

/** The version a node type's configuration has today (0 for a type without migrations). */
export function currentVersion(type: string): number {
    const list = MIGRATIONS[type];
    return list && list.length > 0 ? list[list.length - 1].version : 0;
}

/** The version a stored configuration has: its `version`, or 0 when it was saved before versions. */
export function versionOf(config: NodeConfig): number {
    const v = Number(config.version);
    return Number.isInteger(v) && v > 0 ? v : 0;
}

/** `config` brought up to the current version of its type (a new object; unchanged when current). */
export function migrate(type: string, config: NodeConfig): NodeConfig {
    let out = config;
    for (const migration of MIGRATIONS[type] || []) {
        if (versionOf(out) < migration.version) out = migration.up(out);
    }
    return out;
}
