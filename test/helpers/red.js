'use strict';
// The real Node-RED runtime (node-red-node-test-helper) with this package's nodes, and small helpers
// to build flows and wait for what comes out of them.

const helper = require('node-red-node-test-helper');
helper.init(require.resolve('node-red'));

const NODES = Object.keys(require('../../package.json')['node-red'].nodes);
// Core nodes that example flows and tests use beside ours.
const CORE = [
    'function/10-function.js',
    'common/21-debug.js',
    'common/20-inject.js',
    'function/15-change.js',
    'function/10-switch.js',
    'common/90-comment.js',
].map((file) => require(`@node-red/nodes/core/${file}`));
const nodeModules = [...NODES.map((name) => require(`../../nodes/${name}.js`)), ...CORE];

/**
 * Loads a flow into the runtime: every non-config node goes on one tab, as in the editor, so Catch and
 * Status nodes see the others.
 */
function load(flow, credentials) {
    const tab = { id: 'tab1', type: 'tab', label: 'test' };
    const nodes = flow.map((n, i) => (n.type === 'ims-config' || n.z ? n : { x: 100, y: 40 * (i + 1), ...n, z: tab.id }));
    // One Complete node for every IM node (helpers/flows.js act() waits on it); one only, because the
    // test helper registers a core node type once per node of that type in the flow.
    const imNodes = nodes.filter((n) => n.type.startsWith('ims-') && n.type !== 'ims-config').map((n) => n.id);
    if (imNodes.length > 0 && !nodes.some((n) => n.id === 'completed')) {
        nodes.push({ id: 'complete', type: 'complete', x: 600, y: 40, z: tab.id, scope: imNodes, uncaught: false, wires: [['completed']] });
        nodes.push({ id: 'completed', type: 'helper', x: 800, y: 40, z: tab.id });
    }
    return helper.load(nodeModules, [tab, ...nodes], credentials || {});
}

/** An ims-config node for account `userId` on `url`, with a short reconnect for tests. */
function account(id, userId, url, extra = {}) {
    return { id, type: 'ims-config', userId, url, reconnectPeriod: '300', deviceId: `${userId}_test`, ...extra };
}

/** Resolves with the next message a helper node receives; rejects after `ms`. */
function nextMessage(node, ms = 5000) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            node.removeListener('input', onInput);
            reject(new Error(`no message at ${node.id} within ${ms} ms`));
        }, ms);
        function onInput(msg) {
            clearTimeout(timer);
            resolve(msg);
        }
        node.once('input', onInput);
    });
}

/** Resolves when `predicate(status)` holds for a status the node shows; rejects after `ms`. */
function waitForStatus(node, predicate, ms = 5000) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            node.removeListener('call:status', onStatus);
            reject(new Error(`status of ${node.id} never matched within ${ms} ms`));
        }, ms);
        function onStatus(call) {
            if (predicate(call.args[0])) {
                clearTimeout(timer);
                node.removeListener('call:status', onStatus);
                resolve(call.args[0]);
            }
        }
        node.on('call:status', onStatus);
    });
}

/** Resolves when the node reports an error (node.error) that a Catch node would get. */
function nextError(node, ms = 5000) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no error from ${node.id} within ${ms} ms`)), ms);
        node.once('call:error', (call) => {
            clearTimeout(timer);
            resolve(call);
        });
    });
}

/** Waits until the account behind `configNode` is connected and has every subscription acknowledged. */
async function connected(configNode, ms = 5000) {
    const session = configNode.account.session;
    const deadline = Date.now() + ms;
    // The account logs in once the deploy's nodes have registered (one tick after the first), and may
    // be between reconnect attempts: poll rather than fail on the last attempt's error.
    while (!session.connection.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (!session.connection.connected) throw new Error(`${session.userId} is not connected after ${ms} ms (${session.connection.state})`);
    while (session.connection.subscriptions.size > session.connection.ackedCount && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
    }
}

/** Unloads the flow and forgets every account's state (kept in global context), so tests start clean. */
async function unloadAll() {
    const anyNode = helper.getNode('tab1') || helper.getNode('cfgA') || helper.getNode('cfgUserA');
    const globalContext = anyNode?.context?.().global;
    if (globalContext) {
        for (const key of globalContext.keys()) if (key.startsWith('ims_state_')) globalContext.set(key, undefined);
    }
    await helper.unload();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * An open embedded broker for the describe() it is called in: started before its tests, stopped after
 * them, every flow unloaded after each test. Returns a holder whose `broker` is the running broker.
 */
function brokerForSuite() {
    const { AedesUnderTest } = require('./brokers');
    const holder = {};
    before(async function () {
        holder.broker = await new AedesUnderTest().start();
    });
    afterEach(() => unloadAll());
    after(async function () {
        await holder.broker.stop();
    });
    return holder;
}

module.exports = { helper, load, unloadAll, nodeModules, account, nextMessage, waitForStatus, nextError, connected, sleep, brokerForSuite };
