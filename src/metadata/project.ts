// The projection: the leader makes kunlun_metadata_db match the topology at a Raft index, exactly once.
// One transaction writes the rows that differ (nothing else) and records the index and term in
// cluster_mgr_projection. An index at or below the recorded one is skipped (a restart or a new leader
// neither skips nor repeats anything); a term below the recorded one is refused (an old leader's late
// write after a newer leader wrote). Crash at any point: the recorded index says which state the
// tables hold, because both commit together or not at all.
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Logger } from '../log/logger.js';
import { ENTITY_MAPS, canonicalDbValue, encodeValue, type EntityMap, type FieldMap, type SqlValue } from './codec.js';
import { DEFAULT_DATABASE, assertIdent, q, qt } from './ident.js';
import { selectRows, withSession, type Conn } from './session.js';
import { PSEUDO_SERVER_ID, redactJsonText, type Topology } from './topology.js';
import { validateTopology } from './validate.js';

export interface ProjectionPosition {
  /** The Raft log index the topology reflects. */
  index: number;
  /** The leader's term: the fencing token. */
  term: number;
}

export interface ProjectionState extends ProjectionPosition {
  /** When the state row was last written, epoch ms (the metadata server's clock). */
  updatedAt: number | null;
}

export interface TableChange {
  inserted: number;
  updated: number;
  deleted: number;
}

export interface ProjectionResult {
  status: 'applied' | 'skipped';
  /** What cluster_mgr_projection held before this call. */
  before: ProjectionPosition;
  /** What it holds now. */
  after: ProjectionPosition;
  /** Rows written per table (only tables with changes). */
  changes: Record<string, TableChange>;
  /** server_nodes rows not in the topology and left alone (node_mgr's own registrations). */
  foreignMachines: number[];
}

export interface ProjectOptions {
  database?: string;
  /** Counts only: rows and secrets never reach the log. */
  log?: Logger;
}

export class StaleTermError extends Error {
  override name = 'StaleTermError';
  constructor(
    readonly attempted: ProjectionPosition,
    readonly stored: ProjectionPosition,
  ) {
    super(
      `projection at index ${attempted.index} term ${attempted.term} refused: the metadata shard was written at ` +
        `index ${stored.index} by term ${stored.term}, a newer leader`,
    );
  }
}

const INSERT_BATCH = 200;
const ID_BATCH = 500;

function assertPosition(p: ProjectionPosition): void {
  for (const k of ['index', 'term'] as const) {
    const v = p?.[k];
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`projection ${k} must be a non-negative integer, got ${String(v)}`);
  }
  if (p.index < 1) throw new RangeError('projection index must be at least 1');
}

/** Reads the recorded position without locking. */
export async function getProjectionState(c: Conn, opts: { database?: string } = {}): Promise<ProjectionState> {
  const db = assertIdent(opts.database ?? DEFAULT_DATABASE, 'database');
  return withSession(c, { utc: true }, async () => {
    const rows = await selectRows(c, `SELECT applied_index, term, updated_at FROM ${qt(db, 'cluster_mgr_projection')} WHERE id = ?`, [1]);
    const r = rows[0];
    if (!r) throw new Error(`${db}.cluster_mgr_projection has no state row; run createSchema first`);
    const updated = r.updated_at === null ? null : Date.parse(`${String(r.updated_at).replace(' ', 'T')}Z`);
    return { index: Number(r.applied_index), term: Number(r.term), updatedAt: updated };
  });
}

/** The values written for one entity, in field order; job memos and requests lose their secrets here. */
function desiredRow(m: EntityMap, row: Record<string, unknown>): SqlValue[] {
  return m.fields.map((f) => {
    let v = row[f.field];
    if (m.kind === 'jobs' && (f.field === 'memo' || f.field === 'jobInfo')) v = redactJsonText(v as string | null);
    return encodeValue(f.codec, v);
  });
}

