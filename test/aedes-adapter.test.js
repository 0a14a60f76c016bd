'use strict';
// The broker reaches into aedes's internals only through src/lib/broker/aedesAdapter.ts. This test
// checks every one of those reaches on a live client, so an aedes upgrade that moves one fails here
// instead of silently switching off a defence (the packet-size limit, the outgoing queue, wills...).

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const mqtt = require('mqtt');
const { EmbeddedBroker, DEFAULT_LIMITS } = require('../nodes/lib/broker');
const { adapterProblems, connectedClients } = require('../nodes/lib/broker/aedesAdapter');

describe('aedes adapter', function () {
    it("finds every internal it relies on in this aedes version's broker and clients", async function () {
        const broker = await EmbeddedBroker.start({ port: 0 });
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'GID_IMS@@@probe', reconnectPeriod: 0 });
        try {
            const live = connectedClients(broker.aedes)['GID_IMS@@@probe'];
            assert.ok(live, 'aedes.clients holds the connected client by its ID');
            assert.deepStrictEqual(adapterProblems(broker.aedes, live), []);
        } finally {
            await client.endAsync();
            await broker.close();
        }
    });

    it('reports what is missing on an object that is not an aedes client', function () {
        const problems = adapterProblems({}, {});
        assert.ok(problems.includes('aedes.clients'));
        assert.ok(problems.includes('client._parser._parseLength/_emitError'));
    });

    it("lists every limit in the ims-broker dialog, with the runtime's defaults", function () {
        const html = fs.readFileSync(path.join(__dirname, '..', 'nodes', 'ims-broker.html'), 'utf8');
        const listed = JSON.parse(html.match(/var LIMITS = (\[[^\]]*\])/)[1].replace(/'/g, '"'));
        assert.deepStrictEqual(listed, Object.keys(DEFAULT_LIMITS));
        for (const lang of ['en-US', 'zh-CN']) {
            const catalogue = require(`../nodes/locales/${lang}/ims-broker.json`)['ims-broker'].limits;
            assert.deepStrictEqual(Object.keys(catalogue).sort(), Object.keys(DEFAULT_LIMITS).sort(), lang);
        }
    });
});
