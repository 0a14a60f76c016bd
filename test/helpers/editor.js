'use strict';
// The real editor in headless Chromium (Debian's, driven by playwright-core), against Node-RED started
// the way `npm start` starts it. Without Chromium, the browser tests are skipped and say why.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { freePort } = require('./brokers');

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) => fs.existsSync(f));
const CHROMIUM_FLAGS = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
];
const ARTIFACTS = path.join(__dirname, '..', 'artifacts');

/**
 * Node-RED via scripts/start.js on free ports, with an empty editor unless `demo`; `env` adds settings.
 * With `userDir` and `ports` (a restart), it runs on that directory and those ports; with `keep` or
 * `userDir`, stop() leaves the directory in place.
 */
async function startNodeRed({ demo = false, env = {}, userDir: given, ports, keep = false } = {}) {
    const [httpPort, mqttPort, wsPort] = ports || [await freePort(), await freePort(), await freePort()];
    const userDir = given || fs.mkdtempSync(path.join(os.tmpdir(), 'ims-editor-'));
    const keptDir = keep || Boolean(given);
    let output = '';
    const child = spawn(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'start.js')], {
        env: {
            ...process.env,
            IMS_HTTP_PORT: String(httpPort),
            IMS_MQTT_PORT: String(mqttPort),
            IMS_WS_PORT: String(wsPort),
            IMS_USER_DIR: userDir,
            IMS_NO_DEMO: demo ? '' : '1',
            IMS_LOG_LEVEL: 'warn',
            ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d) => {
        output += d;
    });
    child.stderr.on('data', (d) => {
        output += d;
    });
    const url = `http://127.0.0.1:${httpPort}/`;
    const deadline = Date.now() + 40000;
    for (;;) {
        try {
            if ((await fetch(url)).ok) break;
        } catch {
            /* not up yet */
        }
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`Node-RED did not start: ${output}`);
        await new Promise((r) => setTimeout(r, 250));
    }
    return {
        url,
        httpPort,
        mqttPort,
        wsPort,
        userDir,
        output: () => output,
        async stop() {
            if (child.exitCode === null) {
                const exited = new Promise((resolve) => child.once('exit', resolve));
                child.kill('SIGINT');
                await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
                if (child.exitCode === null) child.kill('SIGKILL');
            }
            if (!keptDir) fs.rmSync(userDir, { recursive: true, force: true });
        },
    };
}

/** Headless Chromium with a fresh profile; `page` opened on the editor with the palette loaded. */
async function openEditor(url, { locale = 'en-US' } = {}) {
    const { chromium } = require('playwright-core');
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ims-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_FLAGS,
        viewport: { width: 1500, height: 950 },
        locale,
    });
    const page = context.pages()[0] || (await context.newPage());
    const errors = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(url);
    try {
        await page.waitForSelector('.red-ui-palette-node[data-palette-type="ims-chat"]', { state: 'attached', timeout: 30000 });
        await page.waitForFunction(() => window.ImsRules && window.ImsEditor, null, { timeout: 10000 });
    } catch (error) {
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: path.join(ARTIFACTS, 'editor-did-not-load.png') });
        throw new Error(`the editor did not load the IMS nodes (${error.message}); page errors: ${errors.join('; ')}`, { cause: error });
    }
    return {
        page,
        errors,
        async screenshot(name) {
            fs.mkdirSync(ARTIFACTS, { recursive: true });
            await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
        },
        async close() {
            await context.close();
            fs.rmSync(profile, { recursive: true, force: true });
        },
    };
}

module.exports = { CHROMIUM, CHROMIUM_FLAGS, startNodeRed, openEditor, ARTIFACTS };
