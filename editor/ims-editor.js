// The editor side shared by every IMS node: ID validators that use the runtime's own rules
// (window.ImsRules, built from src/lib/ids.ts), configuration migrations (window.ImsMigrations),
// typed inputs for peers, and labels. Loaded once by
// ims-config.html from /resources/<module>/.
(function () {
    'use strict';
    // Every IMS node's .html loads this script (so it is here before that node registers, whatever the
    // order Node-RED loads them in); the first load defines ImsEditor, the others find it.
    if (window.ImsEditor) return;

    /** The rules of an account: its profile and group prefix, read live from its dialog when it is open. */
    function rulesOf(account) {
        var open = $('#node-config-input-profile').length > 0 && $('#node-config-input-groupPrefix').length > 0;
        var profile = open ? $('#node-config-input-profile').val() : account && account.profile;
        var prefix = open ? $('#node-config-input-groupPrefix').val() : account && account.groupPrefix;
        return { profile: profile || 'standard', groupPrefix: prefix === undefined || prefix === null || prefix === '' ? 'Group' : prefix };
    }

    /** The account (ims-config) a node uses, as chosen in its dialog or saved. */
    function accountOf(node) {
        var chosen = $('#node-input-account').val();
        var id = chosen && chosen !== '_ADD_' ? chosen : node.account;
        return id ? RED.nodes.node(id) : null;
    }

    var NS = '@ims-mqtt/node-red-ims/ims-config:ims-config.rules.';

    /** The problem with an ID in the editor's language, or null: the runtime's rules, this catalogue's words. */
    function problemText(kind, value, rules) {
        var problem = window.ImsRules.idProblemOf(kind, value, rules);
        if (!problem) return null;
        var p = problem.params;
        return RED._(NS + problem.key, {
            name: RED._(NS + 'kind.' + kind),
            value: p.value,
            char: p.char || '',
            prefix: p.prefix || '',
            interpolation: { escapeValue: false },
        });
    }

    /** A `validate` for an ID of `kind`; blank is allowed unless `required`. Returns true or the problem. */
    function idValidator(kind, required) {
        // Two parameters: Node-RED takes a returned string for the reason only from a (value, opt) validator.
        // eslint-disable-next-line no-unused-vars
        return function (value, opt) {
            if ((value === undefined || value === null || value === '') && !required) return true;
            if (!window.ImsRules) return true; // the rules are still loading: the runtime checks again
            var account = this && this.type === 'ims-config' ? this : accountOf(this || {});
            var problem = problemText(kind, value, rulesOf(account));
            return problem === null ? true : problem;
        };
    }

    /** A `validate` for a typed field: only plain strings are IDs to check; msg/flow/global/env are read at run time. */
    function typedIdValidator(kind, typeField, list) {
        var check = idValidator(kind, false);
        return function (value, opt) {
            var type = $('#node-input-' + typeField).val() || (this && this[typeField]) || 'str';
            if (type !== 'str' || value === '' || value === undefined) return true;
            var items = list
                ? String(value)
                      .split(/[\s,]+/)
                      .filter(Boolean)
                : [value];
            for (var i = 0; i < items.length; i++) {
                var result = check.call(this, items[i], opt);
                if (result !== true) return result;
            }
            return true;
        };
    }

    var PEER_TYPES = ['str', 'msg', 'flow', 'global', 'env'];

    /** Turns the text input for `field` into a typed input (string, msg, flow, global, env). */
    function typedField(field) {
        $('#node-input-' + field).typedInput({ default: 'str', typeField: $('#node-input-' + field + 'Type'), types: PEER_TYPES });
    }

    /** "Alice: request Bob" — the account's user, the action and the target, or the node's name. */
    function label(node, fallback, target) {
        if (node.name) return node.name;
        var account = node.account ? RED.nodes.node(node.account) : null;
        var parts = [];
        if (account && account.userId) parts.push(account.userId + ':');
        parts.push(node.action || fallback);
        if (target && (!node[target + 'Type'] || node[target + 'Type'] === 'str') && node[target]) parts.push(node[target]);
        return parts.join(' ');
    }

    /**
     * Brings an IMS node added to the workspace (loaded, imported, pasted) up to its type's current
     * configuration version, with the runtime's own migrations (window.ImsMigrations, built from
     * src/lib/migrations.ts). The node is not marked changed: the runtime migrates the saved flow the
     * same way, and the next Deploy writes the new shape. A property Node-RED reserves (ims-group's
     * old `users`) never reaches the editor, so only the runtime can recover it.
     */
    function migrateNode(node) {
        var migrations = window.ImsMigrations;
        if (!migrations || !node || !node._def || typeof node.type !== 'string' || node.type.indexOf('ims-') !== 0) return;
        if (migrations.versionOf(node) >= migrations.currentVersion(node.type)) return;
        var config = { type: node.type };
        for (var key in node._def.defaults) {
            if (Object.prototype.hasOwnProperty.call(node._def.defaults, key)) config[key] = node[key];
        }
        var migrated = migrations.migrate(node.type, config);
        for (var prop in node._def.defaults) {
            if (Object.prototype.hasOwnProperty.call(node._def.defaults, prop) && prop in migrated) node[prop] = migrated[prop];
        }
    }
    RED.events.on('nodes:add', migrateNode);

    /**
     * Fills a context store <select> with the stores Node-RED is configured with (settings.js
     * contextStorage): blank for the default one, then each by name. A saved store that is no longer
     * configured stays selectable, marked, so opening the dialog never changes it silently.
     */
    function contextStoreOptions(select, saved) {
        var context = RED.settings.context || { default: 'memory', stores: [] };
        var ns = '@ims-mqtt/node-red-ims/ims-config:ims-config.contextStore.';
        select.empty();
        select.append(
            $('<option>')
                .val('')
                .text(RED._(ns + 'default', { store: context.default })),
        );
        (context.stores || []).forEach(function (store) {
            select.append($('<option>').val(store).text(store));
        });
        if (saved && (context.stores || []).indexOf(saved) < 0) {
            select.append(
                $('<option>')
                    .val(saved)
                    .text(RED._(ns + 'missing', { store: saved })),
            );
        }
        select.val(saved || '');
    }

    var BROKER_NS = '@ims-mqtt/node-red-ims/ims-broker:ims-broker.';

    /** "region=Beijing, team=ops" <-> {region: "Beijing", team: "ops"}: an account's attributes in one field. */
    function attributesText(attributes) {
        return Object.keys(attributes || {})
            .map(function (key) {
                return key + '=' + attributes[key];
            })
            .join(', ');
    }
    function attributesOf(text) {
        var attributes = {};
        String(text || '')
            .split(',')
            .forEach(function (pair) {
                var eq = pair.indexOf('=');
                if (eq > 0) attributes[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
            });
        return attributes;
    }

    /**
     * The ims-broker's accounts as an editable list (user, password, system, attributes), built from the
     * JSON in its `accounts` credential (`hidden`); accountsJson() turns the rows back into that JSON.
     */
    function accountsList(list, hidden) {
        var accounts;
        try {
            accounts = JSON.parse(hidden.val() || '[]');
        } catch (error) {
            accounts = []; // not JSON (a value this dialog never wrote): start an empty list
        }
        if (!Array.isArray(accounts)) accounts = [];
        list.css({ 'min-height': '120px', 'min-width': '450px' }).editableList({
            addItem: function (row, index, account) {
                var field = function (cls, type, placeholder, width) {
                    return $('<input>', { type: type, class: cls, placeholder: RED._(BROKER_NS + placeholder) }).css({
                        width: width,
                        'margin-right': '6px',
                    });
                };
                var user = field('ims-account-user', 'text', 'placeholder.accountUser', '22%').val(account.user || '');
                // A password is never shown: the list keeps its salted hash. An account that has one says
                // "set", and a password typed over it replaces it.
                var secret = account.passwordHash
                    ? { passwordHash: account.passwordHash }
                    : account.password
                      ? { password: account.password }
                      : {};
                var isSet = Boolean(secret.passwordHash || secret.password);
                var password = field(
                    'ims-account-password',
                    'password',
                    isSet ? 'placeholder.accountPasswordSet' : 'placeholder.accountPassword',
                    '22%',
                );
                row.data('ims-secret', secret);
                var system = $('<input>', { type: 'checkbox', class: 'ims-account-system' })
                    .css({ width: 'auto', margin: '0 4px 0 0' })
                    .prop('checked', account.system === true);
                var systemLabel = $('<label>')
                    .css({ width: 'auto', 'margin-right': '6px' })
                    .append(system, RED._(BROKER_NS + 'label.system'));
                var attributes = field('ims-account-attributes', 'text', 'placeholder.accountAttributes', '30%').val(
                    attributesText(account.attributes),
                );
                row.append(user, password, systemLabel, attributes);
            },
            removable: true,
            sortable: true,
        });
        accounts.forEach(function (account) {
            list.editableList('addItem', account || {});
        });
    }

    /**
     * Salted hashes of `passwords`, made by the runtime (src/red/passwordHashes.ts): the browser may
     * have no WebCrypto (an editor on plain http), and the hash must be Node's scrypt. Synchronous,
     * because a dialog's oneditsave cannot wait; undefined when the runtime refused or is gone.
     */
    function hashPasswords(passwords) {
        var hashes;
        $.ajax({
            url: 'ims-broker/password-hashes',
            method: 'POST',
            async: false,
            contentType: 'application/json',
            data: JSON.stringify({ passwords: passwords }),
            dataType: 'json',
            success: function (body) {
                hashes = body && body.hashes;
            },
        });
        return Array.isArray(hashes) && hashes.length === passwords.length ? hashes : undefined;
    }

    /**
     * The rows as the `accounts` credential keeps them: each with the salted hash of its password. A
     * password typed in, or one an older flow kept in the clear, is hashed now; an untouched one keeps
     * its hash. If the runtime cannot hash, the passwords are kept as typed (as older versions did) and
     * the user is told.
     */
    function accountsJson(list) {
        var accounts = [];
        var pending = [];
        list.editableList('items').each(function () {
            var row = $(this);
            var user = row.find('.ims-account-user').val().trim();
            if (!user) return;
            var account = { user: user };
            var typed = row.find('.ims-account-password').val();
            var secret = row.data('ims-secret') || {};
            if (typed) pending.push({ account: account, password: typed });
            else if (secret.passwordHash) account.passwordHash = secret.passwordHash;
            else if (secret.password) pending.push({ account: account, password: secret.password });
            if (row.find('.ims-account-system').is(':checked')) account.system = true;
            var attributes = attributesOf(row.find('.ims-account-attributes').val());
            if (Object.keys(attributes).length > 0) account.attributes = attributes;
            accounts.push(account);
        });
        if (pending.length > 0) {
            var hashes = hashPasswords(
                pending.map(function (p) {
                    return p.password;
                }),
            );
            if (!hashes) RED.notify(RED._(BROKER_NS + 'errors.hashFailed'), 'warning');
            pending.forEach(function (p, i) {
                if (hashes) p.account.passwordHash = hashes[i];
                else p.account.password = p.password;
            });
        }
        return JSON.stringify(accounts);
    }

    /** Fills a node's action <select> with `actions` ('' is "from msg.action") in the editor's language, and selects the saved one. */
    function actionSelect(node, type, actions) {
        var select = $('#node-input-action').empty();
        actions.forEach(function (action) {
            select.append(
                $('<option>')
                    .val(action)
                    .text(node._(type + '.action.' + (action || 'msg'))),
            );
        });
        select.val(node.action || '');
    }

    /**
     * Registers an IM node type (every IMS node but ims-config and ims-broker) with what they all share:
     * the palette's IMS category, colour and icon, labels that name the account, the action and the
     * target, the account setting, the action <select> (when `spec.actions` lists them) and typed peer
     * fields checked with the runtime's ID rules. `spec`: version, actions, typed ([{field, kind, list}]:
     * each needs a `node-input-<field>` row in the template), target (the field the label shows),
     * defaults (the node's own settings) and oneditprepare (what else its dialog does).
     */
    function imNode(type, spec) {
        var defaults = { name: { value: '' }, version: { value: spec.version }, account: { type: 'ims-config', required: true } };
        if (spec.actions) defaults.action = { value: '' };
        (spec.typed || []).forEach(function (t) {
            defaults[t.field] = { value: '', validate: typedIdValidator(t.kind, t.field + 'Type', t.list === true) };
            defaults[t.field + 'Type'] = { value: 'str' };
        });
        Object.keys(spec.defaults || {}).forEach(function (key) {
            defaults[key] = spec.defaults[key];
        });
        RED.nodes.registerType(type, {
            category: 'IMS',
            color: '#3FADB5',
            defaults: defaults,
            inputs: 1,
            outputs: 1,
            icon: type + '.svg',
            paletteLabel: function () {
                return this._(type + '.paletteLabel');
            },
            inputLabels: function () {
                return this._(type + '.inputLabel');
            },
            outputLabels: function () {
                return this._(type + '.outputLabel');
            },
            label: function () {
                return label(this, this._(type + '.paletteLabel'), spec.target);
            },
            labelStyle: function () {
                return this.name ? 'node_label_italic' : '';
            },
            oneditprepare: function () {
                if (spec.actions) actionSelect(this, type, spec.actions);
                (spec.typed || []).forEach(function (t) {
                    typedField(t.field);
                });
                if (spec.oneditprepare) spec.oneditprepare.call(this);
            },
        });
    }

    window.ImsEditor = {
        imNode: imNode,
        actionSelect: actionSelect,
        accountsList: accountsList,
        accountsJson: accountsJson,
        contextStoreOptions: contextStoreOptions,
        migrateNode: migrateNode,
        problemText: problemText,
        idValidator: idValidator,
        typedIdValidator: typedIdValidator,
        typedField: typedField,
        label: label,
        rulesOf: rulesOf,
    };
})();
