// The automatic rebuild's decisions, in process: a node marked needs_rebuild gets one rebuild_node job
// whose paras pass the same checks as an operator's, none while one runs, another only after the retry
// time once one failed, none when auto_rebuild is off.
import t from 'tap';
import { World, type Command } from '../../src/actors/index.js';
import type { Cause } from '../../src/events/envelope.js';
import type { ExecResult } from '../../src/ports/index.js';
import { AutoRebuildReconciler, rebuildJobsOf } from '../../src/shard-ha/auto-rebuild.js';
import type { HaRuntime } from '../../src/shard-ha/ports.js';
import type { HaSettings } from '../../src/shard-ha/settings.js';
import { createLogger } from '../../src/log/logger.js';
import { ev0, Leader } from '../actors/helpers.js';

const L = new Leader(new World());
const { shards } = L.cluster(1);
const shard = shards[0]!;
const [, victim] = L.world.nodesOf(shard);
L.must({ kind: 'node.mark_needs_rebuild', node: victim!, reason: 'errant GTIDs', evidence: ev0 });

const causes: Cause[] = [];
const rt = {
  get world() {
    return L.world;
  },
  execute(cmd: Command, cause: Cause): Promise<ExecResult> {
    causes.push(cause);
    const r = L.check(cmd, cause);
    if (!r.ok) return Promise.resolve({ ok: false, kind: 'refused', refusal: r });
    return Promise.resolve({ ok: true, index: L.index, result: L.must(cmd, cause) });
  },
} as unknown as HaRuntime;
const settings = { autoRebuild: true, autoRebuildRetryMs: 3_600_000, rebuildPvLimitMb: 40 } as HaSettings;
const log = createLogger({ level: 'silent' });
const ctx = { term: 1, signal: new AbortController().signal, log };

t.test('a node that needs a rebuild gets one rebuild_node job, accepted like an operator\'s', async (t) => {
  const r = new AutoRebuildReconciler(rt, settings);
  t.same(r.keys(), [String(victim)], 'the node is a key');
  await r.reconcile(String(victim), ctx);
  const jobs = rebuildJobsOf(L.world, victim!);
  t.equal(jobs.length, 1, 'one job');
  const req = jobs[0]!.request as { rb_nodes: { node: number; need_backup: number; pv_limit: number }[]; allow_pull_from_master: number };
  t.match(req.rb_nodes, [{ node: victim, need_backup: 1, pv_limit: 40 }], 'old data kept aside, the configured rate limit');
  t.equal(req.allow_pull_from_master, 1);
  t.match(causes[0], { system: /^auto_rebuild: node \d+ needs a rebuild/ }, 'started by the system, saying why');
  await r.reconcile(String(victim), ctx);
  t.equal(rebuildJobsOf(L.world, victim!).length, 1, 'no second job while one runs');
});

t.test('after a failed one: none before the retry time, one after', async (t) => {
  const [job] = rebuildJobsOf(L.world, victim!);
  L.must({ kind: 'job.fail', job: job!.id, code: 70042, info: 'no source' });
  // The test leader's clock is in the past: a retry time of years is "not yet".
  await new AutoRebuildReconciler(rt, { ...settings, autoRebuildRetryMs: 1e12 }).reconcile(String(victim), ctx);
  t.equal(rebuildJobsOf(L.world, victim!).length, 1, 'within auto_rebuild_retry_sec: waits');
  await new AutoRebuildReconciler(rt, { ...settings, autoRebuildRetryMs: 0 }).reconcile(String(victim), ctx);
  t.equal(rebuildJobsOf(L.world, victim!).length, 2, 'after it: tries again');
});

t.test('auto_rebuild off: nothing', (t) => {
  t.same(new AutoRebuildReconciler(rt, { ...settings, autoRebuild: false }).keys(), []);
  t.end();
});
