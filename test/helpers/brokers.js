'use strict';
// Real brokers for the integration tests, all on ephemeral 127.0.0.1 ports: aedes in-process (through
// the package's own EmbeddedBroker), Mosquitto with a temporary config, NATS with JetStream and its MQTT
// gateway, and RabbitMQ with its MQTT plugin (one node per test run, reset between suites, with its own
// directories, node name, Erlang port mapper and ports, so it never touches a system instance).
// Each can be stopped and started again on the same port, for the reconnect tests.
//
// The switch: IMS_TEST_BROKERS=aedes,mosquitto,nats,rabbitmq (any subset) picks the brokers the matrix
// suites run on; by default every broker installed here. A broker named there but not installed fails
// the run instead of being skipped. BROKER_LIMITS lists, in one place, what each broker cannot do.

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { EmbeddedBroker } = require('../../nodes/lib/broker');

const MOSQUITTO =
    ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find((file) => fs.existsSync(file)) ||
    whichSync('mosquitto');
const NATS = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((file) => fs.existsSync(file)) || whichSync('nats-server');
const RABBITMQ_SERVER = ['/usr/lib/rabbitmq/bin/rabbitmq-server'].find((file) => fs.existsSync(file));
const EPMD = firstFile('/usr/lib/erlang/erts-*/bin/epmd') || whichSync('epmd');
const ERL_CALL = firstFile('/usr/lib/erlang/lib/erl_interface-*/bin/erl_call');
const RABBITMQ = RABBITMQ_SERVER && EPMD && ERL_CALL ? RABBITMQ_SERVER : undefined;

/** The first file matching `pattern`, whose only wildcard is one `*` in a directory name. */
function firstFile(pattern) {
    const [head, tail] = pattern.split('*');
    const dir = path.dirname(head);
    if (!fs.existsSync(dir)) return undefined;
    const prefix = path.basename(head);
    for (const entry of fs
        .readdirSync(dir)
        .filter((e) => e.startsWith(prefix))
        .sort()
        .reverse()) {
        const file = path.join(dir, entry + tail);
        if (fs.existsSync(file)) return file;
    }
    return undefined;
}

/**
 * What each broker cannot do (measured here; docs/BROKERS.md has the table). A test that needs one of
 * these features skips on that broker with the reason printed, never silently.
 */
const BROKER_LIMITS = Object.freeze({
    aedes: { mqtt5: 'aedes 1.x speaks MQTT 3.1.1 only' },
    mosquitto: {
        capabilities: 'Mosquitto has no $IMS/capabilities announcement (plain MQTT)',
        refusal: 'Mosquitto 2.0 grants a subscription its ACL denies (and delivers nothing on it)',
    },
    nats: {
        mqtt5: 'NATS 2.9 speaks MQTT 3.1.1 only: it refuses MQTT 5 with CONNACK "unacceptable protocol version"',
        qos2: 'NATS grants QoS 1 to a QoS 2 subscription and closes the connection on a QoS 2 publish',
        subscriptionLimit: 63,
        capabilities: 'NATS has no $IMS/capabilities announcement (plain MQTT)',
    },
    rabbitmq: {
        mqtt5: 'RabbitMQ 3.10 closes an MQTT 5 connection before CONNACK',
        qos2: 'RabbitMQ grants and delivers QoS 1 for QoS 2',
        capabilities: 'RabbitMQ has no $IMS/capabilities announcement (plain MQTT)',
        refusal: 'RabbitMQ 3.10 answers a subscription its topic permissions deny by closing the connection, not with SUBACK 0x80',
    },
});

function whichSync(cmd) {
    const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : undefined;
}

function freePort() {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            server.close(() => resolve(port));
        });
    });
}

/** Resolves once something accepts TCP connections on the port; gives up after `ms`. */
async function waitForPort(port, ms = 5000) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
        const ok = await new Promise((resolve) => {
            const socket = net.connect(port, '127.0.0.1');
            socket.once('connect', () => {
                socket.destroy();
                resolve(true);
            });
            socket.once('error', () => resolve(false));
        });
        if (ok) return;
        await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`nothing listening on 127.0.0.1:${port} after ${ms} ms`);
}

