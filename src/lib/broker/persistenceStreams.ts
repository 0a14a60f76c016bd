// aedes 1.x pipes the persistence's retained-message and outgoing-queue streams, and never handles
// their errors. Two persistences need help with that:
// - aedes-persistence-redis 12 returns async generators, not streams: they are wrapped in Readable.from;
// - a stream still reading when its store closes (a redeploy right after a SUBSCRIBE) errors with
//   nobody listening, an uncaught exception that takes Node-RED down: each stream gets a handler, and
//   such errors are reported only while the store is open.

import { Readable } from 'stream';

const STREAMS = ['createRetainedStreamCombi', 'createRetainedStream', 'outgoingStream'];

export function guardPersistenceStreams(persistence: object, onError: (error: Error) => void, closing: () => boolean): void {
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
}
