'use strict';
// After tsc: put what Node-RED serves beside the compiled nodes.
// - icons/ → nodes/icons/: Node-RED looks for icons in an `icons/` folder beside the node .js files.
// - resources/ (served by the editor at /resources/<module>/): the editor's helper script, the ID
//   rules and the configuration migrations, wrapped from the runtime's own compiled ids.js and
//   migrations.js so the editor validates and migrates with the same code.
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const icons = path.join(root, 'nodes', 'icons');
fs.rmSync(icons, { recursive: true, force: true });
fs.cpSync(path.join(root, 'icons'), icons, { recursive: true });

const resources = path.join(root, 'resources');
fs.rmSync(resources, { recursive: true, force: true });
fs.mkdirSync(resources);
/** A compiled src/lib module that requires nothing, wrapped so the editor gets its exports as window[global]. */
function serve(module, global) {
    const source = fs.readFileSync(path.join(root, 'nodes', 'lib', `${module}.js`), 'utf8');
    if (/\brequire\(/.test(source)) throw new Error(`nodes/lib/${module}.js must not require anything: the editor loads it as it is`);
    return (
        `// Built from src/lib/${module}.ts by scripts/copy-assets.js: the runtime's own code, for the editor.\n` +
        `(function () {\nvar exports = {};\n${source}\nwindow.${global} = exports;\n})();\n`
    );
}
// The ID rules and the node configuration migrations: one implementation for the runtime and the editor.
fs.writeFileSync(path.join(resources, 'ims-rules.js'), serve('ids', 'ImsRules'));
fs.writeFileSync(path.join(resources, 'ims-migrations.js'), serve('migrations', 'ImsMigrations'));
fs.copyFileSync(path.join(root, 'editor', 'ims-editor.js'), path.join(resources, 'ims-editor.js'));
// The broker's default limits, shown as placeholders in the ims-broker dialog.
const limits = fs.readFileSync(path.join(root, 'nodes', 'lib', 'broker', 'limits.js'), 'utf8');
if (/\brequire\(/.test(limits)) throw new Error('nodes/lib/broker/limits.js must not require anything: the editor loads it as it is');
fs.writeFileSync(
    path.join(resources, 'ims-limits.js'),
    `// Built from src/lib/broker/limits.ts by scripts/copy-assets.js.\n(function () {\nvar exports = {};\n${limits}\nwindow.ImsLimits = exports;\n})();\n`,
);
