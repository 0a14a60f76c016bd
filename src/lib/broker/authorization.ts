// The policy's answers wired into aedes: at SUBSCRIBE (SUBACK 0x80 for a refusal, the connection stays
// up), at PUBLISH (a refused publish is acknowledged and delivered to nobody: MQTT 3.1.1 has no refusal
// for it), and at every delivery (authorizeForward: the one check that also covers queued, restored,
// retained and will messages, and any race with a block or a leave).

import type { Client, PublishPacket } from 'aedes' with { 'resolution-mode': 'import' };
import { internalsOf } from './aedesAdapter';
import type { BrokerContext, SecuredContext } from './context';
import { identityFor } from './authentication';
import { CAPABILITIES_TOPIC, type BrokerIdentity } from './policy';
import { identityOf } from './serverDelivery';
import { grantedSubscriptions } from './grants';
import { answerRefusal } from './refusalAnswers';

/** Where a refused publish goes: acknowledged and delivered to nobody. */
export const DROPPED = '$IMS/dropped';

type Packet = PublishPacket & { clientId?: string };

/** Topics granted in a SUBSCRIBE that aedes may not have added to the client yet. */
const pendingGrants = new WeakMap<object, Set<string>>();

export function installAuthorization(ctx: BrokerContext): void {
    const { aedes } = ctx;
    aedes.authorizeSubscribe = (client, sub, done) => {
        // Whatever is granted is marked so: a persistent session stores only that (persistenceGuards).
        const grant = (granted: typeof sub): void => {
            grantedSubscriptions.add(sub);
            done(null, granted);
        };
        if (sub.topic === CAPABILITIES_TOPIC) {
            sub.qos = 0;
            return grant(sub);
        }
        const secured = ctx.secured;
        if (!secured) return sub.topic.startsWith('$IMS') ? done(null, null) : grant(sub);
        const identity = identityOf(client);
        if (!identity) return done(null, null);
        const internals = internalsOf(client as Client);
        // Filters granted earlier in the same SUBSCRIBE may not be added yet: they count too.
        const pending = pendingGrants.get(internals);
        let held = Object.keys(internals.subscriptions).length;
        for (const topic of pending ?? []) if (!internals.subscriptions[topic]) held++;
        const reason = ctx.excessFilters.has(sub)
            ? `more than ${ctx.limits.filtersPerSubscribe} filters in one SUBSCRIBE`
            : held >= ctx.limits.subscriptionsPerClient && !internals.subscriptions[sub.topic]
              ? `${identity.clientId} already holds ${held} subscriptions (the limit)`
              : refusalOf(secured.policy.canSubscribe(identity, sub.topic));
        if (!reason) {
            if (pending) pending.add(sub.topic);
            else pendingGrants.set(internals, new Set([sub.topic]));
            return grant(sub);
        }
        ctx.refuse({ user: identity.user, clientId: identity.clientId, action: 'subscribe', topic: sub.topic, reason });
        return done(null, null); // SUBACK 0x80, the connection stays up
    };
    // Once a SUBSCRIBE (or a restored session) is in place, its grants are in client.subscriptions.
    const settled = (client: Client | null): void => {
        if (client) pendingGrants.delete(internalsOf(client));
    };
    aedes.on('subscribe', (_subs, client) => settled(client));
    aedes.on('clientReady', settled);
    aedes.authorizePublish = (client, packet, done) => {
        if (packet.topic.startsWith('$SYS') || packet.topic.startsWith('$IMS')) return done(new Error(`${packet.topic} is reserved`));
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(String(packet.payload ?? ''));
        const secured = ctx.secured;
        if (!secured) {
            // An open broker: no identity to check; the layout's extras still apply (not to a stored will).
            if (client) serverSideDelivery(ctx, packet as Packet, undefined, payload, true);
            return done(null);
        }
        const identity = identityOf(client) ?? (client ? undefined : willOwner(secured, packet as Packet));
        if (!identity) {
            if (client) return done(new Error('not logged in'));
            drop(packet); // a publish with no client is a stored will: without a known owner, it goes nowhere
            return done(null);
        }
        const parsed = secured.policy.parse(packet.topic);
        const decision = secured.policy.canPublish(identity, packet.topic, payload, parsed);
        if (!decision.ok) {
            ctx.refuse({
                user: identity.user,
                clientId: identity.clientId,
                action: client ? 'publish' : 'will',
                topic: packet.topic,
                reason: decision.reason,
            });
            if (client && decision.code) {
                answerRefusal(aedes, ctx.codec, identity.clientId, {
                    code: decision.code,
                    reason: decision.reason,
                    topic: packet.topic,
                    target: decision.target,
                });
            }
            drop(packet);
            return done(null);
        }
        if (packet.retain && !secured.policy.mayRetain(identity, packet.topic, parsed)) packet.retain = false;
        const effect = secured.policy.observe(identity, packet.topic, payload, parsed);
        if (effect.unsubscribe) ctx.unsubscribeUser(effect.unsubscribe.user, effect.unsubscribe.topics);
        serverSideDelivery(ctx, packet as Packet, identity.user, payload, identity.system);
        // History keeps what it stores, and takes a request to itself: nobody else receives it.
        if (parsed && client && ctx.history?.observe(identity, parsed, payload, identity.clientId)) drop(packet);
        return done(null);
    };
    aedes.authorizeForward = (client, packet) => {
        const secured = ctx.secured;
        if (!secured) return packet;
        const identity = identityOf(client);
        return identity && secured.policy.canRead(identity, packet.topic) ? packet : null;
    };
}

/** The owner of a stored will published after a restart (no client): the user its Client ID is bound to. */
function willOwner(secured: SecuredContext, packet: Packet): BrokerIdentity | undefined {
    const user = packet.clientId ? secured.bindings.ownerOf(packet.clientId) : undefined;
    const account = user ? secured.accounts.get(user) : undefined;
    return account && packet.clientId ? identityFor(account, packet.clientId) : undefined;
}

/** Virtual groups: one publish, expanded here into each member's inbox. */
function serverSideDelivery(ctx: BrokerContext, packet: Packet, sender: string | undefined, payload: Buffer, system: boolean): void {
    const parsed = ctx.secured ? ctx.secured.policy.parse(packet.topic) : ctx.codec.parse(packet.topic);
    if (!parsed) return;
    if (parsed.kind === 'vgroup' && parsed.from && parsed.group) {
        const from = sender ?? parsed.from;
        const result = ctx.delivery.expandVirtualGroup(from, parsed, payload, packet.qos, system);
        if (result.ok) {
            ctx.virtualGroupExpanded({ sender: from, name: parsed.group, members: result.members });
            // Kept as if sent to each member one by one (the server's publishes pass no client's check).
            ctx.history?.keepExpanded(from, result.recipients, result.delivered);
        } else ctx.refuse({ user: from, clientId: packet.clientId ?? '', action: 'limit', topic: packet.topic, reason: result.reason });
        drop(packet); // members get it in their inboxes; the list itself goes nowhere
    }
}

function drop(packet: { topic: string; retain: boolean }): void {
    packet.topic = DROPPED;
    packet.retain = false;
}

function refusalOf(decision: { ok: true } | { ok: false; reason: string }): string {
    return decision.ok ? '' : decision.reason;
}
