#!/usr/bin/env node
'use strict';
// The IMS broker without Node-RED: `ims-broker --help`. Built from src/lib/brokerCommand.ts.
require('../nodes/lib/brokerCommand')
    .main(process.argv.slice(2))
    .then((code) => process.exit(code));
