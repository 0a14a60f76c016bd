// Which store the history service gets: the broker's LevelDB when it has a disk store, memory
// otherwise; and the bounds from the broker's limits.

import type { DiskStore } from './diskStore';
import { HistoryOptions, HistoryService } from './history';
import { LevelHistoryStore } from './historyLevel';
import { MemoryHistoryStore } from './historyStore';
import { BrokerLimits, orUnlimited } from './limits';

const DAY_MS = 24 * 60 * 60 * 1000;

export async function createHistory(
    options: Omit<HistoryOptions, 'store' | 'bounds' | 'requestsPerMinute'> & { store: DiskStore | undefined; limits: BrokerLimits },
): Promise<HistoryService> {
    const { store, limits, ...rest } = options;
    return new HistoryService({
        ...rest,
        store: store ? await LevelHistoryStore.open(store.historyDb) : new MemoryHistoryStore(),
        bounds: { perConversation: limits.historyPerConversation, maxAgeMs: orUnlimited(limits.historyMaxAgeDays) * DAY_MS },
        requestsPerMinute: orUnlimited(limits.historyRequestsPerMinute),
    });
}
