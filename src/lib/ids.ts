// ID rules for users, groups, regions, devices, GroupIDs and the parent topic. One rule set serves the
// runtime codec and the editor (which loads this file's compiled form), so both always agree.

export type Profile = 'standard' | 'cloud';

/** What an ID names; each kind has its own extra rules on top of the common ones. */
export type IdKind = 'user' | 'group' | 'region' | 'device' | 'mqGroup' | 'parent' | 'groupPrefix';

export interface IdRules {
    profile: Profile;
    /** Chat-group IDs start with it and user IDs may not, so `P/<group>/#` never covers a user's inbox. */
    groupPrefix: string;
}

/** Limits of a cloud "MQ for MQTT" service (the strict profile). */
export const CLOUD_LIMITS = Object.freeze({
    clientIdLength: 64,
    topicLength: 64,
    subscriptionsPerClient: 30,
});

/** MQTT's own limit on a UTF-8 string (topics, Client IDs). */
export const MQTT_STRING_BYTES = 65535;

/** Second-level names fixed by the topic layout. */
export const RESERVED_NAMES: readonly string[] = ['p2p', 'System'];

export const CLIENT_ID_SEPARATOR = '@@@';

export class ImsError extends Error {
    constructor(
        message: string,
        readonly code: string,
    ) {
        super(message);
        this.name = 'ImsError';
    }
}

