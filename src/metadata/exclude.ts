// Rows a projection leaves out. A row that cannot be written (a field too long for its column, a
// reference to nothing, a key the server refuses) must not stop every other row: it is excluded, its
// existing table row (if any) is left exactly as it is, and it is reported and retried on its own.
//
// Rows that reference an excluded row: a reference is kept only if it resolves in the table. When the
// excluded parent already has a row there (an update that failed), the old row still stands, so its
// children are written normally against it. When it has none (an insert that failed), the children
// would point at nothing — compute nodes would see a shard without a cluster, a node without a shard —
// so they are excluded too, transitively (cluster -> shards and compute nodes -> storage nodes; a
// machine -> the nodes placed on it). Nothing references storage or compute node rows by id, so their
// exclusion stops there; node_map_master names hosts, not rows, and is not affected.
import { entityMap } from './codec.js';
import { PSEUDO_SERVER_ID, type EntityKind, type Topology } from './topology.js';

/** A row left out of a projection: table, key (the id) and why. The reason never holds a value. */
export interface FailedRow {
  table: string;
  key: string;
  reason: string;
}

/** kind -> id -> reason. */
export type Exclusions = Map<EntityKind, Map<number, string>>;

export function exclude(x: Exclusions, kind: EntityKind, id: number, reason: string): void {
  let m = x.get(kind);
  if (!m) x.set(kind, (m = new Map<number, string>()));
  if (!m.has(id)) m.set(id, reason);
}

export function isExcluded(x: Exclusions, kind: EntityKind, id: number): boolean {
  return x.get(kind)?.has(id) ?? false;
}

/** The parents each kind references, with the field holding the parent's id. */
const PARENTS: Partial<Record<EntityKind, ReadonlyArray<{ field: string; kind: EntityKind }>>> = {
  shards: [{ field: 'clusterId', kind: 'clusters' }],
  storageNodes: [
    { field: 'clusterId', kind: 'clusters' },
    { field: 'shardId', kind: 'shards' },
    { field: 'machineId', kind: 'machines' },
  ],
  computeNodes: [
    { field: 'clusterId', kind: 'clusters' },
    { field: 'machineId', kind: 'machines' },
  ],
};
/** Parents before children, so one pass reaches every dependant. */
const ORDER: readonly EntityKind[] = ['machines', 'clusters', 'shards', 'storageNodes', 'computeNodes'];

/**
 * Adds to `x` (in place, and returns it) every row whose parent is excluded and has no row in the
 * table (`present` says whether the table holds a row with that id).
 */
export function excludeDependants(t: Topology, x: Exclusions, present: (kind: EntityKind, id: number) => boolean): Exclusions {
  for (const kind of ORDER) {
    const parents = PARENTS[kind];
    if (!parents) continue;
    for (const row of t[kind] as unknown as Array<Record<string, number>>) {
      const id = row.id!;
      if (isExcluded(x, kind, id)) continue;
      for (const p of parents) {
        const pid = row[p.field]!;
        if (p.kind === 'machines' && pid === PSEUDO_SERVER_ID) continue;
        if (isExcluded(x, p.kind, pid) && !present(p.kind, pid)) {
          exclude(x, kind, id, `its ${entityMap(p.kind).table} row ${pid} is not written`);
          break;
        }
      }
    }
  }
  return x;
}

/** As reported: in the projection's table order, then by id. */
export function failedRows(x: Exclusions, kinds: readonly EntityKind[]): FailedRow[] {
  const out: FailedRow[] = [];
  for (const kind of kinds) {
    const m = x.get(kind);
    if (!m) continue;
    const table = entityMap(kind).table;
    for (const [id, reason] of [...m].sort((a, b) => a[0] - b[0])) out.push({ table, key: String(id), reason });
  }
  return out;
}
