// Automatic rebuild (auto_rebuild, on by default): a node the HA logic marked needs_rebuild (a former
// primary holding transactions the new primary lacks) is rebuilt by a rebuild_node job the leader
// starts itself, visible to operators like any job (get_status, cluster_general_job_log, the events).
// The old data is kept aside on the node's host (need_backup), so nothing an operator may want to
// inspect is destroyed. A failed automatic rebuild is tried again after auto_rebuild_retry_sec; an
// operator's own rebuild_node of the node counts the same.
import type { JobView, NodeView, World } from '../actors/index.js';
import type { LeaderContext, Reconciler } from '../reconcile/host.js';
import { checkLeading } from '../reconcile/host.js';
import type { HaRuntime } from './ports.js';
import type { HaSettings } from './settings.js';

/** The rebuild_node jobs that name a node, newest first. */
export function rebuildJobsOf(w: World, node: number): JobView[] {
  const out: JobView[] = [];
  const ids = w.ids('job');
  for (let i = ids.length - 1; i >= 0; i--) {
    const j = w.job(Number(ids[i]));
    if (j?.jobType !== 'rebuild_node') continue;
    const r = j.request as { rb_nodes?: { node?: unknown }[] } | null;
    if (r?.rb_nodes?.some((n) => n.node === node) === true) out.push(j);
  }
  return out;
}

export class AutoRebuildReconciler implements Reconciler {
  readonly name = 'auto-rebuild';

  constructor(
    private readonly rt: HaRuntime,
    private readonly s: HaSettings,
  ) {}

  /** A node waiting for a rebuild, in an rbr shard that has another primary and no task running. */
  private candidate(id: number): NodeView | null {
    if (!this.s.autoRebuild) return null;
    const w = this.rt.world;
    const n = w.node(id);
    if (!n || n.repair !== 'needs_rebuild') return null;
    const s = w.shard(n.shard);
    if (!s || s.task !== null || s.primary === null || s.primary === n.id) return null;
    if (w.cluster(s.cluster)?.haMode !== 'rbr') return null;
    return n;
  }

  keys(): string[] {
    return this.rt.world
      .ids('node')
      .filter((id) => this.candidate(Number(id)) !== null)
      .map(String);
  }

  affected(changed: ReadonlySet<string>): string[] {
    // A job ending (or a lock freed) may let a waiting node go: every candidate is looked at again.
    for (const agg of changed) if (agg.startsWith('node/') || agg.startsWith('shard/') || agg.startsWith('job/')) return this.keys();
    return [];
  }

  async reconcile(key: string, ctx: LeaderContext): Promise<void> {
    const n = this.candidate(Number(key));
    if (!n) return;
    const w = this.rt.world;
    const [last] = rebuildJobsOf(w, n.id);
    if (last !== undefined && last.status !== 'done' && last.status !== 'failed') return; // one runs
    if (last?.status === 'failed' && (last.endedAt ?? 0) + this.s.autoRebuildRetryMs > Date.now()) return; // the sweep comes back
    checkLeading(ctx.signal);
    // The paras an operator would send (validated the same way).
    const request = {
      cluster_id: String(n.cluster),
      shard_id: String(n.shard),
      allow_pull_from_master: '1',
      allow_replica_delay: '30',
      rb_nodes: [{ hostaddr: n.hostaddr, port: String(n.port), need_backup: '1', pv_limit: String(this.s.rebuildPvLimitMb) }],
    };
    const r = await this.rt.execute({ kind: 'job.start', jobType: 'rebuild_node', request }, { system: `auto_rebuild: node ${n.id} needs a rebuild` });
    if (r.ok) {
      ctx.log.warn({ node: n.id, at: `${n.hostaddr}:${n.port}`, shard: n.shard, reason: n.rebuild?.reason }, 'auto_rebuild: rebuild_node started for a node that needs a rebuild');
      return;
    }
    // Busy (another job holds the cluster) or not ready yet: the next change or sweep tries again.
    const why = r.kind === 'refused' ? `${r.refusal.code}: ${r.refusal.field ?? ''} ${r.refusal.reason}` : r.kind;
    const expected = r.kind !== 'refused' || r.refusal.code === 'busy' || r.refusal.code === 'invalid_state';
    ctx.log[expected ? 'info' : 'warn']({ node: n.id, why }, 'auto_rebuild: not started yet');
  }
}
