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
    // Friends, follows and groups of each account live in context; persist them across restarts.
    contextStorage: {
        default: { module: 'memory' },
        file: { module: 'localfilesystem' },
    },
    logging: { console: { level: process.env.IMS_LOG_LEVEL || 'info', metrics: false, audit: false } },
    editorTheme: { projects: { enabled: false }, tours: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    diagnostics: { enabled: false },
    telemetry: { enabled: false },
};