// `/ + #` are MQTT topic syntax; `.` is rewritten or refused by some brokers' gateways (RabbitMQ turns it
// into a level separator, NATS refuses it); `*` and `>` are wildcards inside the topic mapping of NATS
// (`*`, `>`) and RabbitMQ (`*`): a user named `*` would subscribe everyone's inbox there. The Unicode classes
// are whitespace, control, format (zero-width and direction marks), separators, private use, surrogates
// and unassigned code points: all invisible or ambiguous in a topic.
const FORBIDDEN = /[/+#.*>\s\p{Cc}\p{Cf}\p{Zs}\p{Zl}\p{Zp}\p{Co}\p{Cs}\p{Cn}]/u;
const STRICT_LEVEL = /^[A-Za-z0-9_-]+$/;
const GID_PREFIX = /^GID[_-]/;

/** Why an ID is invalid: a key (the editor translates it from its catalogues) and its parameters. */
export interface IdProblem {
    key: keyof typeof PROBLEM_TEXT;
    params: { kind: IdKind; value: string; char?: string; prefix?: string };
}

/** English texts of the problems; the editor has the same keys under `ims-config.rules` in each language. */
export const PROBLEM_TEXT = Object.freeze({
    empty: '__name__ is empty',
    forbiddenChar: '__name__ "__value__" contains __char__',
    dollar: '__name__ "__value__" starts with "$", which brokers reserve',
    strictCharset: '__name__ "__value__" has characters outside A-Z a-z 0-9 _ - (cloud MQ profile)',
    at: '__name__ "__value__" contains "@", which separates GroupID and DeviceID in a Client ID',
    reserved: '__name__ "__value__" is reserved by the topic layout',
    userPrefix: '__name__ "__value__" starts with the group prefix "__prefix__"',
    groupPrefix: '__name__ "__value__" must start with the group prefix "__prefix__" and add a name',
    gid: '__name__ "__value__" must start with GID_ or GID- (cloud MQ profile)',
});

/** English names of the kinds; the editor has them under `ims-config.rules.kind`. */
export const KIND_NAMES: Readonly<Record<IdKind, string>> = Object.freeze({
    user: 'user ID',
    group: 'group ID',
    region: 'region',
    device: 'device ID',
    mqGroup: 'GroupID',
    parent: 'parent topic',
    groupPrefix: 'group prefix',
});

/** Why `value` is not a valid ID of this kind, as a key and parameters; null when it is valid. */
export function idProblemOf(kind: IdKind, value: unknown, rules: IdRules): IdProblem | null {
    // Checked for every topic level of every message: a valid ID allocates nothing (no closure here).
    if (typeof value !== 'string' || value.length === 0) return describeProblem(kind, value, 'empty');
    const bad = FORBIDDEN.exec(value);
    if (bad) return { key: 'forbiddenChar', params: { kind, value: printable(value), char: describeChar(bad[0]) } };
    if (value.startsWith('$')) return describeProblem(kind, value, 'dollar');
    if (rules.profile === 'cloud' && !STRICT_LEVEL.test(value)) return describeProblem(kind, value, 'strictCharset');
    if ((kind === 'device' || kind === 'mqGroup') && value.includes('@')) return describeProblem(kind, value, 'at');
    if ((kind === 'user' || kind === 'group') && RESERVED_NAMES.includes(value)) return describeProblem(kind, value, 'reserved');
    if (kind === 'user' && rules.groupPrefix && value.startsWith(rules.groupPrefix))
        return describeProblem(kind, value, 'userPrefix', { prefix: rules.groupPrefix });
    if (kind === 'group' && (!value.startsWith(rules.groupPrefix) || value === rules.groupPrefix))
        return describeProblem(kind, value, 'groupPrefix', { prefix: rules.groupPrefix });
    if (kind === 'mqGroup' && rules.profile === 'cloud' && !GID_PREFIX.test(value)) return describeProblem(kind, value, 'gid');
    return null;
}

function describeProblem(kind: IdKind, value: unknown, key: IdProblem['key'], extra: Partial<IdProblem['params']> = {}): IdProblem {
    return { key, params: { kind, value: String(value), ...extra } };
}

/** Fills a problem text's __placeholders__; `name` is the kind's name in the same language. */
export function formatProblem(template: string, name: string, params: IdProblem['params']): string {
    const values: Record<string, string> = { name, value: params.value, char: params.char ?? '', prefix: params.prefix ?? '' };
    return template.replace(/__(\w+)__/g, (whole, key: string) => (key in values ? values[key] : whole));
}

/** Why `value` is not a valid ID of this kind, in English, or null when it is. */
export function idProblem(kind: IdKind, value: unknown, rules: IdRules): string | null {
    const problem = idProblemOf(kind, value, rules);
    return problem && formatProblem(PROBLEM_TEXT[problem.key], KIND_NAMES[kind], problem.params);
}

/** Throws an ImsError (code IMS_INVALID_ID) unless `value` is a valid ID of this kind. */
export function assertId(kind: IdKind, value: unknown, rules: IdRules): string {
    const problem = idProblem(kind, value, rules);
    if (problem) throw new ImsError(`Invalid ${problem}`, 'IMS_INVALID_ID');
    return value as string;
}

/** Why GroupID and DeviceID do not make a valid Client ID, or null. Does not throw (topic parsing asks per message). */
function clientIdPartsProblem(mqGroupId: string, deviceId: string, rules: IdRules): string | null {
    const group = idProblem('mqGroup', mqGroupId, rules);
    if (group) return `Invalid ${group}`;
    const device = idProblem('device', deviceId, rules);
    if (device) return `Invalid ${device}`;
    const clientId = `${mqGroupId}${CLIENT_ID_SEPARATOR}${deviceId}`;
    if (rules.profile === 'cloud' && clientId.length > CLOUD_LIMITS.clientIdLength) {
        return `Invalid Client ID "${clientId}": ${clientId.length} characters, the cloud MQ profile allows ${CLOUD_LIMITS.clientIdLength}`;
    }
    if (mayExceedBytes(clientId, MQTT_STRING_BYTES)) return 'Invalid Client ID: longer than MQTT allows';
    return null;
}

/** Why `clientId` is not a valid `GroupID@@@DeviceID`, or null. Does not throw. */
export function clientIdProblem(clientId: string, rules: IdRules): string | null {
    const at = typeof clientId === 'string' ? clientId.indexOf(CLIENT_ID_SEPARATOR) : -1;
    if (at < 0) return `Invalid Client ID "${clientId}": expected GroupID@@@DeviceID`;
    return clientIdPartsProblem(clientId.slice(0, at), clientId.slice(at + CLIENT_ID_SEPARATOR.length), rules);
}

/** `GroupID@@@DeviceID`, validated. */
export function formatClientId(mqGroupId: string, deviceId: string, rules: IdRules): string {
    const problem = clientIdPartsProblem(mqGroupId, deviceId, rules);
    if (problem) throw new ImsError(problem, 'IMS_INVALID_ID');
    return `${mqGroupId}${CLIENT_ID_SEPARATOR}${deviceId}`;
}

/** Splits and validates `GroupID@@@DeviceID`. */
export function parseClientId(clientId: string, rules: IdRules): { mqGroupId: string; deviceId: string } {
    const problem = clientIdProblem(clientId, rules);
    if (problem) throw new ImsError(problem, 'IMS_INVALID_ID');
    const at = clientId.indexOf(CLIENT_ID_SEPARATOR);
    return { mqGroupId: clientId.slice(0, at), deviceId: clientId.slice(at + CLIENT_ID_SEPARATOR.length) };
}

/** UTF-8 length without Node's Buffer, so this file also runs in the editor. */
export function utf8Length(value: string): number {
    return utf8.encode(value).length;
}

const utf8 = new TextEncoder();

/** True when `value` may be longer than `bytes` in UTF-8 (at most 3 bytes per UTF-16 unit): only then count. */
export function mayExceedBytes(value: string, bytes: number): boolean {
    return value.length * 3 > bytes && utf8Length(value) > bytes;
}

function printable(value: string): string {
    return value.replace(/[\p{Cc}\p{Cf}\p{Cn}\p{Cs}]/gu, (c) => describeChar(c));
}

function describeChar(c: string): string {
    if (c === ' ') return 'a space';
    if (/[/+#.*>]/.test(c)) return `"${c}"`;
    const code = c.codePointAt(0) ?? 0;
    return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Client IDs a secured broker accepts: at most this long. */
export const MAX_CLIENT_ID_LENGTH = 128;
const CLIENT_ID_FORBIDDEN = /[/+#\s\p{Cc}\p{Cf}\p{Zs}\p{Zl}\p{Zp}\p{Co}\p{Cs}\p{Cn}]/u;

/**
 * Why a secured broker refuses this Client ID, or null. Any MQTT client may connect (not only
 * GroupID@@@DeviceID), but an ID may never be a topic wildcard or separator (it names the device's p2p
 * topic), start with "$", be invisible or ambiguous, or, when it has the seed's form, break that form.
 */
export function mqttClientIdProblem(clientId: string, rules: IdRules): string | null {
    if (clientId.length === 0) return 'an empty Client ID needs clean session';
    if (clientId.length > MAX_CLIENT_ID_LENGTH) return `Client ID is longer than ${MAX_CLIENT_ID_LENGTH} characters`;
    const bad = CLIENT_ID_FORBIDDEN.exec(clientId);
    if (bad) return `Client ID "${printable(clientId)}" contains ${describeChar(bad[0])}`;
    if (clientId.startsWith('$')) return `Client ID "${clientId}" starts with "$", which brokers reserve`;
    return clientId.includes(CLIENT_ID_SEPARATOR) ? clientIdProblem(clientId, rules) : null;
}
