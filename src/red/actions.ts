// The input side of every IM node: pick the action (the node's configured action wins over msg.action,
// as in Node-RED's core nodes), run it, send what it returns, and end with done() or a catchable error.

import type { Node, NodeAPI, NodeMessage } from 'node-red';
import { ImsError } from '../lib/ids';
import { ImsSession } from '../lib/session';
import { Binding } from './imsNode';
import { shared } from './i18n';
import { contentOf, ImsNodeMessage } from './messages';

export interface ActionContext {
    msg: ImsNodeMessage;
    session: ImsSession;
    /** Says, on the node's status, that the action changed nothing (an idempotent no-op). */
    note(text: string): void;
}

/** A value now, or later. The hot paths (a chat relayed by a bot) stay synchronous up to the publish. */
export type Awaitable<T> = T | Promise<T>;

function isPromise<T>(value: Awaitable<T>): value is Promise<T> {
    return value instanceof Promise;
}

/** `then` without a promise hop when `value` is already there. */
export function settle<T, R>(value: Awaitable<T>, then: (value: T) => Awaitable<R>): Awaitable<R> {
    return isPromise(value) ? value.then(then) : then(value);
}

export type ActionHandler = (ctx: ActionContext) => Awaitable<NodeMessage | void>;

/** `configured` is the node's setting ('' or undefined: take msg.action, then `fallback`). */
export function handleActions(
    RED: NodeAPI,
    node: Node,
    binding: Binding | undefined,
    configured: string | undefined,
    actions: Record<string, ActionHandler>,
    fallback: string,
): void {
    node.on('input', (msg: ImsNodeMessage, send, done) => {
        if (!binding) {
            done(new Error(shared(RED, 'errors.missingConfig')));
            return;
        }
        let noted: string | undefined;
        const finish = (out: NodeMessage | void): void => {
            binding.restoreStatus();
            if (noted !== undefined) binding.note(noted);
            if (out) send(out);
            done();
        };
        const fail = (error: Error): void => binding.fail(error, done);
        let outcome: Awaitable<NodeMessage | void>;
        try {
            const name = configured || (typeof msg.action === 'string' && msg.action) || fallback;
            const handler = Object.prototype.hasOwnProperty.call(actions, name) ? actions[name] : undefined;
            if (!handler) {
                throw new ImsError(
                    shared(RED, 'errors.unknownAction', { action: name, known: Object.keys(actions).join(', ') }),
                    'IMS_UNKNOWN_ACTION',
                );
            }
            const note = (text: string): void => {
                noted = text;
            };
            outcome = handler({ msg, session: binding.account.requireSession(), note });
        } catch (error) {
            fail(error as Error);
            return;
        }
        if (isPromise(outcome)) outcome.then(finish, fail);
        else finish(outcome);
    });
}

/** A node setting that may be typed: a plain string, or read from msg, flow, global or env at run time. */
export interface TypedSetting {
    value: string | undefined;
    type?: string;
}

/** The setting's value for this message (undefined when blank); a plain string is read at once. */
export function evaluate(RED: NodeAPI, node: Node, setting: TypedSetting, msg: ImsNodeMessage): Awaitable<unknown> {
    if (!setting.type || setting.type === 'str') return setting.value || undefined;
    return new Promise((resolve, reject) => {
        RED.util.evaluateNodeProperty(setting.value ?? '', setting.type as string, node, msg, (error: Error | null, value: unknown) => {
            if (error) reject(error);
            else resolve(value);
        });
    });
}

/** The peer an action is about: the node's setting (typed), else msg.topic. */
export function peer(RED: NodeAPI, node: Node, setting: TypedSetting, msg: ImsNodeMessage): Awaitable<string> {
    return settle(evaluate(RED, node, setting, msg), (configured) => {
        const value =
            configured !== undefined && configured !== null && configured !== ''
                ? String(configured)
                : typeof msg.topic === 'string'
                  ? msg.topic
                  : '';
        if (!value) throw new ImsError(shared(RED, 'errors.noPeer'), 'IMS_NO_RECIPIENT');
        return value;
    });
}

/** The text and data of msg.payload; an empty payload is an error (nothing to send). */
export function requireContent(RED: NodeAPI, payload: unknown): { text?: string; data?: Record<string, unknown> } {
    const content = contentOf(payload);
    if (content.text === undefined && content.data === undefined) throw new ImsError(shared(RED, 'errors.empty'), 'IMS_EMPTY');
    return content;
}

/** User IDs from an array or a comma/space separated string; undefined when there are none. */
export function listOf(value: unknown): string[] | undefined {
    const items = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(/[\s,]+/) : [];
    const ids = items.map((s) => s.trim()).filter(Boolean);
    return ids.length > 0 ? ids : undefined;
}

/** A list reply: msg.topic is the account, msg.payload the list. */
export function listMessage(session: ImsSession, type: string, payload: unknown): NodeMessage {
    return { topic: session.userId, payload, ims: { type, from: session.userId } } as NodeMessage;
}
