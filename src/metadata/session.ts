// Session settings our metadata statements rely on, set for the duration of one call and restored
// after it, so the caller's connection is left as it was.
import type { Connection, RowDataPacket } from 'mysql2/promise';

export type Conn = Pick<Connection, 'query'>;

export interface SessionSettings {
  /** TIMESTAMP columns are read and written in UTC, so epoch ms round-trip on any server time zone. */
  utc?: boolean;
  /** Off while projecting: the topology was validated as a whole, and rows that others keep (job
   *  history, table moves) must not block deleting a shard they once referenced. */
  foreignKeyChecks?: boolean;
}

/**
 * mysql2 puts the whole statement, values substituted, into error.sql; for the topology tables that
 * includes passwords. Errors leaving this module carry the statement's shape only.
 */
export function scrubSqlError(e: unknown): unknown {
  if (e !== null && typeof e === 'object' && 'sql' in e) {
    const shape = typeof e.sql === 'string' ? e.sql.slice(0, 60).replace(/'.*$/s, '') : '';
    Object.assign(e, { sql: `${shape}… (values withheld)` });
  }
  return e;
}

/** Statements here rely on one session (transactions, session variables): a pool would scatter them. */
export function assertSingleConnection(c: Conn): void {
  if ('getConnection' in (c as object)) throw new TypeError('pass one connection (pool.getConnection()), not a pool');
}

export async function withSession<T>(c: Conn, s: SessionSettings, fn: () => Promise<T>): Promise<T> {
  assertSingleConnection(c);
  const [rows] = await c.query<RowDataPacket[]>('SELECT @@SESSION.time_zone AS tz, @@SESSION.foreign_key_checks AS fk');
  const before = rows[0]!;
  if (s.utc) await c.query('SET SESSION time_zone = ?', ['+00:00']);
  if (s.foreignKeyChecks !== undefined) await c.query('SET SESSION foreign_key_checks = ?', [s.foreignKeyChecks ? 1 : 0]);
  try {
    return await fn();
  } catch (e) {
    throw scrubSqlError(e);
  } finally {
    // Best effort: if the connection died there is nothing left to restore.
    await c.query('SET SESSION time_zone = ?, SESSION foreign_key_checks = ?', [String(before.tz), Number(before.fk)]).catch(() => undefined);
  }
}

/** SELECT with TIMESTAMP/DATETIME values as text (exact, time-zone free parsing). */
export async function selectRows(c: Conn, sql: string, params: unknown[] = []): Promise<RowDataPacket[]> {
  const [rows] = await c.query<RowDataPacket[]>({ sql, values: params, dateStrings: true });
  return rows;
}
