// LevelDB on disk: aedes's sessions and retained messages (kept in memory and written a window later:
// journaledPersistence.ts, in batches: batchedPersistence.ts),
// and beside them what the broker learned (the policy's facts and the Client ID bindings) as one
// versioned document, saved once per burst of changes. A failed save or batch is reported, never
// swallowed: a block or a queued message that did not reach the disk must be seen.

import * as fs from 'fs';
import { answerCleanSessionAcks, levelPersistence, memoryPersistence, storedSessions } from './aedesAdapter';
import { BatchedLevel, type KeyRange, type LevelDisk } from './batchedPersistence';
import { JournaledPersistence } from './journaledPersistence';
import type { BindingsState } from './bindings';
import type { FactsState } from './facts';
import type { LevelHistoryDb } from './historyLevel';

export const STATE_FORMAT = 1;

/** What the broker keeps beside aedes's own data. */
export interface BrokerState {
    v: number;
    facts?: FactsState;
    bindings?: BindingsState;
}

interface LevelDb extends LevelDisk {
    open(): Promise<void>;
    get(key: string): Promise<string | undefined>;
    get(key: string, options: { valueEncoding: 'buffer' }): Promise<Buffer | undefined>;
    put(key: string, value: string): Promise<void>;
    keys(range: KeyRange): AsyncIterable<string>;
}

/** Beside aedes's own keys; none of them starts with "~". */
const STATE_KEY = '~ims-policy';

/** The two things the store writes: the broker's state document and aedes's batches. */
type StorePart = 'state' | 'sessions' | 'journal';

export class DiskStore {
    private saving: Promise<void> = Promise.resolve();
    private savePending = false;
    /** Told when a save fails; the broker turns it into a warning and a refusal on its output. */
    onError: (error: Error) => void = () => undefined;
    /** Told when a save succeeds after a failure. */
    onRecovered: () => void = () => undefined;
    private readonly failing = new Set<StorePart>();

    /** aedes's level persistence writes here: its LevelDB writes, in batches. */
    private readonly batched: BatchedLevel;
    /** What aedes uses: its sessions and retained messages in memory, journaled to the level persistence. */
    readonly persistence: JournaledPersistence;

    private constructor(private readonly db: LevelDb) {
        this.batched = new BatchedLevel(db);
        this.batched.onError = (error) => this.failed('sessions', error);
        this.batched.onRecovered = () => this.recovered('sessions');
        this.persistence = new JournaledPersistence(memoryPersistence(), levelPersistence(this.batched), {
            // Read at aedes's setup, before any write: the disk's keys are all there is.
            storedSessions: () => storedSessions((range) => db.keys(range)),
        });
        this.persistence.onError = (error) => this.failed('journal', error);
        this.persistence.onRecovered = () => this.recovered('journal');
        answerCleanSessionAcks(this.persistence);
    }

    /** The same database as the history sees it (its own keys: historyLevel.ts). */
    get historyDb(): LevelHistoryDb {
        return this.db as unknown as LevelHistoryDb;
    }

    static async open(dir: string): Promise<DiskStore> {
        fs.mkdirSync(dir, { recursive: true });
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { ClassicLevel } = require('classic-level') as { ClassicLevel: new (dir: string) => LevelDb };
        const db = new ClassicLevel(dir);
        await db.open();
        return new DiskStore(db);
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
                this.recovered('state');
            })
            .catch((error: Error) => {
                this.savePending = false;
                this.failed('state', error);
            });
    }

    /** Changes that a SIGKILL now would lose: aedes's changes in the journal, and writes not yet on disk. */
    get pendingWrites(): number {
        return this.persistence.journalLength + this.batched.pendingWrites;
    }

    /** LevelDB batches written so far (for tests and the bench). */
    get batchesWritten(): number {
        return this.batched.batchesWritten;
    }

    /** Resolves once aedes's changes so far are on disk. */
    async flush(): Promise<void> {
        await this.persistence.flush();
        await this.batched.flush();
    }

    private failed(part: StorePart, error: Error): void {
        this.failing.add(part);
        this.onError(error);
    }

    /** Recovered once neither the state nor aedes's batches fail any more. */
    private recovered(part: StorePart): void {
        if (!this.failing.delete(part) || this.failing.size > 0) return;
        this.onRecovered();
    }

    async close(): Promise<void> {
        await this.saving;
        await this.persistence.destroy();
    }
}
