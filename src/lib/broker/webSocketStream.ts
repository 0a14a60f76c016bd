// MQTT over a WebSocket as a stream aedes can use. ws's own stream ends a destroyed WebSocket with
// terminate(), dropping what is still being written; aedes destroys the stream right after writing a
// refusing CONNACK (with the refusal as the error, too), so a browser saw a plain close instead of
// "bad user name or password". Here a destroy while writes are pending lets them go out and closes the
// WebSocket properly first, within a grace period.

import type { Duplex } from 'stream';
import { createWebSocketStream, WebSocket } from 'ws';

/** How long a peer has to take the last packets and answer the close handshake before its socket is cut. */
const CLOSE_GRACE_MS = 2000;
/**
 * At most this much is still flushed: a CONNACK is 4 bytes, but a slow consumer cut off for the
 * megabytes it did not read (aedesAdapter's boundOutgoingQueue) must go at once, as over TCP.
 */
const FLUSH_AT_MOST_BYTES = 64 * 1024;

export function webSocketStream(ws: WebSocket, closeGraceMs = CLOSE_GRACE_MS): Duplex {
    const stream = createWebSocketStream(ws);
    const destroyNow = stream.destroy.bind(stream);
    let closing = false;
    let firstError: Error | undefined;
    stream.destroy = function flushThenDestroy(error?: Error): Duplex {
        if (closing) {
            // aedes destroys twice on a refused login (close, then its error handler): one close is enough.
            firstError ??= error;
            return stream;
        }
        const pending = stream.writableLength;
        if (stream.destroyed || pending === 0 || pending > FLUSH_AT_MOST_BYTES) return destroyNow(error);
        closing = true;
        firstError = error;
        const finish = (): void => {
            clearTimeout(cut);
            destroyNow(firstError);
        };
        const cut = setTimeout(finish, closeGraceMs);
        cut.unref();
        ws.once('close', finish);
        // end() writes what is queued, then sends the WebSocket close frame (ws's stream _final).
        stream.end();
        return stream;
    };
    return stream;
}
