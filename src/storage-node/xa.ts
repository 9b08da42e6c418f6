// XA statements on a storage node, and KunlunBase's global transaction naming: the compute node
// names each branch '<comp_node_id>-<start_ts_sec>-<local_xid>' and keys its commit-log row by
// (comp_node_id, txn_id = start_ts_sec << 32 | local_xid).
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Sql } from './flavor.js';

export interface KunlunXid {
  compNodeId: number;
  startTs: number;
  localXid: number;
}

export function formatXid(x: KunlunXid): string {
  return `${x.compNodeId}-${x.startTs}-${x.localXid}`;
}

/** Parses a branch name; null for XA transactions KunlunBase did not start. */
export function parseXid(text: string): KunlunXid | null {
  const m = /^'?(\d{1,10})-(\d{1,10})-(\d{1,10})'?$/.exec(text.trim());
  if (!m) return null;
  const x = { compNodeId: Number(m[1]), startTs: Number(m[2]), localXid: Number(m[3]) };
  if (x.startTs > 0xffff_ffff || x.localXid > 0xffff_ffff) return null;
  return x;
}

/** The commit-log key's txn_id, as a decimal string (it does not fit a double). */
export function commitLogTxnId(x: Pick<KunlunXid, 'startTs' | 'localXid'>): string {
  return ((BigInt(x.startTs) << 32n) | BigInt(x.localXid)).toString();
}

/** Prepared XA branches on the node (XA RECOVER), as their gtrid strings. */
export async function xaRecover(c: Connection): Promise<string[]> {
  const [rows] = await c.query<RowDataPacket[]>('XA RECOVER');
  return rows.map((r) => {
    const data = r.data as Buffer | string;
    const g = Number(r.gtrid_length);
    const s = Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
    return s.slice(0, g);
  });
}

export async function xaCommit(c: Connection, xid: string): Promise<void> {
  await c.query('XA COMMIT ?', [xid]);
}

export async function xaRollback(c: Connection, xid: string): Promise<void> {
  await c.query('XA ROLLBACK ?', [xid]);
}

/** The commit-log key of a branch, txn_id exact as a BigInt (for parameters). */
export function commitLogKey(x: KunlunXid): { compNodeId: number; txnId: bigint } {
  return { compNodeId: x.compNodeId, txnId: (BigInt(x.startTs) << 32n) | BigInt(x.localXid) };
}

/** XA RECOVER through a storage node session (see StorageNode.run). */
export async function recoverBranches(sql: Sql): Promise<string[]> {
  const rows = await sql.query('XA RECOVER');
  return rows.map((r) => {
    const data = r.data as Buffer | string;
    const s = Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
    return s.slice(0, Number(r.gtrid_length));
  });
}

const ER_XAER_NOTA = 1397;

/**
 * XA COMMIT or XA ROLLBACK of a prepared branch from a session that does not own it. 'unknown' is the
 * server's XAER_NOTA: the branch is already ended, or a live session still owns it (MariaDB refuses
 * to end another connection's branch); either way there is nothing to do now.
 */
export async function endBranch(sql: Sql, xid: string, how: 'commit' | 'rollback'): Promise<'ended' | 'unknown'> {
  try {
    await sql.query(how === 'commit' ? 'XA COMMIT ?' : 'XA ROLLBACK ?', [xid]);
    return 'ended';
  } catch (e) {
    if ((e as { errno?: unknown }).errno === ER_XAER_NOTA) return 'unknown';
    throw e;
  }
}
