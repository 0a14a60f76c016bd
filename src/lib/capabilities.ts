// What the broker offers beyond plain MQTT, learned from the retained message an ims-broker keeps on
// `$IMS/capabilities` (docs/PROTOCOL.md, "What the broker offers"). Nothing is assumed: a broker that
// sends nothing there (Mosquitto, NATS, RabbitMQ, a cloud service) is plain MQTT.

export const CAPABILITIES_TOPIC = '$IMS/capabilities';

export interface Capabilities {
    /** True when the broker said anything at all on the topic. */
    announced: boolean;
    /** One publish on P/<me>/Greet/<name> reaches every member's inbox. */
    virtualGroups: boolean;
    /** A system push on P/System/<value> also reaches users with that attribute value. */
    attributePush: boolean;
    /** The broker enforces the IM rules. */
    secured: boolean;
    /** The broker keeps history and answers on P/<me>/History/Resp/<device> (src/lib/history.ts). */
    history: boolean;
}

export const PLAIN_MQTT: Capabilities = Object.freeze({
    announced: false,
    virtualGroups: false,
    attributePush: false,
    secured: false,
    history: false,
});

/** The capabilities in an announcement; plain MQTT for anything that is not one (version 1, JSON). */
export function parseCapabilities(payload: Buffer): Capabilities {
    let body: unknown;
    try {
        body = JSON.parse(payload.toString('utf8'));
    } catch {
        return PLAIN_MQTT;
    }
    if (typeof body !== 'object' || body === null || (body as { v?: unknown }).v !== 1) return PLAIN_MQTT;
    const flag = (name: string): boolean => (body as Record<string, unknown>)[name] === true;
    return {
        announced: true,
        virtualGroups: flag('virtualGroups'),
        attributePush: flag('attributePush'),
        secured: flag('secured'),
        history: flag('history'),
    };
}
