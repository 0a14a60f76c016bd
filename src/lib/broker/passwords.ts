// Broker account passwords kept as salted scrypt hashes (the model: Mosquitto's password file), so
// neither the node's credentials nor the editor ever hold a password. An account may still carry a
// plain `password` (flows saved before hashes, accounts added from a flow): both forms are checked.
// A verified login is remembered for the process, keyed by the stored hash, so a device that
// reconnects does not pay the hash again; what is remembered is a keyed digest of the right password,
// so a wrong password is never accepted, and a changed hash forgets the old one.

import { createHmac, randomBytes, scrypt, ScryptOptions, timingSafeEqual } from 'crypto';

/** scrypt's cost: about 16 MB and some tens of milliseconds per hash (the Node.js defaults). */
const COST = { N: 16384, r: 8, p: 1 };
const SALT_BYTES = 16;
const KEY_BYTES = 32;
const PREFIX = 'scrypt';
/** At most this many verified logins are remembered; the oldest is forgotten first. */
const REMEMBERED = 10000;

interface ParsedHash {
    cost: { N: number; r: number; p: number };
    salt: Buffer;
    key: Buffer;
}

function derive(password: string, salt: Buffer, cost: ParsedHash['cost']): Promise<Buffer> {
    const options: ScryptOptions = { ...cost, maxmem: 256 * cost.N * cost.r };
    return new Promise((resolve, reject) => {
        scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (error, key) => (error ? reject(error) : resolve(key)));
    });
}

/** `scrypt$N$r$p$<salt, base64>$<key, base64>`, or undefined for anything else. */
function parse(hash: string): ParsedHash | undefined {
    const parts = hash.split('$');
    if (parts.length !== 6 || parts[0] !== PREFIX) return undefined;
    const [N, r, p] = parts.slice(1, 4).map(Number);
    const salt = Buffer.from(parts[4], 'base64');
    const key = Buffer.from(parts[5], 'base64');
    const sane = [N, r, p].every((n) => Number.isInteger(n) && n > 0) && N <= 1 << 20 && r <= 32 && p <= 16;
    return sane && salt.length >= 8 && key.length === KEY_BYTES ? { cost: { N, r, p }, salt, key } : undefined;
}

export function isPasswordHash(text: unknown): text is string {
    return typeof text === 'string' && parse(text) !== undefined;
}

/** A new salted hash of `password`, in the form accounts store. */
export async function hashPassword(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const key = await derive(password, salt, COST);
    return [PREFIX, COST.N, COST.r, COST.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** An account's secret: a salted hash, or (older forms) the password itself. */
export interface StoredSecret {
    password?: string;
    passwordHash?: string;
}

function samePlain(given: string, expected: string): boolean {
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
}

export class PasswordCheck {
    /** Per process: a remembered digest means nothing outside it. */
    private readonly digestKey = randomBytes(32);
    private readonly verified = new Map<string, Buffer>();
    /** How many scrypt hashes were computed to check logins (for tests and the curious). */
    hashesComputed = 0;

    async matches(given: string, stored: StoredSecret): Promise<boolean> {
        if (stored.passwordHash === undefined) return stored.password !== undefined && samePlain(given, stored.password);
        const parsed = parse(stored.passwordHash);
        if (!parsed) return false;
        const digest = createHmac('sha256', this.digestKey).update(given).digest();
        const remembered = this.verified.get(stored.passwordHash);
        if (remembered) return timingSafeEqual(remembered, digest);
        this.hashesComputed++;
        const key = await derive(given, parsed.salt, parsed.cost);
        if (!timingSafeEqual(key, parsed.key)) return false;
        if (this.verified.size >= REMEMBERED) this.verified.delete(this.verified.keys().next().value as string);
        this.verified.set(stored.passwordHash, digest);
        return true;
    }
}