class AedesUnderTest {
    constructor(options = {}) {
        this.name = 'aedes';
        this.options = options;
    }
    async start(port = 0) {
        this.broker = await EmbeddedBroker.start({ ...this.options, port, host: '127.0.0.1' });
        this.port = this.broker.port;
        this.url = `mqtt://127.0.0.1:${this.port}`;
        return this;
    }
    async stop() {
        if (this.broker) await this.broker.close();
        this.broker = undefined;
    }
    async restart() {
        await this.stop();
        await this.start(this.port);
    }
}

class MosquittoUnderTest {
    constructor(options = {}) {
        this.name = 'mosquitto';
        this.options = options;
    }
    async start(port) {
        this.port = port || this.port || (await freePort());
        this.dir = this.dir || fs.mkdtempSync(path.join(os.tmpdir(), 'ims-mosquitto-'));
        const conf = path.join(this.dir, 'mosquitto.conf');
        const lines = [
            `listener ${this.port} 127.0.0.1`,
            `allow_anonymous ${this.options.passwordFile ? 'false' : 'true'}`,
            ...(this.options.passwordFile ? [`password_file ${this.options.passwordFile}`] : []),
            ...(this.options.aclFile ? [`acl_file ${this.options.aclFile}`] : []),
            'persistence false',
            'user root',
            'log_dest stderr',
            'log_type error',
            ...(this.options.extraConfig || []),
        ];
        fs.writeFileSync(conf, lines.join('\n') + '\n');
        this.process = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
        this.stderr = '';
        this.process.stderr.on('data', (d) => {
            this.stderr += d;
        });
        const exited = new Promise((resolve) => this.process.once('exit', resolve));
        await Promise.race([
            waitForPort(this.port),
            exited.then((code) => {
                throw new Error(`mosquitto exited with ${code}: ${this.stderr}`);
            }),
        ]);
        this.url = `mqtt://127.0.0.1:${this.port}`;
        return this;
    }
    async stop() {
        const child = this.process;
        this.process = undefined;
        if (child && child.exitCode === null) {
            await new Promise((resolve) => {
                child.once('exit', resolve);
                child.kill('SIGTERM');
                setTimeout(() => child.kill('SIGKILL'), 3000).unref();
            });
        }
        // Only its config lives there (persistence is off); start() writes a new one.
        if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
        this.dir = undefined;
    }
    async restart() {
        await this.stop();
        await this.start(this.port);
    }
}

class NatsUnderTest {
    constructor(options = {}) {
        this.name = 'nats';
        this.options = options;
    }
    /** A fresh server (new JetStream directory: a restart forgets every session, as aedes does). */
    async start(port) {
        this.port = port || this.port || (await freePort());
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-nats-'));
        const conf = path.join(this.dir, 'nats.conf');
        const lines = [
            `server_name: ims_test_${process.pid}_${this.port}`,
            `listen: "127.0.0.1:${await freePort()}"`,
            `jetstream { store_dir: "${path.join(this.dir, 'js')}" }`,
            `mqtt { listen: "127.0.0.1:${this.port}" }`,
            ...(this.options.extraConfig || []),
        ];
        fs.writeFileSync(conf, lines.join('\n') + '\n');
        this.process = spawn(NATS, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
        this.stderr = '';
        this.process.stderr.on('data', (d) => {
            this.stderr = (this.stderr + d).slice(-4000);
        });
        const exited = new Promise((resolve) => this.process.once('exit', resolve));
        await Promise.race([
            waitForPort(this.port),
            exited.then((code) => {
                throw new Error(`nats-server exited with ${code}: ${this.stderr}`);
            }),
        ]);
        this.url = `mqtt://127.0.0.1:${this.port}`;
        return this;
    }
    async stop() {
        await stopChild(this.process);
        this.process = undefined;
        if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
        this.dir = undefined;
    }
    async restart() {
        await this.stop();
        await this.start(this.port);
    }
}

/** Ends a child process: SIGTERM, then SIGKILL after 3 s. */
async function stopChild(child) {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    });
}

