'use strict';
// Bounded waiting, for tests that watch real sockets: on the event that answers, not on the clock.

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it holds or `ms` pass; returns its last answer. (For what emits no event.) */
async function until(check, ms = 3000) {
    const deadline = Date.now() + ms;
    while (!check() && Date.now() < deadline) await sleep(10);
    return check();
}

/**
 * Resolves when `check()` holds: checked now and at every `event` of `emitter` (an account state's
 * `change`, a client's `message`...); rejects after `ms`, saying what it waited for.
 */
function when(emitter, event, check, ms = 5000, what = String(check)) {
    return new Promise((resolve, reject) => {
        const test = () => {
            if (!check()) return;
            clearTimeout(timer);
            emitter.removeListener(event, test);
            resolve();
        };
        const timer = setTimeout(() => {
            emitter.removeListener(event, test);
            reject(new Error(`not true within ${ms} ms: ${what}`));
        }, ms);
        emitter.on(event, test);
        test();
    });
}

/**
 * Records each `event` of `emitter` (as `map(...args)`). `until(pred)` resolves with the first record
 * that matches, already seen or still to come; `next()` with the next one not yet taken. Both reject at
 * their deadline with what was seen (`show` turns the records into words).
 */
function recorder(emitter, event, { map = (x) => x, show = (seen) => JSON.stringify(seen) } = {}) {
    const seen = [];
    const waiters = new Set();
    let taken = 0;
    emitter.on(event, (...args) => {
        seen.push(map(...args));
        for (const waiter of [...waiters]) waiter();
    });
    const wait = (find, ms, what) =>
        new Promise((resolve, reject) => {
            const waiter = () => {
                const found = find();
                if (found === undefined) return;
                waiters.delete(waiter);
                clearTimeout(timer);
                resolve(found);
            };
            const timer = setTimeout(() => {
                waiters.delete(waiter);
                reject(new Error(`${what} within ${ms} ms; saw ${show(seen)}`));
            }, ms);
            waiters.add(waiter);
            waiter();
        });
    return {
        seen,
        until: (pred, ms = 8000) => wait(() => seen.find(pred), ms, `no ${event} matching`),
        next: (ms = 5000) => wait(() => (seen.length > taken ? seen[taken++] : undefined), ms, `no new ${event}`),
    };
}

module.exports = { sleep, until, when, recorder };
