// get_expand_table_list (cluster_mgr-api.md §3.24): the tables of a shard an operator may move, read on
// the shard's primary with the manager's storage account. The original's answer put the storage
// database's prefix into the schema part; here the names are the compute-side "db.schema.table" that
// expand_cluster takes.
import mysql from 'mysql2/promise';
import type { World } from '../actors/index.js';
import { largestTables, recentTables } from '../storage-node/table-shape.js';
import { E } from './error-codes.js';
import type { SyncResult } from './emit-route.js';
import type { StorageAccount } from './instance-vars.js';
import { failedAnswer } from './sync-answers.js';

const JOB = 'get_expand_table_list';
/** Tables per storage database (top_size) or in all (top_hit), as the original picked them. */
const PICK = 3;

export async function expandTableList(world: World, acc: StorageAccount, cluster: number, shard: number, policy: string, connectTimeoutMs: number): Promise<SyncResult> {
  const s = world.shard(shard);
  if (s === null || s.cluster !== cluster) return failedAnswer(JOB, 70024, `paras.shard_id: shard ${shard} is not in cluster ${cluster}`);
  const p = s.primary === null ? null : world.node(s.primary);
  if (p === null) return failedAnswer(JOB, 70024, `paras.shard_id: shard ${shard} has no primary at the moment`);
  let c: mysql.Connection | null = null;
  try {
    c = await mysql.createConnection({ host: p.hostaddr, port: p.port, user: acc.user, password: acc.password, connectTimeout: connectTimeoutMs });
    const list = policy === 'top_hit' ? await recentTables(c, PICK) : await largestTables(c, PICK);
    return { status: 'done', error_code: 0, error_info: '', attachment: { table_list: list.join(',') } };
  } catch (e) {
    return failedAnswer(JOB, E.INVALID_REQUEST, `the primary of shard ${shard} (${p.hostaddr}:${p.port}): ${(e as Error).message}`);
  } finally {
    await c?.end().catch(() => undefined);
  }
}
