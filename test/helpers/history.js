'use strict';
// Asking the broker's history service as a plain MQTT client would (docs/PROTOCOL.md, "History"):
// subscribe its answer topic, publish a request with an id, wait for the answer with that id.

let counter = 0;

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

module.exports = { ask, historyTopics, texts };
