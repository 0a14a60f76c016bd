// What this broker adds to the seed's layout, beyond routing: a virtual-group publish is expanded into
// each member's inbox, a system push also reaches the users whose attributes match, and (cloud MQ
// semantics) a p2p message reaches its device without a subscription. Every copy still passes the
// delivery-time check (authorizeForward), like any other message. The expansion runs once, where the
// publish arrived; attribute push and p2p run on every instance of a cluster, each for its own clients,
// as the message reaches it through the broker's emitter.

import type { Aedes } from 'aedes' with { 'resolution-mode': 'import' };
import { decodeMessage } from '../envelope';
import { LEVELS, ParsedTopic, TopicCodec } from '../topics';
import { connectedClients, ClientInternals, emitterOf } from './aedesAdapter';
import { topicMatches } from './highestQos';
import type { BrokerIdentity } from './policy';

export interface VirtualGroupSource {
    /** Members the flow named for a group. */
    named(name: string): string[] | undefined;
    /** The sender's friends (the broker saw them accept), less those it blocked. */
    friendsOf(sender: string): string[];
}

/** An expanded greeting: how many members it reached, who, and the payload each got (without the list). */
export type ExpansionResult = { ok: true; members: number; recipients: string[]; delivered: Buffer } | { ok: false; reason: string };

export class ServerDelivery {
    constructor(
        private readonly aedes: Aedes,
        private readonly codec: TopicCodec,
        private readonly groups: VirtualGroupSource,
        private readonly maxMembers: number,
    ) {}

    /** One greeting, delivered as P/<member>/Inbox/Chat/<sender> to each member, as if sent one by one. */
    expandVirtualGroup(sender: string, parsed: ParsedTopic, payload: Buffer, qos: number, system = false): ExpansionResult {
        // Read as the clients read it: data.members of an envelope, or members of bare JSON.
        let listed: string[] | undefined;
        let delivered = payload;
        try {
            const message = decodeMessage(payload, parsed, Number.MAX_SAFE_INTEGER);
            const members = message.data?.members;
            if (Array.isArray(members)) {
                listed = members.filter((m): m is string => typeof m === 'string');
                // The list itself is not part of the greeting: each member gets it without the others' names.
                const json = JSON.parse(payload.toString('utf8')) as Record<string, unknown> & { data?: Record<string, unknown> };
                delete (message.enveloped ? (json.data as Record<string, unknown>) : json).members;
                delivered = Buffer.from(JSON.stringify(json));
            }
        } catch {
            // not a valid message: delivered as it came; receivers judge it as they would any chat
        }
        const name = parsed.group as string;
        const named = listed ? undefined : this.groups.named(name);
        // A group the flow named is greeted by its members (and system accounts), not by anyone who knows its name.
        if (named && !named.includes(sender) && !system) return { ok: false, reason: `${sender} is not in the virtual group ${name}` };
        const members = [...new Set(listed ?? named ?? (name === 'friends' ? this.groups.friendsOf(sender) : []))];
        if (members.length > this.maxMembers) {
            return { ok: false, reason: `a virtual-group publish may reach ${this.maxMembers} members; this one names ${members.length}` };
        }
        const recipients: string[] = [];
        for (const member of members) {
            if (!this.codec.isId('user', member)) continue; // not a valid user ID: nobody to deliver to
            recipients.push(member);
            this.publish(this.codec.chat(member, sender), delivered, qos);
        }
        return { ok: true, members: recipients.length, recipients, delivered };
    }

    /**
     * Listens on the broker's emitter (which, in a cluster, every instance hears): system pushes reach
     * users by attribute, and with MQ semantics p2p messages reach their device, on this instance.
     */
    listen(p2p: boolean): Promise<void> {
        const P = this.codec.parentTopic;
        const on = (filter: string, handle: (topic: string, payload: Buffer, qos: number) => void): Promise<void> =>
            new Promise((resolve) =>
                emitterOf(this.aedes).on(
                    filter,
                    (message, done) => {
                        handle(
                            message.topic,
                            Buffer.isBuffer(message.payload) ? message.payload : Buffer.from(String(message.payload)),
                            message.qos ?? 0,
                        );
                        done();
                    },
                    resolve,
                ),
            );
        const listening = [on(`${P}/${LEVELS.system}/+`, (topic, payload, qos) => this.pushByAttribute(topic, payload, qos))];
        if (p2p) listening.push(on(`${P}/${LEVELS.p2p}/+`, (topic, payload, qos) => this.deliverP2p(topic, payload, qos)));
        return Promise.all(listening).then(noop);
    }

    /** A system push on P/System/<value> reaches this instance's users with an attribute of that value, once. */
    private pushByAttribute(topic: string, payload: Buffer, qos: number): void {
        const value = this.codec.parse(topic)?.region;
        if (!value) return;
        for (const client of Object.values(connectedClients(this.aedes))) {
            const attributes = identityOf(client)?.attributes;
            if (!attributes || !Object.values(attributes).includes(value) || subscribedTo(client, topic)) continue;
            client.publish(packet(topic, payload, qos), noop);
        }
    }

    /** MQ semantics: P/p2p/<clientId> reaches that device without a subscription; one that did subscribe gets it that way, once. */
    private deliverP2p(topic: string, payload: Buffer, qos: number): void {
        const clientId = this.codec.parse(topic)?.clientId;
        const target = clientId ? connectedClients(this.aedes)[clientId] : undefined;
        if (!target || subscribedTo(target, topic)) return;
        target.publish(packet(topic, payload, qos), noop);
    }

    private publish(topic: string, payload: Buffer, qos: number): void {
        this.aedes.publish(packet(topic, payload, qos) as never, noop);
    }
}

/** Does any of the client's subscriptions cover this topic (then it gets the message that way)? */
function subscribedTo(client: ClientInternals, topic: string): boolean {
    return Object.keys(client.subscriptions).some((filter) => topicMatches(filter, topic));
}

/** The identity the authentication hook attached to a client. */
export function identityOf(client: ClientInternals | object | null | undefined): BrokerIdentity | undefined {
    return (client as { ims?: BrokerIdentity } | null | undefined)?.ims;
}

function packet(topic: string, payload: Buffer, qos: number): object {
    return { cmd: 'publish', topic, payload, qos: Math.min(qos, 1), retain: false, dup: false };
}

function noop(): void {
    return undefined;
}
