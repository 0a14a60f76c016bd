// Messages every IM node shares live in the ims-config catalogue. Node-RED scopes RED._ to the calling
// node set's own catalogue, so shared keys are looked up under ims-config's namespace (<module>/<set>).

import type { NodeAPI } from 'node-red';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const MODULE: string = require('../../package.json').name;
const SHARED_NAMESPACE = `${MODULE}/ims-config`;

/** A shared message, `key` relative to `ims-config.` in the ims-config catalogue. */
export function shared(RED: NodeAPI, key: string, params?: Record<string, string | number>): string {
    return RED._(`${SHARED_NAMESPACE}:ims-config.${key}`, params);
}
