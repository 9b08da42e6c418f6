// Brings fenced former primaries back, keyed by node. When the probe observer sees a fenced node
// answer again, the leader checks it against the shard's current primary: still writable → fence it
// first (read_only, client sessions killed); no errant transactions → re-point it as a semi-sync
// replica (node.rejoin); errant transactions → it stays read-only, out of replication, and is marked
// as needing a rebuild (node.mark_needs_rebuild, visible in the shard's view and the events).
import type { NodeView, World } from '../actors/index.js';
import type { HaRuntime } from './ports.js';
import type { LeaderContext, Reconciler } from '../reconcile/host.js';
import { rejoin } from './failover-steps.js';
import type { NodePool } from './pool.js';
import { evidence } from './evidence.js';
import { propose } from './propose.js';
import type { HaSettings } from './settings.js';

/** A node in `repair` state, of an rbr shard that has another primary and no task running (the
 *  nodes the rejoin and the automatic rebuild work on), or null. */
export function nodeToRepair(w: World, id: number, repair: 'fenced' | 'needs_rebuild'): NodeView | null {
  const n = w.node(id);
  if (!n || n.repair !== repair) return null;
  const s = w.shard(n.shard);
  if (!s || s.task !== null || s.primary === null || s.primary === n.id) return null;
  if (w.cluster(s.cluster)?.haMode !== 'rbr') return null;
  return n;
}

export class RejoinReconciler implements Reconciler {
  readonly name = 'shard-rejoin';

  constructor(
    private readonly rt: HaRuntime,
    private readonly pool: NodePool,
    private readonly s: HaSettings,
  ) {}

  private candidate(id: number): NodeView | null {
    return nodeToRepair(this.rt.world, id, 'fenced');
  }

  keys(): string[] {
    return this.rt.world
      .ids('node')
      .filter((id) => this.candidate(id) !== null)
      .map(String);
  }

  affected(changed: ReadonlySet<string>): string[] {
    const w = this.rt.world;
    const out = new Set<number>();
    for (const agg of changed) {
      const [kind, id] = agg.split('/') as [string, string];
      if (kind === 'node') out.add(Number(id));
      else if (kind === 'shard') for (const n of w.nodesOf(Number(id))) out.add(n);
    }
    return [...out].filter((id) => this.candidate(id) !== null).map(String);
  }

  async reconcile(key: string, ctx: LeaderContext): Promise<void> {
    const n = this.candidate(Number(key));
    if (!n) return;
    // Wait for the observer to see it answer: its conclusion triggers this again.
    if (n.health === 'dead' || n.health === 'unreachable' || n.health === 'unknown') return;
    const w = this.rt.world;
    const p = w.node(w.primaryOf(n.shard)!);
    if (!p) return;
    const r = await rejoin(this.pool.node(n), this.pool.node(p), this.s.repl, ctx.signal, {
      probeDeadlineMs: 2 * this.s.probeTimeoutMs,
      deadlineMs: 10_000,
    });
    ctx.log.warn({ node: n.id, primary: p.id, outcome: r.outcome, detail: r.detail, errant: r.errant }, `former primary ${n.id}: ${r.outcome}`);
    switch (r.outcome) {
      case 'unreachable':
        return;
      case 'rejoined':
      case 'already':
        await propose(this.rt, { kind: 'node.rejoin', node: n.id, method: 'change_master' }, 'rejoin: former primary replicates again', ctx);
        return;
      case 'needs-rebuild':
        await propose(
          this.rt,
          {
            kind: 'node.mark_needs_rebuild',
            node: n.id,
            reason: r.detail.length > 1024 ? `${r.detail.slice(0, 1021)}...` : r.detail,
            evidence: evidence(this.s.observer, `node ${n.id} holds transactions primary ${p.id} lacks`, { errant: r.errant.join(', '), primary: p.id }),
          },
          'rejoin: errant transactions, rebuild needed',
          ctx,
        );
        return;
    }
  }
}
