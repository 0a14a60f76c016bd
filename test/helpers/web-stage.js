'use strict';
// The stage of the web client's browser tests: a real Node-RED started as `npm start` starts it (the
// secured demo broker, MQTT over WebSocket) and one headless Chromium, with the people's browser
// contexts closed after the suite and a screenshot of each when a test fails.

const fs = require('fs');
const path = require('path');
const { CHROMIUM, CHROMIUM_FLAGS, startNodeRed, ARTIFACTS } = require('./editor');

/** Call inside a describe: registers its hooks; the returned stage is filled in `before`. */
function webStage(artifactPrefix) {
    const stage = { nodeRed: undefined, browser: undefined, people: [] };
    before(async function () {
        stage.nodeRed = await startNodeRed({ demo: true });
        const { chromium } = require('playwright-core');
        stage.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
        fs.mkdirSync(ARTIFACTS, { recursive: true });
    });
    after(async function () {
        for (const person of stage.people.splice(0)) await person.context.close().catch(() => undefined);
        if (stage.browser) await stage.browser.close();
        if (stage.nodeRed) await stage.nodeRed.stop();
    });
    afterEach(async function () {
        if (this.currentTest.state !== 'failed') return;
        console.log(`      Node-RED said:\n${stage.nodeRed.output().split('\n').slice(-30).join('\n')}`);
        for (const [i, person] of stage.people.entries()) {
            const file = path.join(ARTIFACTS, `${artifactPrefix}-failed-${person.user}-${i}.png`);
            await person.page.screenshot({ path: file }).catch(() => undefined);
        }
    });
    return stage;
}

module.exports = { webStage };
