// The editor's way to hash broker account passwords: the dialog posts the passwords a user typed and
// saves only the salted hashes, so the `accounts` credential (sent back to every editor that opens the
// dialog) never holds a password. Guarded like a deploy of the node: the `ims-broker.write` permission.

import type { NodeAPI } from 'node-red';
import { hashPassword } from '../lib/broker';

export const PASSWORD_HASH_PATH = '/ims-broker/password-hashes';
/** One dialog's worth: a request for more, or longer, is refused. */
const MAX_PASSWORDS = 200;
const MAX_LENGTH = 1024;

export function servePasswordHashes(RED: NodeAPI): void {
    RED.httpAdmin.post(PASSWORD_HASH_PATH, RED.auth.needsPermission('ims-broker.write'), (req, res) => {
        const passwords: unknown = (req.body as { passwords?: unknown } | undefined)?.passwords;
        const valid =
            Array.isArray(passwords) &&
            passwords.length <= MAX_PASSWORDS &&
            passwords.every((p) => typeof p === 'string' && p.length > 0 && p.length <= MAX_LENGTH);
        if (!valid) {
            res.status(400).json({ error: `expected {"passwords": [...]}, at most ${MAX_PASSWORDS} non-empty strings` });
            return;
        }
        Promise.all((passwords as string[]).map((p) => hashPassword(p))).then(
            (hashes) => res.json({ hashes }),
            (error: Error) => res.status(500).json({ error: error.message }),
        );
    });
}
