// What delete_cluster removes from kunlun_metadata_db itself: the per-cluster log tables
// (commit_log_<name>, ddl_ops_log_<name>, §3.2 step 5). Rows follow the world through the projection;
// the tables are dropped once the projection has caught up with the deletion, so a projection run that
// started before it cannot create them again.
import type { Connection } from 'mysql2/promise';
import { connectWritableMeta, dropClusterLogTables, metaConnectOptions } from '../metadata/index.js';
import { checkLeading } from '../reconcile/host.js';
import type { JobContext } from './engine.js';
import { setTimeout as sleep } from 'node:timers/promises';

export async function dropLogTables(ctx: JobContext, clusterName: string, waitMs = 30_000): Promise<void> {
  const cfg = ctx.cfg;
  if (cfg.metaSeeds.length === 0) return;
  const upTo = ctx.world.applied;
  const deadline = Date.now() + waitMs;
  while (ctx.projection.lastProjected.index < upTo && Date.now() < deadline) {
    checkLeading(ctx.signal);
    await sleep(100);
  }
  checkLeading(ctx.signal);
  let c: Connection;
  try {
    c = await connectWritableMeta(metaConnectOptions(cfg), ctx.signal);
  } catch (e) {
    checkLeading(ctx.signal);
    throw new Error(`cannot drop the log tables of ${clusterName}: ${(e as Error).message}`, { cause: e });
  }
  try {
    await dropClusterLogTables(c, clusterName);
  } finally {
    await c.end().catch(() => undefined);
  }
}
