// Where aedes 1.x and its persistences disagree, found by the tests:
// - aedes pipes the retained-message and outgoing-queue streams and never handles their errors. A
//   stream still reading when its store closes (a redeploy right after a SUBSCRIBE) errors with nobody
//   listening: an uncaught exception that takes Node-RED down. Each stream gets a handler, and such
//   errors are reported only while the store is open.
// - aedes-persistence-redis 12 returns async generators, not streams: they are wrapped in Readable.from.
// - aedes stores a SUBSCRIBE once per topic, each time with the packet's whole list, refused filters
//   included: n² writes for n filters (seconds of a stalled event loop for a few hundred), refused
//   filters kept in the session, and on Redis a hang (the persistence waits for its own broadcast keyed
//   by client and first topic, so the second identical call replaced the first one's waiter). Here the
//   calls for one list share one store, made once the packet's filters are all authorized, of the
//   granted ones only.

import { Readable } from 'stream';
import { grantedSubscriptions } from './grants';

const STREAMS = ['createRetainedStreamCombi', 'createRetainedStream', 'outgoingStream'];

export function guardPersistence(persistence: object, onError: (error: Error) => void, closing: () => boolean): void {
    const methods = persistence as Record<string, unknown>;
    for (const name of STREAMS) {
        const original = methods[name];
        if (typeof original !== 'function') continue;
        methods[name] = (...args: unknown[]): Readable => {
            const result = (original as (...a: unknown[]) => unknown).apply(persistence, args);
            const stream = result instanceof Readable ? result : Readable.from(result as AsyncIterable<unknown>);
            stream.on('error', (error: Error) => {
                if (!closing()) onError(error);
            });
            return stream;
        };
    }
    shareIdenticalCalls(methods, 'addSubscriptions', (list) => (list as object[]).filter((sub) => grantedSubscriptions.has(sub)));
    shareIdenticalCalls(methods, 'removeSubscriptions', (list) => list);
}

/**
 * Calls for the same client with the very same list share one promise; the call itself waits a turn
 * (the packet's other filters are authorized meanwhile) and passes `select(list)`.
 */
function shareIdenticalCalls(methods: Record<string, unknown>, name: string, select: (list: unknown[]) => unknown[]): void {
    const original = methods[name];
    if (typeof original !== 'function') return;
    const inFlight = new WeakMap<object, Map<string, Promise<unknown>>>();
    methods[name] = (client: { id: string }, list: unknown): Promise<unknown> => {
        const call = (): Promise<unknown> => Promise.resolve((original as (c: unknown, l: unknown) => unknown).call(methods, client, list));
        if (!Array.isArray(list)) return call();
        let byClient = inFlight.get(list);
        if (!byClient) inFlight.set(list, (byClient = new Map()));
        const running = byClient.get(client.id);
        if (running) return running;
        const promise = new Promise<void>((resolve) => setImmediate(resolve))
            .then(() => {
                const selected = select(list);
                return selected.length > 0 ? (original as (c: unknown, l: unknown) => unknown).call(methods, client, selected) : undefined;
            })
            .finally(() => byClient?.delete(client.id));
        byClient.set(client.id, promise);
        return promise;
    };
}
