// Node globals that src/lib and MQTT.js use, injected by esbuild wherever a bundled module names them.
import { Buffer } from 'buffer';
import process from 'process';

/** Node's "after this turn's I/O": a zero-delay timer is the browser's nearest. */
function setImmediate(callback: (...args: unknown[]) => void, ...args: unknown[]): ReturnType<typeof setTimeout> {
    return setTimeout(callback, 0, ...args);
}

export { Buffer, process, setImmediate };
