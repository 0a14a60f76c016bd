// Where aedes 1.x and its persistences disagree, found by the tests:
// - aedes pipes the retained-message and outgoing-queue streams and never handles their errors. A
//   stream still reading when its store closes (a redeploy right after a SUBSCRIBE) errors with nobody
//   listening: an uncaught exception that takes Node-RED down. Each stream gets a handler, and such
//   errors are reported only while the store is open.
// - aedes-persistence-redis 12 returns async generators, not streams: they are wrapped in Readable.from.
// - aedes stores a SUBSCRIBE once per topic, each time with the packet's whole list; the Redis
//   persistence waits for its own broadcast keyed by client and first topic, so the second identical
//   call replaced the first one's waiter and the SUBACK never came. Identical concurrent calls share one.

import { Readable } from 'stream';

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
    shareIdenticalCalls(methods, 'addSubscriptions');
    shareIdenticalCalls(methods, 'removeSubscriptions');
}

/** Concurrent calls for the same client with the very same list share one promise. */
function shareIdenticalCalls(methods: Record<string, unknown>, name: string): void {
    const original = methods[name];
    if (typeof original !== 'function') return;
    const inFlight = new WeakMap<object, Map<string, Promise<unknown>>>();
    methods[name] = (client: { id: string }, list: unknown): Promise<unknown> => {
        const call = (): Promise<unknown> => Promise.resolve((original as (c: unknown, l: unknown) => unknown).call(methods, client, list));
        if (typeof list !== 'object' || list === null) return call();
        let byClient = inFlight.get(list);
        if (!byClient) inFlight.set(list, (byClient = new Map()));
        const running = byClient.get(client.id);
        if (running) return running;
        const promise = call().finally(() => byClient?.delete(client.id));
        byClient.set(client.id, promise);
        return promise;
    };
}
