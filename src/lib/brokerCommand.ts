// `ims-broker`: the embedded broker without Node-RED, for servers, containers and clusters. The same
// EmbeddedBroker as the ims-broker node, configured from flags instead of a dialog. Refusals and
// lifecycle events are JSON lines on stdout; SIGINT and SIGTERM close it cleanly.

import * as fs from 'fs';
import { parseArgs } from 'util';
import { BrokerLimits, BrokerOptions, DEFAULT_HOST, DEFAULT_LIMITS, EmbeddedBroker, parseAccounts } from './broker';

/** --max-packet-bytes for maxPacketBytes: each limit is a flag. */
const limitFlag = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const LIMIT_FLAGS = Object.fromEntries((Object.keys(DEFAULT_LIMITS) as (keyof BrokerLimits)[]).map((name) => [limitFlag(name), name]));

const OPTIONS = {
    port: { type: 'string', default: '1883' },
    host: { type: 'string', default: DEFAULT_HOST },
    'ws-port': { type: 'string' },
    'ws-path': { type: 'string', default: '/mqtt' },
    accounts: { type: 'string' },
    store: { type: 'string' },
    redis: { type: 'string' },
    'mq-semantics': { type: 'boolean', default: false },
    'parent-topic': { type: 'string' },
    'group-prefix': { type: 'string' },
    'group-ids': { type: 'string' },
    user: { type: 'string' },
    password: { type: 'string' },
    'heartbeat-ms': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
    ...Object.fromEntries(Object.keys(LIMIT_FLAGS).map((flag) => [flag, { type: 'string' }])),
} as const;

export const USAGE = `Usage: ims-broker [options]

The IMS embedded MQTT broker (aedes) without Node-RED. With --accounts it enforces the IM rules
(docs/SECURITY.md); with --redis several instances form a cluster (docs/SCALING.md).

  --port N               MQTT over TCP (default 1883; 0 picks a free port)
  --host ADDR            bind address (default ${DEFAULT_HOST}; 0.0.0.0 opens it to the network)
  --ws-port N            MQTT over WebSocket on this port (off by default)
  --ws-path PATH         WebSocket path (default /mqtt)
  --accounts FILE        IM accounts, the node's list: [{"user","password","system","attributes"}]
  --store DIR            keep sessions, queued and retained messages and the policy's state in LevelDB
  --redis URL            cluster mode: share everything through Redis (redis://127.0.0.1:6379)
  --mq-semantics         cloud MQ semantics (strict Client IDs, p2p without subscribing)
  --parent-topic P       parent topic (default IMS)
  --group-prefix G       group ID prefix (default Group)
  --group-ids A,B        GroupIDs allowed under MQ semantics (default GID_IMS)
  --user U --password P  without --accounts: one login for every client
  --heartbeat-ms N       aedes heartbeat; wills of a crashed instance go out after 4 of them (default 60000)
${Object.entries(LIMIT_FLAGS)
    .map(([flag, name]) => `  --${flag} N`.padEnd(32) + ` limit (docs/SECURITY.md), default ${DEFAULT_LIMITS[name]}`)
    .join('\n')}
  -h, --help             this text

Refusals and events are printed as JSON lines. SIGINT or SIGTERM closes the broker and exits.
`;

/** Broker options from command-line arguments; throws with a message for bad ones. */
export function optionsFromArgs(args: string[]): BrokerOptions | 'help' {
    const { values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
    if (values.help) return 'help';
    const number = (flag: string, value: string | undefined): number | undefined => {
        if (value === undefined) return undefined;
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0) throw new Error(`--${flag} expects a whole number, not "${value}"`);
        return n;
    };
    const limits: Partial<BrokerLimits> = {};
    for (const [flag, name] of Object.entries(LIMIT_FLAGS)) {
        const value = number(flag, (values as unknown as Record<string, string | undefined>)[flag]);
        if (value !== undefined) limits[name] = value;
    }
    const accounts = values.accounts ? parseAccounts(fs.readFileSync(values.accounts, 'utf8')) : undefined;
    return {
        port: number('port', values.port) ?? 1883,
        host: values.host,
        wsPort: number('ws-port', values['ws-port']),
        wsPath: values['ws-path'],
        username: values.user,
        password: values.password,
        storeDir: values.store,
        redisUrl: values.redis,
        heartbeatIntervalMs: number('heartbeat-ms', values['heartbeat-ms']),
        limits,
        security: accounts
            ? {
                  accounts,
                  parentTopic: values['parent-topic'],
                  groupPrefix: values['group-prefix'],
                  mqSemantics: values['mq-semantics'],
                  groupIds: values['group-ids']?.split(/[\s,]+/).filter(Boolean),
              }
            : undefined,
    };
}

const line = (event: object): void => {
    process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), ...event })}\n`);
};

/** Runs the command; resolves with the exit code once the broker has closed (or could not start). */
export async function main(args: string[]): Promise<number> {
    let options: BrokerOptions | 'help';
    try {
        options = optionsFromArgs(args);
    } catch (error) {
        process.stderr.write(`ims-broker: ${(error as Error).message}\n\n${USAGE}`);
        return 2;
    }
    if (options === 'help') {
        process.stdout.write(USAGE);
        return 0;
    }
    let broker: EmbeddedBroker;
    try {
        broker = await EmbeddedBroker.start(options);
    } catch (error) {
        line({ event: 'error', error: (error as Error).message });
        return 1;
    }
    broker.on('refused', (refusal) => line({ event: 'refused', ...refusal }));
    broker.on('storeError', (error) => line({ event: 'storeError', error: error.message }));
    broker.on('clientError', (clientId, error) => line({ event: 'clientError', clientId, error: error.message }));
    line({
        event: 'listening',
        host: options.host,
        port: broker.port,
        wsPort: broker.wsPort,
        secured: broker.capabilities.secured,
        cluster: options.redisUrl !== undefined,
    });
    return new Promise((resolve) => {
        const stop = (signal: string): void => {
            line({ event: 'closing', signal });
            broker.close().then(
                () => {
                    line({ event: 'closed' });
                    resolve(0);
                },
                (error: Error) => {
                    line({ event: 'error', error: error.message });
                    resolve(1);
                },
            );
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
    });
}