export async function projectTopology(
  c: Conn,
  topology: Topology,
  position: ProjectionPosition,
  opts: ProjectOptions = {},
): Promise<ProjectionResult> {
  assertPosition(position);
  validateTopology(topology);
  const db = assertIdent(opts.database ?? DEFAULT_DATABASE, 'database');
  const desired = new Map<EntityMap, Map<number, SqlValue[]>>();
  for (const m of ENTITY_MAPS) {
    const rows = new Map<number, SqlValue[]>();
    for (const r of topology[m.kind]) rows.set(r.id, desiredRow(m, r as unknown as Record<string, unknown>));
    desired.set(m, rows);
  }

  const result = await withSession(c, { utc: true, foreignKeyChecks: false }, async () => {
    await c.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
    await c.query('START TRANSACTION');
    try {
      const out = await projectInTransaction(c, db, topology, desired, position);
      if (out.status === 'applied' || out.after.term !== out.before.term) await c.query('COMMIT');
      else await c.query('ROLLBACK');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  });
  opts.log?.info(
    { index: position.index, term: position.term, status: result.status, changes: result.changes },
    result.status === 'applied' ? 'metadata projection applied' : 'metadata projection skipped',
  );
  return result;
}

async function projectInTransaction(
  c: Conn,
  db: string,
  topology: Topology,
  desired: Map<EntityMap, Map<number, SqlValue[]>>,
  pos: ProjectionPosition,
): Promise<ProjectionResult> {
  const state = qt(db, 'cluster_mgr_projection');
  // The lock serialises projectors: a second leader waits here, then sees what the first committed.
  const [st] = await c.query<RowDataPacket[]>(`SELECT applied_index, term FROM ${state} WHERE id = ? FOR UPDATE`, [1]);
  if (!st[0]) throw new Error(`${db}.cluster_mgr_projection has no state row; run createSchema first`);
  const before = { index: Number(st[0].applied_index), term: Number(st[0].term) };
  if (before.term > pos.term) throw new StaleTermError(pos, before);
  if (before.index >= pos.index) {
    // Already there. A newer term still raises the fence, so an older leader is refused from now on.
    if (pos.term > before.term) {
      await c.query(`UPDATE ${state} SET term = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE id = ?`, [pos.term, 1]);
    }
    return { status: 'skipped', before, after: { index: before.index, term: Math.max(before.term, pos.term) }, changes: {}, foreignMachines: [] };
  }

  const changes: Record<string, TableChange> = {};
  const count = (table: string, k: keyof TableChange, n: number): void => {
    if (n === 0) return;
    changes[table] ??= { inserted: 0, updated: 0, deleted: 0 };
    changes[table][k] += n;
  };
  const plans: { m: EntityMap; inserts: number[]; updates: { id: number; cols: number[] }[]; deletes: number[] }[] = [];
  const foreignMachines: number[] = [];
  for (const m of ENTITY_MAPS) {
    const want = desired.get(m)!;
    const have = await currentRows(c, db, m, [...want.keys()]);
    const inserts = [...want.keys()].filter((id) => !have.has(id)).sort((a, b) => a - b);
    const updates: { id: number; cols: number[] }[] = [];
    for (const id of [...want.keys()].sort((a, b) => a - b)) {
      const cur = have.get(id);
      if (!cur) continue;
      const w = want.get(id)!;
      const cols = m.fields.map((_, i) => i).filter((i) => cur.values[i] !== w[i]);
      if (cols.length) updates.push({ id, cols });
    }
    const deletes: number[] = [];
    for (const [id, cur] of [...have].sort((a, b) => a[0] - b[0])) {
      if (want.has(id)) continue;
      if (m.deletePolicy === 'never') continue;
      if (m.deletePolicy === 'typed-machines' && cur.machineTypeNull) {
        foreignMachines.push(id);
        continue;
      }
      deletes.push(id);
    }
    plans.push({ m, inserts, updates, deletes });
  }

  // Children first when deleting, parents first when writing: the order is fixed, so is the outcome.
  for (const p of [...plans].reverse()) {
    for (const ids of chunks(p.deletes, ID_BATCH)) {
      if (p.m.table === 'server_nodes') {
        // node_mgr's disk statistics row of a deleted machine goes with it.
        const [r] = await c.query<ResultSetHeader>(`DELETE FROM ${qt(db, 'server_nodes_stats')} WHERE id IN (?)`, [ids]);
        count('server_nodes_stats', 'deleted', r.affectedRows);
      }
      const [r] = await c.query<ResultSetHeader>(`DELETE FROM ${qt(db, p.m.table)} WHERE id IN (?)`, [ids]);
      count(p.m.table, 'deleted', r.affectedRows);
    }
  }
  for (const p of plans) {
    const want = desired.get(p.m)!;
    for (const u of p.updates) {
      const row = want.get(u.id)!;
      const set = u.cols.map((i) => `${q(p.m.fields[i]!.column)} = ?`).join(', ');
      await c.query(`UPDATE ${qt(db, p.m.table)} SET ${set} WHERE id = ?`, [...u.cols.map((i) => row[i]), u.id]);
      count(p.m.table, 'updated', 1);
    }
    const cols = p.m.fields.map((f) => q(f.column)).join(', ');
    for (const ids of chunks(p.inserts, INSERT_BATCH)) {
      await c.query(`INSERT INTO ${qt(db, p.m.table)} (${cols}) VALUES ?`, [ids.map((id) => want.get(id)!)]);
      count(p.m.table, 'inserted', ids.length);
    }
  }
  await projectGlobals(c, db, topology, count);

  // Compare-and-set on what we read under the lock: belt and braces against anything that slipped by.
  const [cas] = await c.query<ResultSetHeader>(
    `UPDATE ${state} SET applied_index = ?, term = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE id = ? AND applied_index = ? AND term = ?`,
    [pos.index, pos.term, 1, before.index, before.term],
  );
  if (cas.affectedRows !== 1) throw new Error('cluster_mgr_projection changed under the lock; projection abandoned');
  return { status: 'applied', before, after: { ...pos }, changes, foreignMachines };
}

interface CurrentRow {
  values: SqlValue[];
  machineTypeNull: boolean;
}

/** The table's rows in canonical form. Jobs are history: only the rows the topology names are read. */
async function currentRows(c: Conn, db: string, m: EntityMap, wantedIds: number[]): Promise<Map<number, CurrentRow>> {
  const cols = m.fields.map((f: FieldMap) => `${q(f.column)} AS ${q(f.column)}`).join(', ');
  const base = `SELECT ${cols} FROM ${qt(db, m.table)}`;
  const rows: RowDataPacket[] = [];
  if (m.deletePolicy === 'never') {
    for (const ids of chunks([...wantedIds].sort((a, b) => a - b), ID_BATCH)) rows.push(...(await selectRows(c, `${base} WHERE id IN (?)`, [ids])));
  } else {
    rows.push(...(await selectRows(c, base)));
  }
  const out = new Map<number, CurrentRow>();
  for (const r of rows) {
    const id = Number(r.id);
    // The pseudo server row belongs to the schema, not to any topology.
    if (m.table === 'server_nodes' && id === PSEUDO_SERVER_ID) continue;
    out.set(id, {
      values: m.fields.map((f) => canonicalDbValue(f.codec, r[f.column])),
      machineTypeNull: m.table === 'server_nodes' && (r.machine_type === null || r.machine_type === undefined),
    });
  }
  return out;
}

type Count = (table: string, k: keyof TableChange, n: number) => void;

async function projectGlobals(c: Conn, db: string, t: Topology, count: Count): Promise<void> {
  if (t.metaHaMode !== null) {
    const gc = qt(db, 'global_configuration');
    const [rows] = await c.query<RowDataPacket[]>(`SELECT value FROM ${gc} WHERE name = ?`, ['meta_ha_mode']);
    if (rows.length === 0) {
      await c.query(`INSERT INTO ${gc} (name, value) VALUES (?, ?)`, ['meta_ha_mode', t.metaHaMode]);
      count('global_configuration', 'inserted', 1);
    } else if (rows[0]!.value !== t.metaHaMode) {
      await c.query(`UPDATE ${gc} SET value = ? WHERE name = ?`, [t.metaHaMode, 'meta_ha_mode']);
      count('global_configuration', 'updated', 1);
    }
  }
  // Tools that still reserve compute ids from the sequence must not be handed one the manager used.
  const maxComp = t.computeNodes.reduce((mx, n) => Math.max(mx, n.id), 0);
  // The sequence column is a signed int; ids beyond it cannot collide with what it hands out anyway.
  if (maxComp > 0 && maxComp <= 2_147_483_647) {
    const seq = qt(db, 'comp_nodes_id_seq');
    const [rows] = await c.query<RowDataPacket[]>(`SELECT COALESCE(MAX(id), 0) AS m FROM ${seq}`);
    if (Number(rows[0]!.m) < maxComp) {
      await c.query(`INSERT INTO ${seq} (id) VALUES (?)`, [maxComp]);
      count('comp_nodes_id_seq', 'inserted', 1);
    }
  }
}

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
