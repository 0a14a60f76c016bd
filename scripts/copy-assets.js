'use strict';
// After tsc: put what Node-RED serves beside the compiled nodes.
// - icons/ → nodes/icons/: Node-RED looks for icons in an `icons/` folder beside the node .js files.
// - resources/ (served by the editor at /resources/<module>/): the editor's helper script and the ID
//   rules, wrapped from the runtime's own compiled ids.js so the editor validates with the same code.
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const icons = path.join(root, 'nodes', 'icons');
fs.rmSync(icons, { recursive: true, force: true });
fs.cpSync(path.join(root, 'icons'), icons, { recursive: true });

const resources = path.join(root, 'resources');
fs.rmSync(resources, { recursive: true, force: true });
fs.mkdirSync(resources);
const ids = fs.readFileSync(path.join(root, 'nodes', 'lib', 'ids.js'), 'utf8');
if (/\brequire\(/.test(ids)) throw new Error('nodes/lib/ids.js must not require anything: the editor loads it as it is');
fs.writeFileSync(
    path.join(resources, 'ims-rules.js'),
    `// Built from src/lib/ids.ts by scripts/copy-assets.js: the runtime's ID rules, for the editor.\n` +
        `(function () {\nvar exports = {};\n${ids}\nwindow.ImsRules = exports;\n})();\n`,
);
fs.copyFileSync(path.join(root, 'editor', 'ims-editor.js'), path.join(resources, 'ims-editor.js'));
// The broker's default limits, shown as placeholders in the ims-broker dialog.
const limits = fs.readFileSync(path.join(root, 'nodes', 'lib', 'broker', 'limits.js'), 'utf8');
if (/\brequire\(/.test(limits)) throw new Error('nodes/lib/broker/limits.js must not require anything: the editor loads it as it is');
fs.writeFileSync(
    path.join(resources, 'ims-limits.js'),
    `// Built from src/lib/broker/limits.ts by scripts/copy-assets.js.\n(function () {\nvar exports = {};\n${limits}\nwindow.ImsLimits = exports;\n})();\n`,
);
