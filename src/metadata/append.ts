// Append-only audit rows (rbr_consfailover: the switch-over history XPanel shows), written at most once
// per idempotency key: a retried append, or the same append by a new leader, finds the key already
// claimed in cluster_mgr_appends and returns the row written the first time.
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { checkValue, formatTimestamp, type Codec } from './codec.js';
import { DEFAULT_DATABASE, assertIdent, qt } from './ident.js';
import { withSession, type Conn } from './session.js';

export class AppendError extends Error {
  override name = 'AppendError';
  constructor(readonly problems: string[]) {
    super(`invalid append: ${problems.join('; ')}`);
  }
}

/** One step of an RBR failover, as the original's HA module records it. */
export interface FailoverRow {
  /** The failed master, "ip_port". */
  host: string;
  shardId: number;
  clusterId: number;
  /** Groups the steps of one failover; XPanel lists failovers by it. */
  taskId: string;
  step: string;
  newMasterHost: string | null;
  description: string | null;
  /** JSON text; XPanel reads `sw_type` from it. */
  consfailoverMsg: string | null;
  /** Epoch ms. */
  timestamp: number;
  /** 0 = success; XPanel raises an alarm for anything else. */
  errCode: number;
  errMsg: string | null;
}

const FAILOVER_FIELDS: { field: keyof FailoverRow; column: string; codec: Codec }[] = [
  { field: 'host', column: 'host', codec: { kind: 'str', nullable: false, maxLen: 512, nonEmpty: true } },
  { field: 'shardId', column: 'shard_id', codec: { kind: 'int', nullable: false, min: 0, max: 4_294_967_295 } },
  { field: 'clusterId', column: 'cluster_id', codec: { kind: 'int', nullable: false, min: 0, max: 4_294_967_295 } },
  { field: 'taskId', column: 'taskid', codec: { kind: 'str', nullable: false, maxLen: 128, nonEmpty: true } },
  { field: 'step', column: 'step', codec: { kind: 'str', nullable: false, maxLen: 128 } },
  { field: 'newMasterHost', column: 'new_master_host', codec: { kind: 'str', nullable: true, maxLen: 512 } },
  { field: 'description', column: 'description', codec: { kind: 'str', nullable: true, maxLen: 65_535 } },
  { field: 'consfailoverMsg', column: 'consfailover_msg', codec: { kind: 'str', nullable: true, maxLen: 65_535 } },
  { field: 'timestamp', column: 'timestamp', codec: { kind: 'ts', nullable: false, precision: 6 } },
  { field: 'errCode', column: 'err_code', codec: { kind: 'int', nullable: false, min: -2_147_483_648, max: 2_147_483_647 } },
  { field: 'errMsg', column: 'err_msg', codec: { kind: 'str', nullable: true, maxLen: 65_535 } },
];

export const FAILOVER_COLUMNS: readonly string[] = FAILOVER_FIELDS.map((f) => f.column);

/** An idempotency key: printable ASCII, at most 191 characters (e.g. "failover/<raft index>/<step>"). */
const KEY = /^[\x21-\x7e]{1,191}$/;

export interface AppendResult {
  id: number;
  /** false when the key had been used: nothing was written this time. */
  inserted: boolean;
}

export interface AppendOptions {
  database?: string;
}

export async function appendFailoverRow(c: Conn, key: string, row: FailoverRow, opts: AppendOptions = {}): Promise<AppendResult> {
  const problems: string[] = [];
  if (typeof key !== 'string' || !KEY.test(key)) problems.push('key must be 1-191 printable ASCII characters');
  for (const f of FAILOVER_FIELDS) {
    const why = checkValue(f.codec, row[f.field]);
    if (why) problems.push(`${f.field} ${why}`);
  }
  if (problems.length) throw new AppendError(problems);
  const values = FAILOVER_FIELDS.map((f) => {
    const v = row[f.field];
    return f.codec.kind === 'ts' ? formatTimestamp(v as number, 6) : v;
  });
  return appendOnce(c, opts.database ?? DEFAULT_DATABASE, 'rbr_consfailover', key, FAILOVER_COLUMNS, values);
}

async function appendOnce(
  c: Conn,
  database: string,
  table: string,
  key: string,
  columns: readonly string[],
  values: (string | number | null)[],
): Promise<AppendResult> {
  const db = assertIdent(database, 'database');
  const appends = qt(db, 'cluster_mgr_appends');
  return withSession(c, { utc: true }, async () => {
    await c.query('START TRANSACTION');
    try {
      // Claim the key first: a concurrent append of the same key waits on this row and then sees it.
      const [claim] = await c.query<ResultSetHeader>(`INSERT IGNORE INTO ${appends} (idem_key, table_name) VALUES (?, ?)`, [key, table]);
      if (claim.affectedRows === 0) {
        const [rows] = await c.query<RowDataPacket[]>(`SELECT table_name, row_id FROM ${appends} WHERE idem_key = ?`, [key]);
        await c.query('COMMIT');
        const r = rows[0]!;
        if (String(r.table_name) !== table) throw new Error(`idempotency key ${key} was used for ${String(r.table_name)}, not ${table}`);
        return { id: Number(r.row_id), inserted: false };
      }
      const cols = columns.map((x) => `\`${assertIdent(x, 'column')}\``).join(', ');
      const [ins] = await c.query<ResultSetHeader>(
        `INSERT INTO ${qt(db, table)} (${cols}) VALUES (${columns.map(() => '?').join(', ')})`,
        values,
      );
      await c.query(`UPDATE ${appends} SET row_id = ? WHERE idem_key = ?`, [ins.insertId, key]);
      await c.query('COMMIT');
      return { id: ins.insertId, inserted: true };
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  });
}
