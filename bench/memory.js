'use strict';
// Memory, in a child process of its own: resident memory per IM account (an ims-config with an
// ims-chat node, connected) with N accounts in one Node-RED. Prints one JSON line.
//   node --expose-gc bench/memory.js <broker url> <accounts>

const { startNodeRed, sleep } = require('./common');

async function settle() {
    for (let i = 0; i < 3; i++) {
        global.gc?.();
        await sleep(100);
    }
    return process.memoryUsage().rss;
}

async function main() {
    const [url, n] = [process.argv[2], Number(process.argv[3])];
    const red = await startNodeRed();
    await red.deploy([{ id: 'mt', type: 'tab', label: 'memory' }]);
    const before = await settle();
    const flows = [{ id: 'mt', type: 'tab', label: 'memory' }];
    for (let i = 0; i < n; i++) {
        flows.push({ id: `a${i}`, type: 'ims-config', url, userId: `M${i}`, deviceId: `M${i}_mem`, cleanSession: true, presence: false });
        flows.push({ id: `c${i}`, type: 'ims-chat', z: 'mt', account: `a${i}`, via: 'inbox', x: 100, y: 100, wires: [[]] });
    }
    await red.deploy(flows);
    const deadline = Date.now() + 60000;
    const connected = () => {
        let count = 0;
        for (let i = 0; i < n; i++) if (red.RED.nodes.getNode(`a${i}`)?.account?.session?.connection.connected) count++;
        return count;
    };
    while (connected() < n && Date.now() < deadline) await sleep(50);
    const after = await settle();
    console.log(
        JSON.stringify({
            accounts: n,
            connected: connected(),
            rssBeforeMB: before / 2 ** 20,
            rssAfterMB: after / 2 ** 20,
            perAccountKB: (after - before) / n / 1024,
        }),
    );
    await red.stop();
    process.exit(0);
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
