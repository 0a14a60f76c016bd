// Who may connect, and as whom. With security on: an account's password (failed logins back off), a
// Client ID that is well formed and belongs to that user (bound at first use, so nobody can take over
// another user's persistent session or kick its device off), the device limit, and a will that the
// publish policy allows (otherwise the will is dropped and reported, and the connection goes on).

import type { AuthenticateError, Client } from 'aedes' with { 'resolution-mode': 'import' };
import { timingSafeEqual } from 'crypto';
import { mqttClientIdProblem, parseClientId } from '../ids';
import { ClientInternals, dropWill, internalsOf, remoteAddressOf } from './aedesAdapter';
import type { BrokerContext, SecuredContext } from './context';
import type { BrokerIdentity } from './policy';

type ImsClient = Client & { ims?: BrokerIdentity; imsEmptyId?: boolean; imsAssignedId?: boolean };
type ReturnCode = 2 | 3 | 4 | 5;

export function installAuthentication(ctx: BrokerContext): void {
    const { aedes } = ctx;
    aedes.preConnect = (client, packet, done) => {
        const c = client as ImsClient;
        // MQTT 3.1.1 [MQTT-3.1.3-8]: a zero-length Client ID with clean session off gets CONNACK 0x02;
        // aedes would invent an ID. preConnect sees the raw packet, authenticate answers with the code.
        c.imsEmptyId = !packet.clientId && !packet.clean;
        // An ID aedes assigns (random) is nobody's guess: it needs no binding.
        c.imsAssignedId = !packet.clientId && packet.clean;
        done(null, true);
    };
    aedes.authenticate = (client, username, password, done) => {
        const c = client as ImsClient;
        const fail = (returnCode: ReturnCode, reason: string): void => {
            ctx.refuse({ user: username ?? '', clientId: c.imsEmptyId ? '' : client.id, action: 'connect', topic: '', reason });
            done(Object.assign(new Error(reason), { returnCode }) as AuthenticateError, false);
        };
        if (c.imsEmptyId) return fail(2, 'a zero-length Client ID needs clean session');
        const secret = password?.toString('utf8') ?? '';
        const secured = ctx.secured;
        if (!secured) {
            const { username: user, password: pass } = ctx.login;
            const open = !user && !pass;
            if (open || (sameSecret(username ?? '', user ?? '') && sameSecret(secret, pass ?? ''))) return done(null, true);
            return fail(4, 'Bad user name or password');
        }
        admit(ctx, secured, c, username, secret).then(
            (outcome) => {
                if (!outcome.ok) return fail(outcome.code, outcome.reason);
                c.ims = outcome.identity;
                trackLive(secured, internalsOf(client), outcome.identity.user);
                checkWill(ctx, secured, c, outcome.identity);
                return done(null, true);
            },
            (error: Error) => fail(3, `the broker could not check the login: ${error.message}`),
        );
    };
}

type Admission = { ok: true; identity: BrokerIdentity } | { ok: false; code: ReturnCode; reason: string };

async function admit(
    ctx: BrokerContext,
    secured: SecuredContext,
    client: ImsClient,
    username: string | undefined,
    secret: string,
): Promise<Admission> {
    const user = username ?? '';
    const address = remoteAddressOf(internalsOf(client));
    // A device already bound to this user is not held back by failures elsewhere (someone guessing the
    // user's password must not lock the owner out); its own address's back-off still applies.
    const knownDevice = !client.imsAssignedId && secured.bindings.ownerOf(client.id) === user;
    const wait = secured.throttle.waitFor(user, address, knownDevice);
    if (wait > 0) return { ok: false, code: 5, reason: `too many failed logins: retry in ${Math.ceil(wait / 1000)} s` };
    const account = user ? secured.accounts.get(user) : undefined;
    if (!account || !(await secured.passwords.matches(secret, account))) {
        secured.throttle.failed(user, address);
        return { ok: false, code: 4, reason: 'Bad user name or password' };
    }
    secured.throttle.succeeded(user);
    const open = secured.live.get(account.user)?.size ?? 0;
    if (open >= ctx.limits.connectionsPerUser) {
        return { ok: false, code: 5, reason: `${account.user} already has ${open} connections open (the limit)` };
    }
    const rules = secured.policy.codec.rules;
    if (!client.imsAssignedId) {
        const problem = mqttClientIdProblem(client.id, rules);
        if (problem) return { ok: false, code: 2, reason: problem };
    }
    if (secured.mqSemantics) {
        let mqGroupId: string;
        try {
            mqGroupId = parseClientId(client.id, rules).mqGroupId;
        } catch (error) {
            return { ok: false, code: 2, reason: (error as Error).message };
        }
        if (!secured.groupIds.includes(mqGroupId))
            return { ok: false, code: 2, reason: `GroupID ${mqGroupId} is not known to this broker` };
    }
    if (!client.imsAssignedId) {
        const internals = internalsOf(client);
        const bound = await secured.bindings.claim(client.id, account.user, !internals.clean);
        if (!bound.ok) return { ok: false, code: 2, reason: bound.reason };
        const clientId = client.id;
        internals.conn.once('close', () => secured.bindings.release(clientId));
    }
    return { ok: true, identity: identityFor(account, client.id) };
}

/** Keeps the connection in the user's set of open connections until its socket closes. */
function trackLive(secured: SecuredContext, client: ClientInternals, user: string): void {
    let open = secured.live.get(user);
    if (!open) secured.live.set(user, (open = new Set()));
    open.add(client);
    client.conn.once('close', () => {
        open?.delete(client);
        if (open?.size === 0 && secured.live.get(user) === open) secured.live.delete(user);
    });
}

export function identityFor(
    account: { user: string; system?: boolean; attributes?: Record<string, string> },
    clientId: string,
): BrokerIdentity {
    return { user: account.user, clientId, system: account.system === true, attributes: { ...account.attributes } };
}

/** A will is a publish made later on the client's behalf: it must pass the same rules now. */
function checkWill(ctx: BrokerContext, secured: SecuredContext, client: ImsClient, identity: BrokerIdentity): void {
    const internals = internalsOf(client);
    const will = internals._will;
    if (!will) return;
    const payload = Buffer.isBuffer(will.payload) ? will.payload : Buffer.from(String(will.payload ?? ''));
    const decision = secured.policy.canPublish(identity, will.topic, payload);
    const reason = !decision.ok
        ? decision.reason
        : will.retain && !secured.policy.mayRetain(identity, will.topic)
          ? 'only presence may be a retained will'
          : '';
    if (!reason) return;
    dropWill(internals);
    ctx.refuse({ user: identity.user, clientId: identity.clientId, action: 'will', topic: will.topic, reason: `will dropped: ${reason}` });
}

function sameSecret(given: string, expected: string): boolean {
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
}
