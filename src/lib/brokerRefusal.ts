// The secured ims-broker's answer to a message it refused for what it carries (an attachment too large,
// disguised or malformed): MQTT 3.1.1 has no refusal for a publish, so the broker tells the sending
// device in a `refusal` envelope on its p2p topic, `P/p2p/<Client ID>`, from `System` (a name no user
// may have). The sender's session reports it as an error for the refused message's topic, as if its
// own check had refused it (docs/PROTOCOL.md, "Attachments").

import { createEnvelope, Envelope, ImsMessage } from './envelope';
import { ImsError } from './ids';
import { LEVELS, ParsedTopic, TopicCodec } from './topics';

export const REFUSAL_SENDER = LEVELS.system;

export interface RefusalNotice {
    /** The ImsError code: IMS_TOO_LARGE, IMS_DISGUISED, IMS_FILE_TYPE, IMS_MALFORMED. */
    code: string;
    reason: string;
    /** The topic the refused message was published on. */
    topic: string;
    /** The refused message's ID, when it had one. */
    target?: string;
}

/** A refusal the broker reported, naming the refused message. */
export class BrokerRefusal extends ImsError {
    constructor(
        message: string,
        code: string,
        readonly target: string | undefined,
    ) {
        super(message, code);
    }
}

export function refusalEnvelope(notice: RefusalNotice): Envelope {
    const data: Record<string, unknown> = { code: notice.code, topic: notice.topic };
    if (notice.target !== undefined) data.target = notice.target;
    return createEnvelope({ type: 'refusal', from: REFUSAL_SENDER, text: `The broker refused the message: ${notice.reason}`, data });
}

/** The error a received refusal stands for, and the refused message's topic; undefined when it is none. */
export function readRefusal(message: ImsMessage, codec: TopicCodec): { error: BrokerRefusal; topic: ParsedTopic } | undefined {
    if (message.type !== 'refusal' || message.kind !== 'p2p' || message.from !== REFUSAL_SENDER) return undefined;
    const { code, topic, target } = message.data ?? {};
    const parsed = typeof topic === 'string' ? codec.parse(topic) : null;
    if (typeof code !== 'string' || !/^IMS_[A-Z_]+$/.test(code) || !parsed) return undefined;
    const text = message.text ?? `The broker refused a message on ${parsed.topic}`;
    return { error: new BrokerRefusal(text, code, typeof target === 'string' ? target : undefined), topic: parsed };
}