/**
 * One RabbitMQ node for the whole test run (it takes 6-11 s to boot), started on first use with its own
 * temp directory, node name, port mapper (epmd) and ports, and killed when the run ends. `start()` of a
 * suite resets it: the MQTT app restarts (which drops connections and, with the in-memory store,
 * retained messages) and every queue (persistent sessions) is deleted. `stop()` stops the MQTT app, so
 * the reconnect tests see the broker go away and come back on the same port.
 */
const rabbitNode = {
    booted: undefined,
    boot() {
        this.booted ??= this.launch();
        return this.booted;
    },
    async launch() {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-rabbitmq-'));
        const [amqpPort, mqttPort, distPort, epmdPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
        const name = `ims_test_${process.pid}@localhost`;
        const cookie = `imstest${process.pid}${Date.now()}`;
        fs.writeFileSync(path.join(dir, '.erlang.cookie'), cookie, { mode: 0o400 });
        fs.writeFileSync(
            path.join(dir, 'rabbitmq.conf'),
            [
                `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
                `mqtt.listeners.tcp.default = 127.0.0.1:${mqttPort}`,
                'mqtt.allow_anonymous = true',
                'mqtt.retained_message_store = rabbit_mqtt_retained_msg_store_ets',
                'loopback_users = none',
                'log.console = false',
                'log.file.level = error',
            ].join('\n') + '\n',
        );
        fs.writeFileSync(path.join(dir, 'enabled_plugins'), '[rabbitmq_mqtt].\n');
        const env = {
            ...process.env,
            HOME: dir,
            RABBITMQ_NODENAME: name,
            RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq.conf'),
            RABBITMQ_ADVANCED_CONFIG_FILE: path.join(dir, 'advanced.config'),
            RABBITMQ_CONF_ENV_FILE: path.join(dir, 'rabbitmq-env.conf'),
            RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
            RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
            RABBITMQ_LOG_BASE: path.join(dir, 'log'),
            RABBITMQ_PID_FILE: path.join(dir, 'pid'),
            RABBITMQ_PLUGINS_EXPAND_DIR: path.join(dir, 'plugins'),
            RABBITMQ_FEATURE_FLAGS_FILE: path.join(dir, 'feature_flags'),
            RABBITMQ_DIST_PORT: String(distPort),
            ERL_EPMD_PORT: String(epmdPort),
        };
        // Our own port mapper in the foreground: Erlang would otherwise start a daemon that outlives the run.
        // Each in its own process group (the server script starts beam.smp as a child), killed whole at exit.
        const epmd = spawn(EPMD, ['-port', String(epmdPort)], { stdio: 'ignore', env, detached: true });
        await waitForPort(epmdPort);
        const server = spawn(RABBITMQ_SERVER, [], { stdio: ['ignore', 'ignore', 'pipe'], env, cwd: dir, detached: true });
        let stderr = '';
        server.stderr.on('data', (d) => {
            stderr = (stderr + d).slice(-4000);
        });
        process.once('exit', () => {
            // Synchronous kills: mocha --exit ends the process without waiting for after() hooks' children.
            for (const child of [server, epmd]) {
                try {
                    process.kill(-child.pid, 'SIGKILL');
                } catch {
                    // already gone
                }
            }
            fs.rmSync(dir, { recursive: true, force: true });
        });
        const exited = new Promise((resolve) => server.once('exit', resolve));
        await Promise.race([
            waitForPort(mqttPort, 60000),
            exited.then((code) => {
                throw new Error(`rabbitmq-server exited with ${code}: ${stderr}`);
            }),
        ]);
        this.node = { name, cookie, env, mqttPort, server };
        this.appRunning = true;
        return this.node;
    },
    /** Evaluates an Erlang expression on the node (erl_call: a few ms, where rabbitmqctl takes seconds). */
    eval(expression) {
        const { name, cookie, env } = this.node;
        const r = spawnSync(ERL_CALL, ['-sname', name, '-c', cookie, '-e', '-timeout', '60'], {
            input: `${expression}\n`,
            encoding: 'utf8',
            env,
        });
        if (r.status !== 0 || /error|badrpc/.test(r.stdout)) throw new Error(`erl_call ${expression}: ${r.stdout} ${r.stderr}`);
        return r.stdout;
    },
    async reset() {
        const fresh = !this.booted;
        await this.boot();
        if (fresh) return this.node;
        if (!this.appRunning) this.eval('rabbit:start(), rabbit:await_startup().');
        this.eval('[rabbit_amqqueue:delete(Q, false, false, <<"ims-test">>) || Q <- rabbit_amqqueue:list()], ok.');
        this.eval('rabbit:stop(), rabbit:start(), rabbit:await_startup().');
        this.appRunning = true;
        await waitForPort(this.node.mqttPort, 30000);
        return this.node;
    },
    async stopApp() {
        if (!this.node || !this.appRunning) return;
        this.eval('rabbit:stop().');
        this.appRunning = false;
    },
    async startApp() {
        if (this.appRunning) return;
        this.eval('rabbit:start(), rabbit:await_startup().');
        this.appRunning = true;
        await waitForPort(this.node.mqttPort, 30000);
    },
};

class RabbitMQUnderTest {
    constructor() {
        this.name = 'rabbitmq';
    }
    /** Resets the shared node (the first call boots it); `port` is ignored: the node keeps its port. */
    async start() {
        const node = await rabbitNode.reset();
        this.port = node.mqttPort;
        this.url = `mqtt://127.0.0.1:${this.port}`;
        return this;
    }
    async stop() {
        await rabbitNode.stopApp();
    }
    async restart() {
        await rabbitNode.stopApp();
        await rabbitNode.startApp();
    }
}

const KINDS = {
    aedes: { installed: true, create: (o) => new AedesUnderTest(o) },
    mosquitto: { installed: Boolean(MOSQUITTO), create: (o) => new MosquittoUnderTest(o) },
    nats: { installed: Boolean(NATS), create: (o) => new NatsUnderTest(o) },
    rabbitmq: { installed: Boolean(RABBITMQ), create: (o) => new RabbitMQUnderTest(o) },
};

/** The brokers of the matrix: IMS_TEST_BROKERS, or every one installed here. */
function availableBrokers() {
    const asked = (process.env.IMS_TEST_BROKERS || '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    for (const name of asked) {
        if (!KINDS[name]) throw new Error(`IMS_TEST_BROKERS names "${name}"; known: ${Object.keys(KINDS).join(', ')}`);
        if (!KINDS[name].installed) throw new Error(`IMS_TEST_BROKERS names ${name}, which is not installed here`);
    }
    const names = asked.length > 0 ? asked : Object.keys(KINDS);
    const kinds = [];
    for (const name of names) {
        if (!KINDS[name].installed) {
            console.log(`    (${name} is not installed: the broker matrix runs without it)`);
            continue;
        }
        kinds.push({ name, limits: BROKER_LIMITS[name], create: KINDS[name].create, cannot: (feature) => BROKER_LIMITS[name][feature] });
    }
    return kinds;
}

/** Runs `suite(kind)` inside a describe block once per broker of the matrix. */
function forEachBroker(suite) {
    for (const kind of availableBrokers()) {
        describe(`on ${kind.name}`, function () {
            // RabbitMQ boots once per run, in the first suite that needs it: 6-11 s on a quiet machine,
            // past the 20 s hook timeout on a loaded one. The boot gets its own allowance.
            if (kind.name === 'rabbitmq') {
                before(async function () {
                    this.timeout(120000);
                    await rabbitNode.boot();
                });
            }
            suite(kind);
        });
    }
}

/**
 * Skips the running test, visibly (mocha lists it as pending and the reason is printed), when the
 * broker cannot do `feature`. Call it first in the test: `needs(this, kind, 'mqtt5')`.
 */
function needs(context, kind, feature) {
    const reason = kind.cannot(feature);
    if (!reason) return;
    console.log(`      - skipped on ${kind.name}: ${reason}`);
    context.skip();
}

module.exports = {
    availableBrokers,
    forEachBroker,
    needs,
    freePort,
    waitForPort,
    BROKER_LIMITS,
    MOSQUITTO,
    NATS,
    RABBITMQ,
    AedesUnderTest,
    MosquittoUnderTest,
    NatsUnderTest,
    RabbitMQUnderTest,
};
