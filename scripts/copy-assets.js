'use strict';
// Node-RED looks for icons in an `icons/` folder beside the node .js files, so the build copies the
// project's icons/ into nodes/icons/ next to the compiled nodes.
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const from = path.join(root, 'icons');
const to = path.join(root, 'nodes', 'icons');
fs.rmSync(to, { recursive: true, force: true });
fs.cpSync(from, to, { recursive: true });
