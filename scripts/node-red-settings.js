'use strict';
// Node-RED settings for `npm start`: the editor on loopback, a user directory inside the project.

const path = require('path');

module.exports = {
    uiHost: process.env.IMS_HTTP_HOST || '127.0.0.1',
    uiPort: Number(process.env.IMS_HTTP_PORT) || 1880,
    userDir: process.env.IMS_USER_DIR || path.join(__dirname, '..', '.node-red'),
    // Where flows' HTTP endpoints (and the web chat client, at <root>/ims/chat) are served.
    httpNodeRoot: process.env.IMS_HTTP_NODE_ROOT || '/',
    flowFile: 'flows.json',
    // A fixed key for the demo's credentials file; set IMS_CREDENTIAL_SECRET for anything real.
    credentialSecret: process.env.IMS_CREDENTIAL_SECRET || 'ims-demo-only',
    // Friends, follows and groups of each account live in context: the default store keeps them on disk
    // (<userDir>/context/), so they last across restarts; `memory` is there for what need not.
    contextStorage: {
        default: { module: 'localfilesystem' },
        memory: { module: 'memory' },
    },
    logging: { console: { level: process.env.IMS_LOG_LEVEL || 'info', metrics: false, audit: false } },
    editorTheme: { projects: { enabled: false }, tours: false },
    // The palette manager is on (Menu > Manage palette), as in a fresh Node-RED.
    externalModules: { autoInstall: false, palette: { allowInstall: true } },
    diagnostics: { enabled: false },
    telemetry: { enabled: false },
};
