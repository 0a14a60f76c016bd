// ims-broker: an embedded MQTT broker, so a fresh install needs no broker of its own. Status shows how
// many clients are connected; closing (redeploy, stop) frees the ports before the next start.

import type { Node, NodeAPI, NodeDef } from 'node-red';
import { DEFAULT_HOST, EmbeddedBroker } from './lib/broker';
import { errorStatus } from './red/imsNode';

interface ImsBrokerDef extends NodeDef {
    port: string;
    host: string;
    wsPort: string;
    wsPath: string;
}

export = function register(RED: NodeAPI): void {
    function ImsBroker(this: Node, def: ImsBrokerDef): void {
        RED.nodes.createNode(this, def);
        const node = this;
        const creds = (node.credentials ?? {}) as { user?: string; password?: string };
        const showClients = (count: number): void => {
            node.status({ fill: 'green', shape: 'dot', text: RED._('ims-broker.status.clients', { count }) });
        };
        node.status({ fill: 'yellow', shape: 'ring', text: RED._('ims-broker.status.starting') });
        const starting = EmbeddedBroker.start({
            port: Number(def.port) || 0,
            host: def.host || DEFAULT_HOST,
            wsPort: def.wsPort === '' || def.wsPort === undefined ? undefined : Number(def.wsPort),
            wsPath: def.wsPath || undefined,
            username: creds.user || undefined,
            password: creds.password || undefined,
        }).then((broker) => {
            broker.on('clients', showClients);
            showClients(0);
            node.log(RED._('ims-broker.status.listening', { host: def.host || DEFAULT_HOST, port: broker.port }));
            return broker;
        }, (error: Error) => {
            const err = new Error(RED._('ims-broker.errors.listen', { port: def.port, error: error.message }));
            node.status(errorStatus(err));
            node.error(err.message, { payload: err.message, topic: 'ims-broker' });
            return undefined;
        });
        node.on('close', (done: () => void) => {
            starting.then((broker) => broker?.close()).catch((error: Error) => node.warn(error.message)).finally(done);
        });
    }
    RED.nodes.registerType('ims-broker', ImsBroker, {
        credentials: { user: { type: 'text' }, password: { type: 'password' } },
    });
};
