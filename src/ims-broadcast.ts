// ims-broadcast: greetings to many friends (scenario 4: one inbox publish each, paced, with progress and
// a report) and regional system pushes (scenario 5); emits the system pushes this account receives.

import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { ImsError } from './lib/ids';
import { DEFAULT_GREETINGS_PER_SECOND, greetingReport } from './lib/features/broadcast';
import { evaluate, handleActions, listOf, requireContent } from './red/actions';
import { bindToAccount } from './red/imsNode';
import { ImsNodeMessage, toNodeRedMessage } from './red/messages';
import { upToDate } from './red/migrate';

interface ImsBroadcastDef extends NodeDef {
    account: string;
    action: string;
    region: string;
    regionType?: string;
    recipients: string;
    recipientsType?: string;
    rate: string;
}

export = function register(RED: NodeAPI): void {
    function ImsBroadcast(this: Node, saved: ImsBroadcastDef): void {
        RED.nodes.createNode(this, saved);
        const def = upToDate(saved);
        const node = this;
        const binding = bindToAccount(RED, node, def.account, {
            types: ['system'],
            onMessage: (message) => node.send(toNodeRedMessage(message)),
        });
        const rate = Number(def.rate) > 0 ? Number(def.rate) : DEFAULT_GREETINGS_PER_SECOND;
        const region = async (msg: ImsNodeMessage): Promise<string> => {
            const configured = await evaluate(RED, node, { value: def.region, type: def.regionType }, msg);
            const value = configured ? String(configured) : typeof msg.topic === 'string' ? msg.topic : '';
            if (!value) throw new ImsError(RED._('ims-broadcast.errors.noRegion'), 'IMS_NO_RECIPIENT');
            return value;
        };
        handleActions(
            RED,
            node,
            binding,
            def.action,
            {
                greet: async ({ msg, session }) => {
                    const content = requireContent(RED, msg.payload);
                    const configured = await evaluate(RED, node, { value: def.recipients, type: def.recipientsType }, msg);
                    const recipients = listOf(configured) ?? (Array.isArray(msg.topic) ? listOf(msg.topic) : undefined);
                    const result = await session.broadcast.greet(content.text, content.data, recipients, rate, (done, total) => {
                        node.status({ fill: 'blue', shape: 'dot', text: RED._('ims-broadcast.status.progress', { done, total }) });
                    });
                    return {
                        topic: session.userId,
                        payload: greetingReport(result.ok, result.failed),
                        ims: { type: 'greeting.done', from: session.userId },
                    } as NodeMessage;
                },
                push: async ({ msg, session }) => {
                    const content = requireContent(RED, msg.payload);
                    await session.broadcast.push(await region(msg), content.text, content.data);
                },
                region: async ({ msg, session }) => session.broadcast.setRegion(await region(msg)),
            },
            'greet',
        );
    }
    RED.nodes.registerType('ims-broadcast', ImsBroadcast);
};
