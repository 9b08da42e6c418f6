// The projection: the leader makes kunlun_metadata_db match the topology at a Raft index, exactly once.
// One transaction writes the rows that differ (nothing else) and records the index and term in
// cluster_mgr_projection. An index at or below the recorded one is skipped (a restart or a new leader
// neither skips nor repeats anything); a term below the recorded one is refused (an old leader's late
// write after a newer leader wrote). Crash at any point: the recorded index says which state the
// tables hold, because both commit together or not at all.
// A row that cannot be written (invalid for its column, or refused by the server) is left out and
// reported in `failed`; everything else is written and the index recorded (see exclude.ts). At the
// recorded index, `retry` writes just the rows that failed before, once they can be.
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Logger } from '../log/logger.js';
import { ENTITY_MAPS, canonicalDbValue, cellText, encodeValue, formatTimestamp, parseTimestamp, type EntityMap, type FieldMap, type SqlValue } from './codec.js';
import { exclude, excludeDependants, failedRows, isExcluded, type Exclusions, type FailedRow } from './exclude.js';
import { DEFAULT_DATABASE, assertIdent, q, qt } from './ident.js';
import { selectRows, withSession, type Conn } from './session.js';
import { PSEUDO_SERVER_ID, redactJsonText, type ColdBackup, type InstallLog, type Topology } from './topology.js';
import { rowProblems } from './validate.js';

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
  /** retried: at the recorded index, only the rows named in `retry` were tried again. */
  status: 'applied' | 'skipped' | 'retried';
  /** What cluster_mgr_projection held before this call. */
  before: ProjectionPosition;
  /** What it holds now. */
  after: ProjectionPosition;
  /** Rows written per table (only tables with changes). */
  changes: Record<string, TableChange>;
  /** server_nodes rows not in the topology and left alone (node_mgr's own registrations). */
  foreignMachines: number[];
  /** Rows left out (their table rows are as they were), in table order then by id; empty when skipped. */
  failed: FailedRow[];
}

export interface ProjectOptions {
  database?: string;
  /** Counts only: rows and secrets never reach the log. */
  log?: Logger;
  /** Rows that failed before: when the index is already recorded, these alone are tried again. */
  retry?: ReadonlyArray<Pick<FailedRow, 'table' | 'key'>>;
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
  const invalid: Exclusions = new Map();
  for (const p of rowProblems(topology)) {
    // The reason names the field (the path after the row) and why, never the value.
    if (p.row) exclude(invalid, p.row.kind, p.row.id, p.path.replace(/^[A-Za-z]+\[\d+\]\.?/, '').concat(' ', p.reason).trim());
  }
  const db = assertIdent(opts.database ?? DEFAULT_DATABASE, 'database');
  const desired = new Map<EntityMap, Map<number, SqlValue[]>>();
  for (const m of ENTITY_MAPS) {
    const rows = new Map<number, SqlValue[]>();
    for (const r of topology[m.kind]) {
      if (!isExcluded(invalid, m.kind, r.id)) rows.set(r.id, desiredRow(m, r as unknown as Record<string, unknown>));
    }
    desired.set(m, rows);
  }
  const job: Job = { db, topology, desired, invalid, pos: position, retry: retrySet(opts.retry) };

