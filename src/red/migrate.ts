// The runtime side of versioned node configuration: a node's settings, as saved in flows.json, brought
// up to date by the migrations of src/lib/migrations.ts before the node reads them.

import type { NodeDef } from 'node-red';
import { migrate, NodeConfig } from '../lib/migrations';

export function upToDate<T extends NodeDef>(def: T): T {
    return migrate(def.type, def as unknown as NodeConfig) as unknown as T;
}
