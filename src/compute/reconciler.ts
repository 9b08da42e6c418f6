// Leader-only: keeps every active compute node's shard topology (schema `kunlun`) equal to the world's,
// keyed by comp id. A change to a cluster's shards or nodes (a new shard, a failover's new primary, a
// removed replica) reruns every comp of that cluster; each run compares first and writes only the
// difference, fenced by the term. Comps still being created are written by their add_comps job; a
// stopped or inactive comp cannot be reached and is written when it is active again.
import type { ConfigReader, WorldReader } from '../ports/index.js';
import { checkLeading, type LeaderContext, type Reconciler } from '../reconcile/host.js';
import { withComp } from './connect.js';
import { compTopology, syncCompTopology } from './topology.js';

/** What the reconciler uses of the member (ManagerRuntime implements it). */
export type ComputeRuntime = WorldReader & ConfigReader;

export class ComputeTopologyReconciler implements Reconciler {
  readonly name = 'compute-topology';

  constructor(private readonly rt: ComputeRuntime) {}

  keys(): string[] {
    const w = this.rt.world;
    return w.ids('comp').filter((id) => w.comp(id)?.status === 'active').map(String);
  }

  affected(changed: ReadonlySet<string>): string[] {
    const w = this.rt.world;
    const out = new Set<number>();
    let all = false;
    const ofCluster = (cluster: number | null | undefined): void => {
      if (cluster === null || cluster === undefined) all = true; // removed: its cluster is no longer known
      else for (const id of w.compsOf(cluster)) out.add(id);
    };
    for (const agg of changed) {
      const slash = agg.indexOf('/');
      const kind = agg.slice(0, slash);
      const id = Number(agg.slice(slash + 1));
      if (kind === 'comp') out.add(id);
      else if (kind === 'cluster') ofCluster(w.cluster(id)?.id);
      else if (kind === 'shard') ofCluster(w.shard(id)?.cluster);
      else if (kind === 'node') ofCluster(w.node(id)?.cluster);
    }
    if (all) return this.keys();
    return [...out].filter((id) => w.comp(id)?.status === 'active').map(String);
  }

  async reconcile(key: string, ctx: LeaderContext): Promise<void> {
    const w = this.rt.world;
    const comp = w.comp(Number(key));
    if (comp === null || comp.status !== 'active') return;
    const secret = w.clusterSecret(comp.cluster);
    if (secret?.user == null || secret.password === null) {
      ctx.log.warn({ comp: comp.id }, 'compute node has no cluster credentials; topology not written');
      return;
    }
    const applied = w.applied;
    const want = compTopology(w, comp.id, this.rt.cfg.str('meta_user'));
    if (want === null) return;
    checkLeading(ctx.signal);
    const res = await withComp(
      { host: comp.hostaddr, port: comp.port, user: secret.user, password: secret.password },
      (c) => syncCompTopology(c, want, { term: ctx.term, applied }),
      { signal: ctx.signal },
    );
    if (res.status === 'stale') ctx.log.warn({ comp: comp.id, found: res.found }, 'a newer writer has set this compute node\'s topology; skipped');
    else if (res.status === 'applied') {
      ctx.log.info({ comp: comp.id, inserted: res.inserted, updated: res.updated, deleted: res.deleted, applied }, 'compute node topology updated');
    }
  }
}
