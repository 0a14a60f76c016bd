'use strict';
// Bounded waiting, for tests that watch real sockets.

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it holds or `ms` pass; returns its last answer. */
async function until(check, ms = 3000) {
    const deadline = Date.now() + ms;
    while (!check() && Date.now() < deadline) await sleep(10);
    return check();
}

module.exports = { sleep, until };
