// The cluster manager's side of commit_log_<cluster>: reading the compute nodes' 2PC decisions, claiming
// an abort (fenced twice: by the unique key against a late commit from the compute node, and by the
// leader term stored in cluster_mgr_projection against an older leader), and pruning by key range.
// txn_id values are passed as BigInt: mysql2 writes them as exact integer literals.
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { DEFAULT_DATABASE, assertIdent, commitLogTable, qt } from './ident.js';
import { commitLogPartitions } from './log-tables.js';
import type { Conn } from './session.js';

export type TxnDecision = 'commit' | 'abort';

/** One global transaction's commit-log key. */
export interface CommitLogKey {
  compNodeId: number;
  /** (start_ts << 32) | local_xid */
  txnId: bigint;
}

export interface CommitLogOptions {
  database?: string;
}

const ER_DUP_ENTRY = 1062;
/** ER_NO_PARTITION_FOR_GIVEN_VALUE: the compute node has no p<id> partition. */
const ER_NO_PARTITION = 1526;

/** A newer leader has written the metadata shard: this member's claim is refused. */
export class ClaimRefusedError extends Error {
  override name = 'ClaimRefusedError';
}

function tableOf(cluster: string, o: CommitLogOptions): string {
  return qt(assertIdent(o.database ?? DEFAULT_DATABASE, 'database').toLowerCase(), commitLogTable(cluster));
}

function asDecision(v: unknown): TxnDecision | null {
  return v === 'commit' || v === 'abort' ? v : null;
}

/** The stored decision for one key, or null when the compute node (or anyone) has written none. */
export async function readDecision(c: Conn, cluster: string, k: CommitLogKey, o: CommitLogOptions = {}): Promise<TxnDecision | null> {
  const [rows] = await c.query<RowDataPacket[]>(`SELECT next_txn_cmd FROM ${tableOf(cluster, o)} WHERE comp_node_id = ? AND txn_id = ?`, [
    k.compNodeId,
    k.txnId,
  ]);
  return asDecision(rows[0]?.next_txn_cmd);
}

export type ClaimResult =
  | { claimed: true }
  /** The key already had a row (the compute node's commit won the race, or an earlier claim). */
  | { claimed: false; stored: TxnDecision | null }
  /** The compute node has no partition: it cannot have logged a commit, and no claim can be stored. */
  | { claimed: false; noPartition: true };

/**
 * Inserts an `abort` row for the key, unless a leader of a newer term has written the metadata shard.
 * After `claimed: true` no compute node can log a commit for the key: rolling back is safe.
 */
export async function claimAbort(c: Conn, cluster: string, k: CommitLogKey, term: number, o: CommitLogOptions = {}): Promise<ClaimResult> {
  const db = assertIdent(o.database ?? DEFAULT_DATABASE, 'database').toLowerCase();
  try {
    const [r] = await c.query<ResultSetHeader>(
      `INSERT INTO ${tableOf(cluster, o)} (comp_node_id, txn_id, next_txn_cmd) SELECT ?, ?, 'abort' FROM DUAL ` +
        `WHERE NOT EXISTS (SELECT 1 FROM ${qt(db, 'cluster_mgr_projection')} WHERE id = 1 AND term > ?)`,
      [k.compNodeId, k.txnId, term],
    );
    if (r.affectedRows === 1) return { claimed: true };
    throw new ClaimRefusedError(`abort claim of term ${term} refused: a newer leader has written the metadata shard`);
  } catch (e) {
    const errno = (e as { errno?: unknown }).errno;
    if (errno === ER_DUP_ENTRY) return { claimed: false, stored: await readDecision(c, cluster, k, o) };
    if (errno === ER_NO_PARTITION) return { claimed: false, noPartition: true };
    throw e;
  }
}

export interface PruneOptions extends CommitLogOptions {
  /** Rows with txn_id below this are candidates: (cutoff start_ts) << 32. */
  belowTxnId: bigint;
  /** And written (prepare_ts) at least this long ago, by the metadata shard's clock. */
  minAgeSec: number;
  /** Keys a prepared branch still needs: never deleted. */
  keep: readonly CommitLogKey[];
  /** Rows per DELETE. Default 1000. */
  batch?: number;
  /** Checked between batches (leadership). */
  beforeBatch?: () => void;
}

/**
 * Deletes old decisions by key range, in batches, one compute node (partition) at a time so each batch
 * is a range scan of the (comp_node_id, txn_id) unique key; returns the number of rows deleted.
 */
export async function pruneCommitLog(c: Conn, cluster: string, o: PruneOptions): Promise<number> {
  const batch = o.batch ?? 1000;
  const nodes = await commitLogPartitions(c, cluster, o);
  let total = 0;
  for (const cn of nodes) {
    const keep = o.keep.filter((k) => k.compNodeId === cn);
    // Only the number of placeholders comes from the data; the values are parameters.
    const notKept = keep.length > 0 ? ` AND txn_id NOT IN (${keep.map(() => '?').join(', ')})` : '';
    const sql = `DELETE FROM ${tableOf(cluster, o)} WHERE comp_node_id = ? AND txn_id < ? AND prepare_ts < NOW(6) - INTERVAL ? SECOND${notKept} LIMIT ?`;
    const params = [cn, o.belowTxnId, o.minAgeSec, ...keep.map((k) => k.txnId), batch];
    for (;;) {
      o.beforeBatch?.();
      const [r] = await c.query<ResultSetHeader>(sql, params);
      total += r.affectedRows;
      if (r.affectedRows < batch) break;
    }
  }
  return total;
}
