// What delete_cluster removes from kunlun_metadata_db itself: the per-cluster log tables
// (commit_log_<name>, ddl_ops_log_<name>, §3.2 step 5). Rows follow the world through the projection;
// the tables are dropped once the projection has caught up with the deletion, so a projection run that
// started before it cannot create them again.
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { dropClusterLogTables } from '../metadata/index.js';
import { checkLeading } from '../reconcile/host.js';
import type { JobContext } from './engine.js';
import { setTimeout as sleep } from 'node:timers/promises';

export async function dropLogTables(ctx: JobContext, clusterName: string, waitMs = 30_000): Promise<void> {
  const cfg = ctx.cfg;
  if (cfg.metaSeeds.length === 0) return;
  const upTo = ctx.world.applied;
  const deadline = Date.now() + waitMs;
  while (ctx.runtime.metadata.lastProjected.index < upTo && Date.now() < deadline) {
    checkLeading(ctx.signal);
    await sleep(100);
  }
  const errors: string[] = [];
  for (const seed of cfg.metaSeeds) {
    checkLeading(ctx.signal);
    let c: mysql.Connection | null = null;
    try {
      c = await mysql.createConnection({
        host: seed.host,
        port: seed.port,
        user: cfg.str('meta_user'),
        password: cfg.str('meta_pwd'),
        connectTimeout: cfg.int('mysql_connect_timeout') * 1000,
      });
      const [rows] = await c.query<RowDataPacket[]>('SELECT @@GLOBAL.read_only AS ro');
      if (Number(rows[0]?.ro) !== 0 && cfg.metaSeeds.length > 1) {
        errors.push(`${seed.host}:${seed.port} is read-only`);
        continue;
      }
      await dropClusterLogTables(c, clusterName);
      return;
    } catch (e) {
      errors.push(`${seed.host}:${seed.port}: ${(e as Error).message}`);
    } finally {
      await c?.end().catch(() => undefined);
    }
  }
  throw new Error(`cannot drop the log tables of ${clusterName}: no writable metadata node (${errors.join('; ')})`);
}
