// Failed logins back off, per user and per address: after a few free failures each further attempt
// must wait, twice as long after each new failure (up to a minute), and is refused without checking
// the password until then. A guesser gets a handful of tries a minute instead of a thousand a second;
// other users and addresses are not slowed down.

export interface ThrottleLimits {
    /** Failures of one user name before it backs off. */
    perUser: number;
    /** Failures from one address before it backs off. */
    perAddress: number;
    /** The longest wait. */
    maxDelayMs: number;
}

interface Attempts {
    failures: number;
    blockedUntil: number;
    last: number;
}

/** A record is forgotten this long after its last failure. */
const FORGET_MS = 15 * 60 * 1000;
/** Records kept at most (the oldest go first), so a flood of names cannot grow the table without end. */
const MAX_RECORDS = 100000;
const FIRST_DELAY_MS = 1000;

export class LoginThrottle {
    private readonly records = new Map<string, Attempts>();

    constructor(
        private readonly limits: ThrottleLimits,
        private readonly now: () => number = Date.now,
    ) {}

    /**
     * How long this attempt must wait (0: go ahead and check the password). A user's back-off holds back
     * only addresses that failed themselves (and not the user's own bound device), so guesses from
     * elsewhere cannot lock the owner out; the address's own back-off always applies.
     */
    waitFor(user: string, address: string, ownDevice = false): number {
        const now = this.now();
        const addressWait = this.blockedUntil(`a:${address}`, now);
        const addressFailed = this.records.has(`a:${address}`);
        const userWait = ownDevice || !addressFailed ? 0 : this.blockedUntil(`u:${user}`, now);
        return Math.max(addressWait, userWait);
    }

    failed(user: string, address: string): void {
        this.count(`u:${user}`, this.limits.perUser);
        this.count(`a:${address}`, this.limits.perAddress);
    }

    /** A right password clears the user's record (not the address's: one account may not launder another's guesses). */
    succeeded(user: string): void {
        this.records.delete(`u:${user}`);
    }

    private blockedUntil(key: string, now: number): number {
        const record = this.records.get(key);
        if (!record) return 0;
        if (now - record.last > FORGET_MS) {
            this.records.delete(key);
            return 0;
        }
        return record.blockedUntil > now ? record.blockedUntil - now : 0;
    }

    private count(key: string, free: number): void {
        const now = this.now();
        let record = this.records.get(key);
        if (!record || now - record.last > FORGET_MS) {
            this.records.delete(key);
            if (this.records.size >= MAX_RECORDS) this.records.delete(this.records.keys().next().value as string);
            record = { failures: 0, blockedUntil: 0, last: now };
            this.records.set(key, record);
        }
        record.failures++;
        record.last = now;
        if (record.failures >= free) {
            const delay = Math.min(this.limits.maxDelayMs, FIRST_DELAY_MS * 2 ** (record.failures - free));
            record.blockedUntil = now + delay;
        }
    }
}
