// The IM connection's MQTT transport, in one place so that the connection and the benchmark's
// baseline (a bare MQTT.js bot with exactly this transport, docs/PERFORMANCE.md) use the same code:
// whatever is tuned here is measured on both sides, and the difference left is the IM layer's own.

import mqtt, { IClientOptions, MqttClient } from 'mqtt';
import { OutgoingStore } from './outgoingStore';
import { tuneSocket } from './socketTuning';

/**
 * MQTT.js traces every packet through `debug`, which gathers its arguments into an array even when
 * tracing is off (about 3.6 KB of garbage per relayed message). Unless DEBUG asks for mqttjs, the
 * trace goes to a no-op.
 */
const MQTT_TRACED = /(^|[\s,])(mqttjs|\*)/.test(process.env.DEBUG ?? '');
const MQTT_LOG = MQTT_TRACED ? undefined : (): void => undefined;

/**
 * An MQTT.js client on the IM transport: tracing off, our outgoing store (see OutgoingStore), and
 * every socket tuned as it connects (Nagle off, writes coalesced per turn; see tuneSocket). Options
 * given by the caller win over the first two.
 */
export function connectTransport(url: string, options: IClientOptions = {}): MqttClient {
    const client = mqtt.connect(url, { log: MQTT_LOG, outgoingStore: new OutgoingStore(), ...options });
    // Registered before any listener of the caller's, so the socket is tuned before anything is sent.
    client.on('connect', () => tuneSocket(client.stream));
    return client;
}
