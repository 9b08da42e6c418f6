// The bulk copy of a table move and its check. The copy reads the source in primary-key chunks on
// several connections at once and inserts each chunk on the destination with one multi-row INSERT.
// It needs no snapshot: change capture (table-capture.ts) started before it, and the catch-up replays
// every row written since by reading it again, so a chunk read at any moment converges.
//
// The check (like Vitess' VDiff) compares, chunk by chunk on both sides, the row count and an
// order-independent checksum of the rows (BIT_XOR of CRC32 over every stored column, NULLs marked).
import type { Connection, Pool, RowDataPacket } from 'mysql2/promise';
import { q, qst } from '../metadata/ident.js';
import { keyMatch } from './table-capture.js';
import type { TableShape } from './table-shape.js';

/** A part of a table: a range of its integer key, or (other keys) the whole table. */
export interface Chunk {
  lo: string | null;
  hi: string | null;
}

/** Ranges of the integer key holding about `rows` rows each (the first and last open-ended, so every row
 *  of the other side falls in one), from this side's min, max and row count. */
export async function chunksOf(c: Connection | Pool, s: TableShape, rows: number): Promise<Chunk[]> {
  if (!s.intPk) return [{ lo: null, hi: null }];
  const k = q(s.pk[0]!, 'column');
  const [[r]] = await c.query<RowDataPacket[]>(`SELECT CAST(MIN(${k}) AS CHAR) AS lo, CAST(MAX(${k}) AS CHAR) AS hi, COUNT(*) AS n FROM ${qst(s.db, s.table)}`);
  // An empty table is one open chunk: compared with the other side's whole table, never skipped.
  if (r!.lo === null) return [{ lo: null, hi: null }];
  const lo = BigInt(String(r!.lo));
  const hi = BigInt(String(r!.hi));
  const n = BigInt(Math.max(1, Number(r!.n)));
  const span = (hi - lo + 1n) * BigInt(rows) / n;
  const step = span < 1n ? 1n : span;
  const out: Chunk[] = [];
  for (let a = lo; a <= hi; a += step) {
    const b = a + step - 1n > hi ? hi : a + step - 1n;
    // The last chunk is open-ended: rows the catch-up adds beyond the old max are counted too.
    out.push({ lo: out.length === 0 ? null : String(a), hi: b === hi ? null : String(b) });
  }
  return out;
}

/** Whether the row with primary key `key` falls in the chunk. */
export function inChunk(s: TableShape, ch: Chunk, key: readonly unknown[]): boolean {
  if (!s.intPk) return true;
  const k = BigInt(String(key[0]));
  return (ch.lo === null || k >= BigInt(ch.lo)) && (ch.hi === null || k <= BigInt(ch.hi));
}

/** The index of the chunk of `chunks` (chunksOf of the table: open at both ends) that holds `key`. */
export function chunkIndexOf(s: TableShape, chunks: readonly Chunk[], key: readonly unknown[]): number {
  const i = chunks.findIndex((ch) => inChunk(s, ch, key));
  return i < 0 ? chunks.length - 1 : i;
}

function where(s: TableShape, ch: Chunk): { sql: string; params: string[] } {
  if (!s.intPk) return { sql: '1', params: [] };
  const k = q(s.pk[0]!, 'column');
  const parts: string[] = [];
  const params: string[] = [];
  if (ch.lo !== null) {
    parts.push(`${k} >= ?`);
    params.push(ch.lo);
  }
  if (ch.hi !== null) {
    parts.push(`${k} <= ?`);
    params.push(ch.hi);
  }
  return { sql: parts.length === 0 ? '1' : parts.join(' AND '), params };
}

/** Runs `work` on every item with at most `parallel` at a time; the first failure stops the rest. */
export async function inParallel<T>(items: readonly T[], parallel: number, work: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  const state: { failed: Error | null } = { failed: null };
  const worker = async (): Promise<void> => {
    while (state.failed === null && next < items.length) {
      signal?.throwIfAborted();
      const item = items[next++]!;
      try {
        await work(item);
      } catch (e) {
        state.failed ??= e instanceof Error ? e : new Error(String(e));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, items.length)) }, worker));
  if (state.failed !== null) throw state.failed;
}

const BATCH = 2_000;

/**
 * Copies one chunk: keyset pages of BATCH rows in key order from `src`, each inserted on `dst` with one
 * statement. Returns the rows copied.
 */
export async function copyChunk(src: Pool, dst: Pool, s: TableShape, ch: Chunk): Promise<number> {
  const cols = s.columns.map((x) => q(x, 'column')).join(', ');
  const keys = s.pk.map((k) => q(k, 'column'));
  const w = where(s, ch);
  let after: unknown[] | null = null;
  let copied = 0;
  for (;;) {
    const page: string = after === null ? '' : ` AND (${keys.join(', ')}) > (${keys.map(() => '?').join(', ')})`;
    const [rows] = await src.query<RowDataPacket[]>(
      { sql: `SELECT ${cols} FROM ${qst(s.db, s.table)} WHERE ${w.sql}${page} ORDER BY ${keys.join(', ')} LIMIT ${BATCH}`, rowsAsArray: true },
      [...w.params, ...(after ?? [])],
    );
    if (rows.length === 0) return copied;
    await dst.query(`INSERT INTO ${qst(s.db, s.table)} (${cols}) VALUES ?`, [rows]);
    copied += rows.length;
    if (rows.length < BATCH) return copied;
    const last = rows[rows.length - 1] as unknown as unknown[];
    after = s.pk.map((k) => last[s.columns.indexOf(k)]);
  }
}

export interface ChunkSum {
  rows: number;
  crc: string;
}

/** Row count and checksum of a chunk of `table` (the table's own name, or the name it was renamed to),
 *  leaving out the rows with the keys `except`. */
export function chunkSum(c: Connection | Pool, s: TableShape, table: string, ch: Chunk, except: readonly unknown[][] = []): Promise<ChunkSum> {
  const w = where(s, ch);
  if (except.length === 0) return rowsSum(c, s, table, w);
  const k = keyMatch(s, except);
  return rowsSum(c, s, table, { sql: `(${w.sql}) AND NOT (${k.sql})`, params: [...w.params, ...k.params] });
}

/** Row count and checksum of the rows of `table` with these primary keys. */
export function keysSum(c: Connection | Pool, s: TableShape, table: string, keys: readonly unknown[][]): Promise<ChunkSum> {
  return rowsSum(c, s, table, keyMatch(s, keys));
}

async function rowsSum(c: Connection | Pool, s: TableShape, table: string, w: { sql: string; params: unknown[] }): Promise<ChunkSum> {
  const cols = s.columns.map((x) => q(x, 'column'));
  const nulls = `CONCAT(${cols.map((x) => `ISNULL(${x})`).join(', ')})`;
  const [[r]] = await c.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n, CAST(COALESCE(BIT_XOR(CRC32(CONCAT_WS('#', ${cols.join(', ')}, ${nulls}))), 0) AS CHAR) AS x FROM ${qst(s.db, table)} WHERE ${w.sql}`,
    w.params,
  );
  return { rows: Number(r!.n), crc: String(r!.x) };
}

/** Empties the destination table (a rerun of the copy starts over). */
export async function emptyTable(c: Connection | Pool, s: TableShape): Promise<void> {
  await c.query(`TRUNCATE TABLE ${qst(s.db, s.table)}`);
}
