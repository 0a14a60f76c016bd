// Lint for the TypeScript sources, the editor script and the nodes' editor HTML, the tests, the benchmark and the scripts.
// Formatting is prettier's job (eslint-config-prettier turns off the rules that would disagree).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import html from 'eslint-plugin-html';

export default tseslint.config(
    { ignores: ['node_modules/', 'nodes/**/*.js', 'resources/', '.node-red/', 'test/artifacts/', 'coverage/', 'bench/tmp/'] },
    js.configs.recommended,
    {
        files: ['src/**/*.ts'],
        extends: [...tseslint.configs.recommended],
        rules: {
            // Node-RED's constructor pattern: `const node = this` before the closures that use it.
            '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['node'] }],
            // Typed EventEmitter events: an interface merged with its class declares the on() overloads.
            '@typescript-eslint/no-unsafe-declaration-merging': 'off',
            '@typescript-eslint/no-unused-vars': [
                'error',
                { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
            ],
        },
    },
    {
        files: ['**/*.js'],
        languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
        rules: { 'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }] },
    },
    // Browser tests pass functions to page.evaluate(): they run in the editor's page.
    {
        files: ['test/**/*.js'],
        languageOptions: {
            globals: { ...globals.mocha, window: 'readonly', document: 'readonly', Image: 'readonly', RED: 'readonly', $: 'readonly' },
        },
    },
    {
        files: ['editor/**/*.js'],
        languageOptions: { sourceType: 'script', globals: { ...globals.browser, RED: 'readonly', $: 'readonly', jQuery: 'readonly' } },
    },
    // The web chat client runs in the browser.
    { files: ['src/web/**/*.ts'], languageOptions: { globals: { ...globals.browser } } },
    // The editor's inline scripts in the nodes' .html files (eslint-plugin-html lints what is inside <script>).
    {
        files: ['nodes/*.html'],
        plugins: { html },
        languageOptions: { sourceType: 'script', globals: { ...globals.browser, RED: 'readonly', $: 'readonly', ImsEditor: 'readonly' } },
        rules: { 'no-unused-vars': ['error', { args: 'none' }] },
    },
    { files: ['eslint.config.mjs'], languageOptions: { sourceType: 'module' } },
    prettier,
);
