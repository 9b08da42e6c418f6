// Change capture for a table move: triggers on the source tables record the primary key of every row
// written (inserted, updated: old and new key, deleted) in a change log table of the move, in the
// writer's own transaction. The catch-up replays the log by key: it reads the row as the source has it
// now and replaces it on the destination (or deletes it there when the source no longer has it), so
// replaying an entry twice, or out of order, converges to the same rows.
//
// Why not a replication channel from the source: every shard binlogs in GTID domain 0 under
// gtid_strict_mode; the source's transactions applied on the destination would enter its domain-0
// stream out of order and stop the destination's own replicas. The triggers and the log are ordinary
// replicated objects, so they survive a failover of the source shard.
import type { Connection, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { q, qst } from '../metadata/ident.js';
import type { TableShape } from './table-shape.js';

/** The database on the source shard that holds the change logs of running moves. */
export const CAPTURE_DB = 'cluster_mgr_expand';

const logTable = (move: number): string => `log_${move}`;
const qlog = (move: number): string => `${q(CAPTURE_DB, 'database')}.${q(logTable(move), 'table')}`;
const triggerName = (move: number, i: number, op: 'ins' | 'upd' | 'del'): string => `cmx_${move}_${i}_${op}`;

function assertInts(...ns: number[]): void {
  for (const n of ns) if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${n} is not a non-negative integer`);
}

// Keys as text: a BIGINT beyond 2^53 would not survive JSON numbers.
const keyOf = (alias: 'NEW' | 'OLD', s: TableShape): string => `JSON_ARRAY(${s.pk.map((k) => `CAST(${alias}.${q(k, 'column')} AS CHAR)`).join(', ')})`;

/**
 * Creates the change log and the three triggers of every table (`tables[i]` is logged as tbl = i);
 * what exists already is kept, so a rerun changes nothing. Creating a trigger waits for the
 * transactions that write the table: every write after it is logged.
 */
export async function ensureCapture(c: Connection, move: number, tables: readonly TableShape[]): Promise<void> {
  assertInts(move);
  await c.query(`CREATE DATABASE IF NOT EXISTS ${q(CAPTURE_DB, 'database')}`);
  await c.query(`CREATE TABLE IF NOT EXISTS ${qlog(move)} (seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, tbl SMALLINT UNSIGNED NOT NULL, pk LONGTEXT NOT NULL) ENGINE=InnoDB`);
  for (const [i, s] of tables.entries()) {
    const on = qst(s.db, s.table);
    const ins = (values: string): string => `INSERT INTO ${qlog(move)} (tbl, pk) VALUES ${values}`;
    await c.query(`CREATE TRIGGER IF NOT EXISTS ${qst(s.db, triggerName(move, i, 'ins'))} AFTER INSERT ON ${on} FOR EACH ROW ${ins(`(${i}, ${keyOf('NEW', s)})`)}`);
    await c.query(`CREATE TRIGGER IF NOT EXISTS ${qst(s.db, triggerName(move, i, 'upd'))} AFTER UPDATE ON ${on} FOR EACH ROW ${ins(`(${i}, ${keyOf('OLD', s)}), (${i}, ${keyOf('NEW', s)})`)}`);
    await c.query(`CREATE TRIGGER IF NOT EXISTS ${qst(s.db, triggerName(move, i, 'del'))} AFTER DELETE ON ${on} FOR EACH ROW ${ins(`(${i}, ${keyOf('OLD', s)})`)}`);
  }
}

/** Drops the triggers and the change log of the move (whatever of them exists). */
export async function dropCapture(c: Connection, move: number, tables: readonly { db: string }[]): Promise<void> {
  assertInts(move);
  for (const [i, s] of tables.entries()) {
    for (const op of ['ins', 'upd', 'del'] as const) await c.query(`DROP TRIGGER IF EXISTS ${qst(s.db, triggerName(move, i, op))}`);
  }
  await c.query(`DROP TABLE IF EXISTS ${qlog(move)}`);
}

/** Entries not replayed yet. */
export async function pendingChanges(c: Connection, move: number): Promise<number> {
  assertInts(move);
  const [[r]] = await c.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${qlog(move)}`);
  return Number(r!.n);
}