  const result = await withSession(c, { utc: true, foreignKeyChecks: false }, async () => {
    await c.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
    await c.query('START TRANSACTION');
    try {
      const out = await projectInTransaction(c, job);
      if (out.status !== 'skipped' || out.after.term !== out.before.term) await c.query('COMMIT');
      else await c.query('ROLLBACK');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  });
  // Retries that change nothing run every few seconds while a row fails: not worth an info line each.
  const quiet = result.status === 'retried' && Object.keys(result.changes).length === 0;
  opts.log?.[quiet ? 'debug' : 'info'](
    { index: position.index, term: position.term, status: result.status, changes: result.changes, failed: result.failed.length },
    `metadata projection ${result.status}`,
  );
  return result;
}

interface Job {
  db: string;
  topology: Topology;
  /** Encoded rows of every entity, without the rows that failed validation. */
  desired: Map<EntityMap, Map<number, SqlValue[]>>;
  invalid: Exclusions;
  pos: ProjectionPosition;
  /** table -> ids to try again at the recorded index; null: no retry asked. */
  retry: Map<string, Set<number>> | null;
}

function retrySet(rows: ProjectOptions['retry']): Map<string, Set<number>> | null {
  if (!rows || rows.length === 0) return null;
  const out = new Map<string, Set<number>>();
  for (const r of rows) {
    const id = Number(r.key);
    if (!Number.isSafeInteger(id)) continue;
    let ids = out.get(r.table);
    if (!ids) out.set(r.table, (ids = new Set()));
    ids.add(id);
  }
  return out;
}

async function projectInTransaction(c: Conn, job: Job): Promise<ProjectionResult> {
  const { db, topology, desired, pos } = job;
  const state = qt(db, 'cluster_mgr_projection');
  // The lock serialises projectors: a second leader waits here, then sees what the first committed.
  const [st] = await c.query<RowDataPacket[]>(`SELECT applied_index, term FROM ${state} WHERE id = ? FOR UPDATE`, [1]);
  if (!st[0]) throw new Error(`${db}.cluster_mgr_projection has no state row; run createSchema first`);
  const before = { index: Number(st[0].applied_index), term: Number(st[0].term) };
  if (before.term > pos.term) throw new StaleTermError(pos, before);
  // At the recorded index the tables hold this very state but for the rows that failed: those alone
  // may be written now (the index stays; the rows are this index's).
  const retrying = before.index === pos.index && job.retry !== null;
  if (before.index >= pos.index && !retrying) {
    // Already there. A newer term still raises the fence, so an older leader is refused from now on.
    if (pos.term > before.term) {
      await c.query(`UPDATE ${state} SET term = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE id = ?`, [pos.term, 1]);
    }
    return { status: 'skipped', before, after: { index: before.index, term: Math.max(before.term, pos.term) }, changes: {}, foreignMachines: [], failed: [] };
  }
  const only = (m: EntityMap, id: number): boolean => !retrying || (job.retry!.get(m.table)?.has(id) ?? false);

  const changes: Record<string, TableChange> = {};
  const count = (table: string, k: keyof TableChange, n: number): void => {
    if (n === 0) return;
    changes[table] ??= { inserted: 0, updated: 0, deleted: 0 };
    changes[table][k] += n;
  };
  // Rows left out: invalid ones, the server's refusals found below, and the rows depending on either.
  const excluded: Exclusions = new Map([...job.invalid].map(([k, v]) => [k, new Map(v)]));
  const have = new Map<EntityMap, Map<number, CurrentRow>>();
  for (const m of ENTITY_MAPS) {
    const want = [...desired.get(m)!.keys(), ...(job.invalid.get(m.kind)?.keys() ?? [])];
    have.set(m, await currentRows(c, db, m, want));
  }
  const present = (kind: string, id: number): boolean => [...have].some(([m, rows]) => m.kind === kind && rows.has(id));
  excludeDependants(topology, excluded, present);

  const plans: { m: EntityMap; inserts: number[]; updates: { id: number; cols: number[] }[]; deletes: number[] }[] = [];
  const foreignMachines: number[] = [];
  for (const m of ENTITY_MAPS) {
    const want = desired.get(m)!;
    const cur = have.get(m)!;
    const wanted = [...want.keys()].filter((id) => !isExcluded(excluded, m.kind, id) && only(m, id)).sort((a, b) => a - b);
    const inserts = wanted.filter((id) => !cur.has(id));
    const updates: { id: number; cols: number[] }[] = [];
    for (const id of wanted) {
      const row = cur.get(id);
      if (!row) continue;
      const w = want.get(id)!;
      const cols = m.fields.map((_, i) => i).filter((i) => row.values[i] !== w[i]);
      if (cols.length) updates.push({ id, cols });
    }
    const deletes: number[] = [];
    for (const [id, row] of retrying ? [] : [...cur].sort((a, b) => a[0] - b[0])) {
      // An excluded row is still wanted: its old row stays as it is.
      if (want.has(id) || isExcluded(excluded, m.kind, id)) continue;
      if (m.deletePolicy === 'never') continue;
      if (m.deletePolicy === 'typed-machines' && row.machineTypeNull) {
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
    // A parent the server refused above takes its new children with it (exclude.ts).
    excludeDependants(topology, excluded, present);
    const keep = (id: number): boolean => !isExcluded(excluded, p.m.kind, id);
    const want = desired.get(p.m)!;
    const refused = (id: number, why: string): void => exclude(excluded, p.m.kind, id, why);
    for (const u of p.updates.filter((x) => keep(x.id))) {
      const row = want.get(u.id)!;
      const set = u.cols.map((i) => `${q(p.m.fields[i]!.column)} = ?`).join(', ');
      if (await rowStatement(c, `UPDATE ${qt(db, p.m.table)} SET ${set} WHERE id = ?`, [...u.cols.map((i) => row[i]), u.id], (why) => refused(u.id, why))) {
        count(p.m.table, 'updated', 1);
      }
    }
    const cols = p.m.fields.map((f) => q(f.column)).join(', ');
    const insert = `INSERT INTO ${qt(db, p.m.table)} (${cols}) VALUES ?`;
    for (const ids of chunks(p.inserts.filter(keep), INSERT_BATCH)) {
      if (await rowStatement(c, insert, [ids.map((id) => want.get(id)!)], () => undefined)) {
        count(p.m.table, 'inserted', ids.length);
        continue;
      }
      // The batch was refused (and rolled back whole, statements are atomic): row by row finds the culprits.
      for (const id of ids) {
        if (await rowStatement(c, insert, [[want.get(id)!]], (why) => refused(id, why))) count(p.m.table, 'inserted', 1);
      }
    }
  }
  if (!retrying) {
    await projectGlobals(c, db, topology, count);
    await projectMachineStats(c, db, topology, count);
    await projectInstallLogs(c, db, topology.installLogs ?? [], count);
    await projectColdBackups(c, db, topology.coldBackups ?? [], count);
  }

  // Compare-and-set on what we read under the lock: belt and braces against anything that slipped by.
  const [cas] = await c.query<ResultSetHeader>(
    `UPDATE ${state} SET applied_index = ?, term = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE id = ? AND applied_index = ? AND term = ?`,
    [pos.index, pos.term, 1, before.index, before.term],
  );
  if (cas.affectedRows !== 1) throw new Error('cluster_mgr_projection changed under the lock; projection abandoned');
  const failed = failedRows(excluded, ENTITY_MAPS.map((m) => m.kind)).filter((f) => !retrying || (job.retry!.get(f.table)?.has(Number(f.key)) ?? false));
  return { status: retrying ? 'retried' : 'applied', before, after: { ...pos }, changes, foreignMachines, failed };
}

/** Errors about a row's values rather than the connection or the transaction (MySQL and MariaDB errnos). */
const ROW_ERRNOS = new Set([
  1048, // ER_BAD_NULL_ERROR
  1265, // WARN_DATA_TRUNCATED
  1366, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
  3819, // ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
  4025, // ER_CONSTRAINT_FAILED (MariaDB)
]);

/**
 * Why the server refused a row, or null when the error is not about the row (then it fails the whole
 * projection). Only the error code and the column or key name are kept: messages quote values
 * ("Duplicate entry '…'", "Incorrect string value: '…'"), and a value may be a password.
 */
export function rowErrorReason(e: unknown): string | null {
  const x = e as { code?: unknown; errno?: unknown; sqlState?: unknown; message?: unknown } | null;
  if (x === null || typeof x !== 'object' || typeof x.errno !== 'number') return null;
  const cls = typeof x.sqlState === 'string' ? x.sqlState.slice(0, 2) : '';
  if (cls !== '22' && cls !== '23' && !ROW_ERRNOS.has(x.errno)) return null;
  const msg = typeof x.message === 'string' ? x.message : '';
  // MariaDB names a column `db`.`table`.`column` in some messages: the last part is the column.
  const column = /\bcolumn ((?:[`'][A-Za-z0-9_]+[`']\.?)+)/i.exec(msg)?.[1]?.split('.').pop()?.replace(/[`']/g, '');
  const key = /\bfor key [`']([A-Za-z0-9_.]+)[`']/i.exec(msg)?.[1];
  const code = typeof x.code === 'string' ? x.code : `error ${x.errno}`;
  return `refused by the server: ${code}${column ? ` on column ${column}` : ''}${key ? ` on key ${key}` : ''}`;
}

/**
 * Runs one statement that writes rows; true when it did. A refusal of the rows' values is handed to
 * `refused` (InnoDB rolls back just the failed statement; the transaction goes on); anything else throws.
 */
async function rowStatement(c: Conn, sql: string, values: unknown[], refused: (why: string) => void): Promise<boolean> {
  try {
    await c.query(sql, values);
    return true;
  } catch (e) {
    const why = rowErrorReason(e);
    if (why === null) throw e;
    refused(why);
    return false;
  }
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

/**
 * One server_nodes_stats row per machine, as node_mgr inserts it when it registers its host: all
 * zeros (the manager measures no disks; XPanel's disk page reads the row). A row that exists is
 * node_mgr's or an earlier pass's and stays as it is; a machine row left out this time gets none.
 */
async function projectMachineStats(c: Conn, db: string, t: Topology, count: Count): Promise<void> {
  const stats = qt(db, 'server_nodes_stats');
  for (const ids of chunks(t.machines.map((m) => m.id).sort((a, b) => a - b), ID_BATCH)) {
    const [r] = await c.query<ResultSetHeader>(
      `INSERT INTO ${stats} (id, comp_datadir_used, comp_datadir_avail, datadir_used, datadir_avail, wal_log_dir_used, ` +
        `wal_log_dir_avail, log_dir_used, log_dir_avail, avg_network_usage_pct) ` +
        `SELECT s.id, 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM ${qt(db, 'server_nodes')} s LEFT JOIN ${stats} x ON x.id = s.id ` +
        `WHERE s.id IN (?) AND x.id IS NULL`,
      [ids],
    );
    count('server_nodes_stats', 'inserted', r.affectedRows);
  }
}

/**
 * mysql_pg_install_log rows, matched by (general_log_id, install_type): the table's ids are its own
 * AUTO_INCREMENT (rows of the original stay as they are); a row that differs is updated in place.
 */
async function projectInstallLogs(c: Conn, db: string, logs: readonly InstallLog[], count: Count): Promise<void> {
  if (logs.length === 0) return;
  const table = qt(db, 'mysql_pg_install_log');
  const have = new Map<string, RowDataPacket>();
  const jobIds = [...new Set(logs.map((l) => l.generalLogId))].sort((a, b) => a - b);
  for (const ids of chunks(jobIds, ID_BATCH)) {
    const rows = await selectRows(c, `SELECT id, general_log_id, install_type, status, when_started, when_ended, job_info, memo FROM ${table} WHERE general_log_id IN (?) ORDER BY id`, [ids]);
    for (const r of rows) {
      const k = `${String(r.general_log_id)}|${String(r.install_type)}`;
      if (!have.has(k)) have.set(k, r);
    }
  }
  for (const l of logs) {
    const values = [l.status, formatTimestamp(l.whenStarted, 6), l.whenEnded === null ? null : formatTimestamp(l.whenEnded, 6), l.jobInfo, l.memo];
    const cur = have.get(`${l.generalLogId}|${l.installType}`);
    if (cur === undefined) {
      await c.query(`INSERT INTO ${table} (general_log_id, install_type, status, when_started, when_ended, job_info, memo) VALUES (?, ?, ?, ?, ?, ?, ?)`, [l.generalLogId, l.installType, ...values]);
      count('mysql_pg_install_log', 'inserted', 1);
      continue;
    }
    const now = [cellText(cur.status), tsText(cur.when_started), tsText(cur.when_ended), cellText(cur.job_info), cellText(cur.memo)];
    if (now.every((v, i) => v === values[i])) continue;
    await c.query(`UPDATE ${table} SET status = ?, when_started = ?, when_ended = ?, job_info = ?, memo = ? WHERE id = ?`, [...values, cur.id]);
    count('mysql_pg_install_log', 'updated', 1);
  }
}

/** The job a cluster_coldbackups row was written for (its memo's job_id), or null: a row of the original. */
function coldBackupJob(memo: unknown): number | null {
  try {
    const v = JSON.parse(cellText(memo) ?? '') as { job_id?: unknown };
    return typeof v.job_id === 'number' ? v.job_id : null;
  } catch {
    return null;
  }
}

/**
 * cluster_coldbackups rows, matched by the job in their memo: the table's ids are its own
 * AUTO_INCREMENT (the original's rows, whose memo names no job, stay as they are). A backup retention
 * deleted loses its row.
 */
async function projectColdBackups(c: Conn, db: string, rows: readonly ColdBackup[], count: Count): Promise<void> {
  if (rows.length === 0) return;
  const table = qt(db, 'cluster_coldbackups');
  const have = new Map<number, RowDataPacket>();
  const clusters = [...new Set(rows.map((r) => r.clusterId))].sort((a, b) => a - b);
  for (const ids of chunks(clusters, ID_BATCH)) {
    for (const r of await selectRows(c, `SELECT id, storage_id, cluster_id, shard_id, backup_type, status, start_ts, end_ts, memo, backup_addr FROM ${table} WHERE cluster_id IN (?) ORDER BY id`, [ids])) {
      const job = coldBackupJob(r.memo);
      if (job !== null && !have.has(job)) have.set(job, r);
    }
  }
  for (const b of rows) {
    const cur = have.get(b.jobId);
    if (b.deleted) {
      if (cur !== undefined) {
        await c.query(`DELETE FROM ${table} WHERE id = ?`, [cur.id]);
        count('cluster_coldbackups', 'deleted', 1);
      }
      continue;
    }
    const values = [b.storageId, b.clusterId, b.shardId, b.backupType, b.status, formatTimestamp(b.startTs, 6), b.endTs === null ? null : formatTimestamp(b.endTs, 6), b.memo, b.backupAddr];
    if (cur === undefined) {
      await c.query(`INSERT INTO ${table} (storage_id, cluster_id, shard_id, backup_type, status, start_ts, end_ts, memo, backup_addr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, values);
      count('cluster_coldbackups', 'inserted', 1);
      continue;
    }
    const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
    const now = [num(cur.storage_id), num(cur.cluster_id), num(cur.shard_id), cellText(cur.backup_type), cellText(cur.status), tsText(cur.start_ts), tsText(cur.end_ts), cellText(cur.memo), cellText(cur.backup_addr)];
    if (now.every((v, i) => v === values[i])) continue;
    await c.query(`UPDATE ${table} SET storage_id = ?, cluster_id = ?, shard_id = ?, backup_type = ?, status = ?, start_ts = ?, end_ts = ?, memo = ?, backup_addr = ? WHERE id = ?`, [...values, cur.id]);
    count('cluster_coldbackups', 'updated', 1);
  }
}

/** A TIMESTAMP(6) cell in the form formatTimestamp writes. */
function tsText(raw: unknown): string | null {
  const text = cellText(raw);
  const ms = text === null ? null : parseTimestamp(text);
  return ms === null ? null : formatTimestamp(ms, 6);
}

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
