// Sends one item after another at a steady rate, so a mass send respects the broker's limits instead of
// discovering them. Sends overlap (each waits for its own acknowledgement), and every outcome is kept.

export interface PacedResult<T> {
    ok: T[];
    failed: { item: T; error: Error }[];
}

export async function sendPaced<T>(
    items: readonly T[],
    perSecond: number,
    send: (item: T) => Promise<unknown>,
    onProgress?: (done: number, total: number) => void,
): Promise<PacedResult<T>> {
    const result: PacedResult<T> = { ok: [], failed: [] };
    const interval = perSecond > 0 && Number.isFinite(perSecond) ? 1000 / perSecond : 0;
    const started = Date.now();
    let done = 0;
    const pending = items.map(async (item, i) => {
        const wait = started + i * interval - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        try {
            await send(item);
            result.ok.push(item);
        } catch (error) {
            result.failed.push({ item, error: error as Error });
        }
        onProgress?.(++done, items.length);
    });
    await Promise.all(pending);
    return result;
}
