// What every IM node does with its ims-config: find it, register with it, show its status, report
// errors as catchable errors with a red status, and deregister on close.

import type { Node, NodeAPI, NodeMessage, NodeStatus } from 'node-red';
import { ImsError } from '../lib/ids';
import type { ParsedTopic } from '../lib/topics';
import { Account, AccountUser } from './account';
import { shared } from './i18n';
import type { ImsMeta, ImsNodeMessage } from './messages';

export interface ImsConfigNode extends Node {
    account: Account;
}

export interface Binding {
    account: Account;
    /** Marks `error` on the node (red status) and ends the input with it, so a Catch node gets it. */
    fail(error: unknown, done: (err?: Error) => void): void;
    /** Back to the account's connection status after a node-specific status. */
    restoreStatus(): void;
    /** A status saying an action changed nothing (already a friend...), until the next action. */
    note(text: string): void;
}

/** Binds `node` to the ims-config `configId`; undefined (with a red status and an error) when there is none. */
export function bindToAccount(
    RED: NodeAPI,
    node: Node,
    configId: string,
    handlers: Omit<AccountUser, 'node' | 'onRejected'> & Partial<Pick<AccountUser, 'onRejected'>>,
): Binding | undefined {
    const config = RED.nodes.getNode(configId) as ImsConfigNode | null;
    if (!config?.account) {
        node.status({ fill: 'red', shape: 'ring', text: shared(RED, 'errors.missingConfig') });
        node.error(shared(RED, 'errors.missingConfig'));
        return undefined;
    }
    const account = config.account;
    // The node shows its own (red) status after a failure; only then must the account's come back.
    let showingError = false;
    const user: AccountUser = {
        ...handlers,
        node,
        // A message delivered after a refused one is a success: the red status of the refusal goes.
        onMessage: (message) => {
            if (showingError) {
                showingError = false;
                node.status(account.currentStatus());
            }
            handlers.onMessage(message);
        },
        onRejected:
            handlers.onRejected ??
            ((error: ImsError, topic: ParsedTopic) => {
                showingError = true;
                reportRejected(node, error, topic);
            }),
    };
    account.register(user);
    node.on('close', (removed: boolean, done: () => void) => {
        account
            .deregister(user, removed)
            .catch((error: Error) => node.warn(error.message))
            .finally(done);
    });
    return {
        account,
        fail(error, done) {
            const err = error instanceof Error ? error : new Error(String(error));
            showingError = true;
            node.status(errorStatus(err));
            done(err);
        },
        restoreStatus() {
            // Not on every message: a status update is an event to every editor, on the hot path.
            if (!showingError) return;
            showingError = false;
            node.status(account.currentStatus());
        },
        note(text) {
            showingError = true; // not an error, but a status of the node's own that the next action replaces
            node.status({ fill: 'blue', shape: 'dot', text });
        },
    };
}

/**
 * A bot's automatic answer (auto-accept, auto-join): runs `answer`, then forwards the received message
 * with `data[flag] = true`; when the answer fails, the message goes to a Catch node with the error.
 */
export function forwardAfter(node: Node, msg: ImsNodeMessage & { ims: ImsMeta }, answer: Promise<unknown>, flag: string): void {
    answer.then(
        () => {
            msg.ims.data = { ...msg.ims.data, [flag]: true };
            node.send(msg);
        },
        (error: Error) => node.error(error.message, msg),
    );
}

export function errorStatus(error: Error): NodeStatus {
    const text = error.message.length > 60 ? `${error.message.slice(0, 57)}...` : error.message;
    return { fill: 'red', shape: 'ring', text };
}

/** A received message that was refused (malformed, spoofed, too large): a catchable error naming it. */
export function reportRejected(node: Node, error: ImsError, topic: ParsedTopic): void {
    node.status(errorStatus(error));
    const msg: NodeMessage & { ims: object } = {
        topic: topic.from ?? topic.group ?? topic.region ?? topic.clientId ?? '',
        payload: error.message,
        ims: { event: 'rejected', code: error.code, topic: topic.topic, kind: topic.kind },
    };
    node.error(error.message, msg);
}
