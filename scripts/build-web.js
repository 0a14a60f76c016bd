'use strict';
// The web chat client: src/web/main.ts and everything it imports (the IM core of src/lib, MQTT.js's
// browser build, Node's buffer and events packages) bundled by esbuild into nodes/web/, with the page
// and its style sheet, so Node-RED serves it at /ims/chat and nothing is fetched from anywhere else.
const fs = require('fs');
const path = require('path');
const esbuild = require('esbuild');

const root = path.join(__dirname, '..');
const src = path.join(root, 'src', 'web');
const out = path.join(root, 'nodes', 'web');

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
esbuild.buildSync({
    entryPoints: [path.join(src, 'main.ts')],
    outfile: path.join(out, 'app.js'),
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
    minify: true,
    legalComments: 'linked',
    logLevel: 'warning',
    // src/lib is written for Node; these stand in for the Node modules it imports.
    alias: {
        crypto: path.join(src, 'shims', 'crypto.ts'),
        stream: 'readable-stream',
        events: 'events',
        buffer: 'buffer',
    },
    inject: [path.join(src, 'shims', 'globals.ts')],
    define: { 'process.env.DEBUG': 'undefined', global: 'globalThis' },
});
for (const file of ['index.html', 'app.css']) fs.copyFileSync(path.join(src, file), path.join(out, file));
