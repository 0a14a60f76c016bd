// Which store the history service gets: the cluster's Redis in cluster mode, the broker's LevelDB when
// it has a disk store, memory otherwise; and the bounds from the broker's limits.

import type { DiskStore } from './diskStore';
import { HistoryOptions, HistoryService } from './history';
import { LevelHistoryStore } from './historyLevel';
import { RedisHistoryStore } from './historyRedis';
import { HistoryStore, MemoryHistoryStore } from './historyStore';
import { BrokerLimits, orUnlimited } from './limits';

const DAY_MS = 24 * 60 * 60 * 1000;

export async function createHistory(
    options: Omit<HistoryOptions, 'store' | 'bounds' | 'requestsPerMinute'> & {
        store: DiskStore | undefined;
        redisUrl: string | undefined;
        limits: BrokerLimits;
    },
): Promise<HistoryService> {
    const { store, redisUrl, limits, ...rest } = options;
    let kept: HistoryStore;
    if (redisUrl) kept = await RedisHistoryStore.open(redisUrl, rest.onError);
    else kept = store ? await LevelHistoryStore.open(store.historyDb) : new MemoryHistoryStore();
    return new HistoryService({
        ...rest,
        store: kept,
        bounds: { perConversation: limits.historyPerConversation, maxAgeMs: orUnlimited(limits.historyMaxAgeDays) * DAY_MS },
        requestsPerMinute: orUnlimited(limits.historyRequestsPerMinute),
    });
}
