/**
 * How every socket IMS owns is tuned, on the client side (ImsConnection) and on the broker side
 * (EmbeddedBroker): one rule in one place.
 *
 * IM traffic is many small packets. Nagle's algorithm would hold each one back until the previous
 * one is acknowledged, so it is turned off. Without Nagle, though, every MQTT packet becomes a
 * system call and a TCP segment of its own: mqtt-packet corks the socket per packet and uncorks it
 * on the next tick, and a QoS 1 chat relay writes four packets per message (PUBACK, PUBLISH, and
 * the peer's in turn). Writes are therefore coalesced per turn of the event loop: the first write
 * of a turn corks the socket, and a setImmediate uncorks it once every callback of the turn (all
 * the packets parsed from one read, all the replies they caused) has written. This batches like
 * Nagle without its wait: nothing is held past the end of the current turn.
 */

const TUNED = Symbol('ims.tuned');

interface TunableSocket {
    setNoDelay?: (noDelay: boolean) => unknown;
    cork?: () => void;
    uncork?: () => void;
    write: (...args: never[]) => boolean;
    destroyed?: boolean;
    [TUNED]?: true;
}

export function tuneSocket(stream: unknown): void {
    const socket = stream as TunableSocket | undefined;
    if (!socket || typeof socket.write !== 'function' || socket[TUNED]) return;
    socket[TUNED] = true;
    socket.setNoDelay?.(true);
    if (typeof socket.cork !== 'function' || typeof socket.uncork !== 'function') return;
    const cork = socket.cork.bind(socket);
    const uncork = socket.uncork.bind(socket);
    const write = socket.write;
    let held = false;
    const flush = (): void => {
        held = false;
        uncork();
    };
    socket.write = function coalescedWrite(this: TunableSocket, ...args: never[]): boolean {
        if (!held && !this.destroyed) {
            held = true;
            cork();
            setImmediate(flush);
        }
        return write.apply(this, args);
    };
}
