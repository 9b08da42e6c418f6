// Per-cluster tables the compute nodes write: commit_log_<cluster> (the 2PC decisions, LIST-partitioned
// by compute node, one partition p<id> per compute node) and ddl_ops_log_<cluster>. DDL commits on its
// own, so these run outside the projection transaction; each is idempotent and only adds, except the
// explicit drop helpers that delete_comp/delete_cluster call.
import type { RowDataPacket } from 'mysql2/promise';
import { DEFAULT_DATABASE, assertIdent, commitLogTable, ddlLogTable, isValidClusterTableSuffix, partitionName, q, qt } from './ident.js';
import { renderCreateTable, tableSpec } from './schema-spec.js';
import type { Conn } from './session.js';
import type { Topology } from './topology.js';

export interface LogTableOptions {
  database?: string;
}

const ER_SAME_NAME_PARTITION = 1517;
const ER_DROP_PARTITION_NON_EXISTENT = 1507;

function dbOf(opts: LogTableOptions): string {
  return assertIdent(opts.database ?? DEFAULT_DATABASE, 'database').toLowerCase();
}

async function tableExists(c: Conn, db: string, table: string): Promise<boolean> {
  const [rows] = await c.query<RowDataPacket[]>('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [db, table]);
  return rows.length > 0;
}

/** Creates commit_log_<cluster> and ddl_ops_log_<cluster> when missing; returns the tables created. */
export async function ensureClusterLogTables(c: Conn, clusterName: string, opts: LogTableOptions = {}): Promise<string[]> {
  const db = dbOf(opts);
  const commit = commitLogTable(clusterName);
  const ddl = ddlLogTable(clusterName);
  const created: string[] = [];
  if (!(await tableExists(c, db, ddl))) {
    await c.query(`CREATE TABLE IF NOT EXISTS ${qt(db, ddl)} LIKE ${qt(db, 'ddl_ops_log_template_table')}`);
    created.push(ddl);
  }
  if (!(await tableExists(c, db, commit))) {
    // Not LIKE the template: MariaDB refuses CREATE TABLE ... LIKE for a LIST partitioning whose only
    // partition is VALUES IN (NULL). The template's own definition gives the same table.
    await c.query(renderCreateTable(db, tableSpec('commit_log_template_table'), commit));
    created.push(commit);
  }
  return created;
}

/** The compute node partitions (p<id>) a cluster's commit log has. */
export async function commitLogPartitions(c: Conn, clusterName: string, opts: LogTableOptions = {}): Promise<number[]> {
  const db = dbOf(opts);
  const [rows] = await c.query<RowDataPacket[]>(
    'SELECT DISTINCT PARTITION_NAME AS p FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND PARTITION_NAME IS NOT NULL',
    [db, commitLogTable(clusterName)],
  );
  return rows
    .map((r) => /^p(\d+)$/.exec(String(r.p)))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Adds partition p<compNodeId> to commit_log_<cluster>; false when it was already there. */
export async function ensureCommitLogPartition(c: Conn, clusterName: string, compNodeId: number, opts: LogTableOptions = {}): Promise<boolean> {
  const db = dbOf(opts);
  const part = partitionName(compNodeId);
  if ((await commitLogPartitions(c, clusterName, opts)).includes(compNodeId)) return false;
  try {
    await c.query(`ALTER TABLE ${qt(db, commitLogTable(clusterName))} ADD PARTITION (PARTITION ${q(part, 'partition')} VALUES IN (?))`, [compNodeId]);
    return true;
  } catch (e) {
    // Someone (another leader, a retry) added it between our look and our ALTER: same outcome.
    if ((e as { errno?: number }).errno === ER_SAME_NAME_PARTITION) return false;
    throw e;
  }
}

/** Drops partition p<compNodeId> and with it that compute node's commit log rows (delete_comp). */
export async function dropCommitLogPartition(c: Conn, clusterName: string, compNodeId: number, opts: LogTableOptions = {}): Promise<boolean> {
  const db = dbOf(opts);
  const part = partitionName(compNodeId);
  try {
    await c.query(`ALTER TABLE ${qt(db, commitLogTable(clusterName))} DROP PARTITION ${q(part, 'partition')}`);
    return true;
  } catch (e) {
    if ((e as { errno?: number }).errno === ER_DROP_PARTITION_NON_EXISTENT) return false;
    throw e;
  }
}

/** Drops both per-cluster log tables (delete_cluster, after the cluster is gone). */
export async function dropClusterLogTables(c: Conn, clusterName: string, opts: LogTableOptions = {}): Promise<void> {
  const db = dbOf(opts);
  await c.query(`DROP TABLE IF EXISTS ${qt(db, commitLogTable(clusterName))}, ${qt(db, ddlLogTable(clusterName))}`);
}

export interface EnsureLogTablesResult {
  createdTables: string[];
  addedPartitions: { cluster: string; compNodeId: number }[];
  /** Clusters whose names cannot be part of a table name; their logs are not managed. */
  skippedClusters: string[];
}

/** Every cluster of a topology has its log tables, every compute node its partition. */
export async function ensureLogTablesFor(c: Conn, t: Topology, opts: LogTableOptions = {}): Promise<EnsureLogTablesResult> {
  const out: EnsureLogTablesResult = { createdTables: [], addedPartitions: [], skippedClusters: [] };
  const byId = new Map(t.clusters.map((cl) => [cl.id, cl]));
  for (const cl of [...t.clusters].sort((a, b) => a.id - b.id)) {
    if (!isValidClusterTableSuffix(cl.name)) {
      out.skippedClusters.push(cl.name);
      continue;
    }
    out.createdTables.push(...(await ensureClusterLogTables(c, cl.name, opts)));
    const have = new Set(await commitLogPartitions(c, cl.name, opts));
    for (const n of t.computeNodes.filter((x) => x.clusterId === cl.id).sort((a, b) => a.id - b.id)) {
      if (have.has(n.id)) continue;
      if (await ensureCommitLogPartition(c, cl.name, n.id, opts)) out.addedPartitions.push({ cluster: byId.get(n.clusterId)!.name, compNodeId: n.id });
    }
  }
  return out;
}
