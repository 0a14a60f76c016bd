'use strict';
// Asking the broker's history service as a plain MQTT client would (docs/PROTOCOL.md, "History"):
// subscribe its answer topic, publish a request with an id, wait for the answer with that id.

const { EmbeddedBroker } = require('../../nodes/lib/broker');
const { connectAs, envelope } = require('./mqtt-clients');

let counter = 0;

/**
 * A secured broker for history tests, with these accounts: start(extra) it, connect devices with
 * as(user, device), publish chats with chat(); stop() ends the clients and the broker (afterEach).
 */
function historyBroker(accounts) {
    const passwords = Object.fromEntries(accounts.map((a) => [a.user, a.password]));
    const f = { broker: undefined, clients: [], refusals: [], passwords };
    f.start = async (extra = {}) => {
        f.broker = await EmbeddedBroker.start({ port: 0, security: { accounts }, ...extra });
        f.broker.on('refused', (r) => f.refusals.push(r));
        return f.broker;
    };
    f.as = async (user, device = 'dev1') => {
        const client = await connectAs(`mqtt://127.0.0.1:${f.broker.port}`, user, passwords[user], {
            clientId: `GID_IMS@@@${user}_${device}`,
        });
        f.clients.push(client);
        return client;
    };
    /** A chat envelope from `from` to `to`, published and acknowledged; resolves with the envelope. */
    f.chat = async (client, from, to, text, fields = {}) => {
        const body = JSON.parse(envelope({ type: 'chat', from, to, text, ...fields }));
        await client.publishAsync(`IMS/${to}/Inbox/Chat/${from}`, JSON.stringify(body), { qos: 1 });
        return body;
    };
    f.stop = async () => {
        await Promise.all(f.clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
        await f.broker?.close();
        f.broker = undefined;
        f.refusals.length = 0;
    };
    return f;
}

/** Subscribes the device's answer and sync topics once. */
async function historyTopics(client, user, device) {
    const response = `IMS/${user}/History/Resp/${device}`;
    const sync = `IMS/${user}/History/Sync`;
    if (!client.historySubscribed) {
        await client.subscribeAsync([response, sync], { qos: 1 });
        client.historySubscribed = true;
    }
    return { request: `IMS/${user}/History/Req/${device}`, response, sync };
}

/** Sends a request (an object without id and v, or a raw Buffer) and resolves with the parsed answer. */
async function ask(client, user, device, request, ms = 5000) {
    const { request: topic, response } = await historyTopics(client, user, device);
    const id = `q${++counter}`;
    const payload = Buffer.isBuffer(request) ? request : JSON.stringify({ v: 1, id, ...request });
    const wanted = Buffer.isBuffer(request) ? undefined : id;
    const answer = new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            client.off('message', onMessage);
            reject(new Error(`no history answer to ${payload.toString().slice(0, 80)} within ${ms} ms`));
        }, ms);
        function onMessage(t, body) {
            if (t !== response) return;
            const parsed = JSON.parse(body.toString());
            if (wanted !== undefined && parsed.id !== wanted) return;
            clearTimeout(timer);
            client.off('message', onMessage);
            resolve(parsed);
        }
        client.on('message', onMessage);
    });
    await client.publishAsync(topic, payload, { qos: 1 });
    return answer;
}

/** Texts of a page's entries, oldest first. */
const texts = (page) => page.entries.map((e) => e.message.text);

module.exports = { ask, historyBroker, historyTopics, texts };
