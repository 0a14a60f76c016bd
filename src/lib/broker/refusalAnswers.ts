// Tells a sending device that the broker refused its message for what it carried (src/lib/brokerRefusal.ts):
// a `refusal` envelope on the device's own p2p topic, which only that device may read.

import type { Aedes } from 'aedes' with { 'resolution-mode': 'import' };
import { refusalEnvelope, RefusalNotice } from '../brokerRefusal';
import { encodeEnvelope } from '../envelope';
import type { TopicCodec } from '../topics';

export function answerRefusal(aedes: Aedes, codec: TopicCodec, clientId: string, notice: RefusalNotice): void {
    const payload = encodeEnvelope(refusalEnvelope({ ...notice, reason: notice.reason.slice(0, 512) }));
    aedes.publish({ cmd: 'publish', topic: codec.p2p(clientId), payload, qos: 1, retain: false, dup: false } as never, () => undefined);
}
