// LevelDB on disk: aedes's sessions and retained messages, and beside them what the broker learned
// (the policy's facts and the Client ID bindings) as one versioned document, saved once per burst of
// changes. A failed save is reported, never swallowed: a block that did not reach the disk must be seen.

import * as fs from 'fs';
import type { BindingsState } from './bindings';
import type { FactsState } from './facts';

export const STATE_FORMAT = 1;

/** What the broker keeps beside aedes's own data. */
export interface BrokerState {
    v: number;
    facts?: FactsState;
    bindings?: BindingsState;
}

interface LevelDb {
    open(): Promise<void>;
    get(key: string): Promise<string | undefined>;
    put(key: string, value: string): Promise<void>;
    close(): Promise<void>;
}

/** Beside aedes's own keys; none of them starts with "~". */
const STATE_KEY = '~ims-policy';

export class DiskStore {
    private saving: Promise<void> = Promise.resolve();
    private savePending = false;
    /** Told when a save fails; the broker turns it into a warning and a refusal on its output. */
    onError: (error: Error) => void = () => undefined;
    /** Told when a save succeeds after a failure. */
    onRecovered: () => void = () => undefined;
    private failing = false;

    private constructor(
        readonly persistence: { destroy(): Promise<void> },
        private readonly db: LevelDb,
    ) {}

    static async open(dir: string): Promise<DiskStore> {
        fs.mkdirSync(dir, { recursive: true });
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { ClassicLevel } = require('classic-level') as { ClassicLevel: new (dir: string) => LevelDb };
        // The async store aedes 1.x needs (the package's main export wraps it in callbacks).
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const AsyncLevelPersistence = require('aedes-persistence-level/asyncPersistence.js') as new (db: LevelDb) => {
            destroy(): Promise<void>;
        };
        const db = new ClassicLevel(dir);
        await db.open();
        const store = new DiskStore(new AsyncLevelPersistence(db), db);
        return store;
    }

    /** The saved state; a document from before versions (the facts alone) is read as format 0. */
    async loadState(): Promise<BrokerState | undefined> {
        const text = await this.db.get(STATE_KEY);
        if (!text) return undefined;
        const value = JSON.parse(text) as BrokerState & FactsState;
        if (value.v === undefined || value.facts === undefined) {
            return { v: STATE_FORMAT, facts: { blocks: value.blocks, friends: value.friends, groups: value.groups } };
        }
        if (value.v > STATE_FORMAT) throw new Error(`The broker's store has format ${value.v}; this version reads up to ${STATE_FORMAT}`);
        return value;
    }

    /** Saves the latest state once per burst of changes, in order. */
    saveState(state: () => BrokerState): void {
        if (this.savePending) return;
        this.savePending = true;
        this.saving = this.saving
            .then(async () => {
                this.savePending = false;
                await this.db.put(STATE_KEY, JSON.stringify(state()));
                if (this.failing) {
                    this.failing = false;
                    this.onRecovered();
                }
            })
            .catch((error: Error) => {
                this.savePending = false;
                this.failing = true;
                this.onError(error);
            });
    }

    async close(): Promise<void> {
        await this.saving;
        await this.persistence.destroy();
    }
}
