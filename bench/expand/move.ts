// Runs the real expand_cluster handler (src/jobs/handlers/expand.ts) between two shards of the bench,
// without managers: a JobContext with only the parts the handler uses. Steps run once, in order, and
// their start and end times are recorded; no compute node, so the reroute step writes no routing and
// the bench's own routing switches to the destination when that step has finished.
import type { JobContext } from '../../src/jobs/engine.js';
import { expandCluster } from '../../src/jobs/handlers/expand.js';
import type { LaunchedShard } from '../../src/launcher/index.js';
import { createLogger } from '../../src/log/logger.js';

export interface StepTime {
  step: string;
  from: number;
  to: number;
  result: unknown;
}

export interface MoveRun {
  result: unknown;
  steps: StepTime[];
}

/**
 * Moves `tables` (db.schema.table) from shard `src` to shard `dst` (ids 1 and 2 of `shards`) as job
 * `job`, with the storage account `admin`; `onStep` is called as each step ends.
 */
export async function runMove(opts: { job: number; shards: Record<number, LaunchedShard>; src: number; dst: number; tables: string[]; admin: { user: string; password: string }; onStep: (s: StepTime) => void }): Promise<MoveRun> {
  const recorded: { step: string; ok: boolean; info: string }[] = [];
  const times: StepTime[] = [];
  const node = (shard: number) => ({ hostaddr: opts.shards[shard]!.primary.host, port: opts.shards[shard]!.primary.port });
  const cfg = {
    metaSeeds: [],
    str: (k: string) => ({ meta_user: opts.admin.user, meta_pwd: opts.admin.password })[k] ?? '',
    int: () => 10,
  };
  const ctx = {
    job: {
      id: opts.job,
      request: { cluster_id: '1', src_shard_id: String(opts.src), dst_shard_id: String(opts.dst), table_list: opts.tables, drop_old_table: '1' },
      steps: recorded,
    },
    world: {
      primaryOf: (shard: number) => shard,
      node,
      clusterSecret: () => null,
      compsOf: () => [],
      comp: () => null,
    },
    cfg,
    signal: new AbortController().signal,
    log: createLogger({ level: 'silent' }),
    report: () => Promise.resolve(),
    async step<T>(step: string, _total: number, fn: () => Promise<T>): Promise<T> {
      const from = Date.now();
      const result = await fn();
      const t: StepTime = { step, from, to: Date.now(), result };
      recorded.push({ step, ok: true, info: JSON.stringify(result ?? null) });
      times.push(t);
      opts.onStep(t);
      return result;
    },
  } as unknown as JobContext;
  return { result: await expandCluster(ctx), steps: times };
}
