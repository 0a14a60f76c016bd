'use strict';
// Removes what `npm run build` made: compiled .js under nodes/ and the copied icons.
const fs = require('fs');
const path = require('path');

const nodesDir = path.join(__dirname, '..', 'nodes');
function walk(dir) {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (file.endsWith('.js')) fs.rmSync(file);
    }
}
walk(nodesDir);
fs.rmSync(path.join(nodesDir, 'icons'), { recursive: true, force: true });