/** The keys of `tables[t]` in the log, not replayed yet. */
export async function pendingKeys(c: Connection | PoolConnection, move: number, t: number): Promise<unknown[][]> {
  assertInts(move, t);
  const [rows] = await c.query<RowDataPacket[]>(`SELECT DISTINCT pk FROM ${qlog(move)} WHERE tbl = ?`, [t]);
  return rows.map((r) => JSON.parse(String(r.pk)) as unknown[]);
}

/** `(a, b) IN ((?, ?), …)` or `a IN (?, …)` with its values, for `keys` of a table. */
export function keyMatch(s: TableShape, keys: readonly unknown[][]): { sql: string; params: unknown[] } {
  if (s.pk.length === 1) return { sql: `${q(s.pk[0]!, 'column')} IN (${keys.map(() => '?').join(', ')})`, params: keys.map((k) => k[0]) };
  const tuple = `(${s.pk.map(() => '?').join(', ')})`;
  return { sql: `(${s.pk.map((k) => q(k, 'column')).join(', ')}) IN (${keys.map(() => tuple).join(', ')})`, params: keys.flat() };
}

/** Told the keys of table `tables[t]` a replay wrote. */
export type KeysSeen = (t: number, keys: readonly unknown[][]) => void;

/** Where each table's rows are read on the source (its name, or the name it was renamed to). */
export type SourceName = (i: number) => string;

/**
 * Replays up to `batch` of the oldest log entries: the rows they name are read on the source and
 * replace those on the destination (in one destination transaction per table), then the entries are
 * deleted. Entries are taken by their seq, not "after the last one": a transaction that took a lower
 * seq may commit later. Returns how many entries were replayed (0: the log was empty). `seen` gets the
 * keys replayed, per table index.
 */
export async function replayChanges(src: Connection, dst: Connection, move: number, tables: readonly TableShape[], sourceName: SourceName, batch = 2_000, seen?: KeysSeen): Promise<number> {
  assertInts(move, batch);
  const [entries] = await src.query<RowDataPacket[]>(`SELECT seq, tbl, pk FROM ${qlog(move)} ORDER BY seq LIMIT ${batch}`);
  if (entries.length === 0) return 0;
  const byTable = new Map<number, Map<string, unknown[]>>();
  for (const e of entries) {
    const t = Number(e.tbl);
    const keys = byTable.get(t) ?? new Map<string, unknown[]>();
    keys.set(String(e.pk), JSON.parse(String(e.pk)) as unknown[]);
    byTable.set(t, keys);
  }
  for (const [t, keys] of byTable) {
    const s = tables[t];
    if (s === undefined) throw new Error(`change log of move ${move} names table ${t}, which the move does not have`);
    const all = [...keys.values()];
    seen?.(t, all);
    for (let i = 0; i < all.length; i += 500) {
      const part = all.slice(i, i + 500);
      const m = keyMatch(s, part);
      const cols = s.columns.map((x) => q(x, 'column')).join(', ');
      const [rows] = await src.query<RowDataPacket[]>({ sql: `SELECT ${cols} FROM ${qst(s.db, sourceName(t))} WHERE ${m.sql}`, rowsAsArray: true }, m.params);
      await dst.beginTransaction();
      try {
        await dst.query(`DELETE FROM ${qst(s.db, s.table)} WHERE ${m.sql}`, m.params);
        if (rows.length > 0) await dst.query(`INSERT INTO ${qst(s.db, s.table)} (${cols}) VALUES ?`, [rows]);
        await dst.commit();
      } catch (e) {
        await dst.rollback().catch(() => undefined);
        throw e;
      }
    }
  }
  await src.query(`DELETE FROM ${qlog(move)} WHERE seq IN (?)`, [entries.map((e) => e.seq as unknown)]);
  return entries.length;
}

export { triggerName };
