'use strict';
// Small builders for IM flows: accounts, IM nodes each wired to a helper node "<id>_out", and a
// recorder that keeps everything a node emits so a test can check what did and did not arrive.

const { helper, account, connected } = require('./red');

/** ims-config nodes cfgA, cfgB... for users UserA, UserB... */
function accounts(url, users, extra = {}) {
    return users.map((u) => account(`cfg${u}`, `User${u}`, url, extra[u] || {}));
}

/** An IM node wired to its own helper node. */
function imNode(type, id, user, props = {}) {
    return [
        { id, type, account: `cfg${user}`, ...props, wires: [[`${id}_out`]] },
        { id: `${id}_out`, type: 'helper' },
    ];
}

function send(id, msg) {
    helper.getNode(id).receive(msg);
}

let acts = 0;
/**
 * Sends `msg` to node `id` and resolves when the node has finished with it (done(): for a follow or a
 * join, the broker's SUBACK); rejects with the error if it ends in one. MQTT promises no order across
 * connections, so a test that posts right after a follow must wait for this, not race the broker.
 */
function act(id, msg, ms = 8000) {
    const token = `act${++acts}`;
    const done = helper.getNode('completed'); // the Complete node load() adds for every IM node
    const caught = helper.getNode('caught');
    return new Promise((resolve, reject) => {
        const finish = (error, value) => {
            clearTimeout(timer);
            done.removeListener('input', onDone);
            caught?.removeListener('input', onCaught);
            if (error) reject(error);
            else resolve(value);
        };
        const onDone = (m) => m._act === token && finish(undefined, m);
        const onCaught = (m) => m._act === token && finish(new Error(m.error.message));
        const timer = setTimeout(() => finish(new Error(`${id} did not finish ${JSON.stringify(msg)} within ${ms} ms`)), ms);
        done.on('input', onDone);
        caught?.on('input', onCaught);
        helper.getNode(id).receive({ ...msg, _act: token });
    });
}

/** Keeps every message node `id` emits (to its helper "<id>_out"); `next(pred)` waits for one that matches. */
function record(id) {
    return recordAt(`${id}_out`);
}

/** Keeps every message the helper node `id` receives. */
function recordAt(id) {
    const out = helper.getNode(id);
    const seen = [];
    const waiters = [];
    out.on('input', (msg) => {
        seen.push(msg);
        for (const w of [...waiters]) {
            if (w.pred(msg)) {
                waiters.splice(waiters.indexOf(w), 1);
                clearTimeout(w.timer);
                w.resolve(msg);
            }
        }
    });
    return {
        seen,
        next(pred = () => true, ms = 5000) {
            const found = seen.find((m) => pred(m) && !m.__taken);
            if (found) {
                found.__taken = true;
                return Promise.resolve(found);
            }
            return new Promise((resolve, reject) => {
                const w = {
                    pred,
                    resolve: (m) => {
                        m.__taken = true;
                        resolve(m);
                    },
                    timer: setTimeout(() => {
                        waiters.splice(waiters.indexOf(w), 1);
                        reject(
                            new Error(
                                `${id} emitted nothing matching within ${ms} ms; saw ${JSON.stringify(seen.map((m) => [m.topic, m.payload]))}`,
                            ),
                        );
                    }, ms),
                };
                waiters.push(w);
            });
        },
        texts() {
            return seen.map((m) => m.payload);
        },
    };
}

/** Waits for every account of the flow to be connected with its subscriptions acknowledged. */
function allConnected(users) {
    return Promise.all(users.map((u) => connected(helper.getNode(`cfg${u}`))));
}

/** Errors reaching the flow's Catch node (wired to helper "caught"). */
function catchNode() {
    return [
        { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
    ];
}

module.exports = { accounts, imNode, send, act, record, recordAt, allConnected, catchNode };
