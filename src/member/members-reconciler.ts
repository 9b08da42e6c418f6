// Keeps the manager group in the log: every configured member is recorded (manager.member_added) and
// the leader records its own election (manager.leader_elected, one event per term), which the metadata
// projection shows as `source` in cluster_mgr_nodes.
import type { LeaderContext, Reconciler } from '../reconcile/host.js';
import { checkLeading } from '../reconcile/host.js';
import type { ConfigReader, Proposer, WorldReader } from '../ports/index.js';
import type { RaftNode } from '../raft/node/index.js';

/** What the reconciler uses of the member: the configured peers, the Raft configuration, execute. */
export interface MembersRuntime extends WorldReader, ConfigReader, Proposer {
  readonly node: Pick<RaftNode, 'status'>;
}

export class ManagerMembersReconciler implements Reconciler {
  readonly name = 'manager-members';

  constructor(private readonly rt: MembersRuntime) {}

  keys(): string[] {
    return ['group'];
  }

  affected(changed: ReadonlySet<string>): string[] {
    for (const a of changed) if (a.startsWith('manager/') || a === '*') return ['group'];
    return [];
  }

  async reconcile(_key: string, ctx: LeaderContext): Promise<void> {
    const { cfg } = this.rt;
    // Only members of the Raft configuration: one removed by raft_mission stays removed even though
    // the configured peer list still names it.
    const conf = this.rt.node.status().conf;
    for (const p of cfg.peers) {
      checkLeading(ctx.signal);
      if (this.rt.world.manager(p.id)) continue;
      if (!conf.voters.includes(p.id) && !conf.learners.includes(p.id)) continue;
      const r = await this.rt.execute(
        // Every member serves GET /metrics on its HTTP port: that is its prometheus_port.
        { kind: 'manager.add', id: p.id, host: p.host, raftPort: p.port, httpPort: p.httpPort, prometheusPort: p.httpPort },
        { system: 'configured manager member' },
      );
      if (!r.ok && !(r.kind === 'refused' && r.refusal.code === 'already_exists')) {
        throw new Error(`recording member ${p.id} failed: ${JSON.stringify(r)}`);
      }
    }
    checkLeading(ctx.signal);
    const cur = this.rt.world.leader;
    if (cur?.member === cfg.selfId && cur.term === ctx.term) return;
    if (cur && cur.term >= ctx.term) return;
    const r = await this.rt.execute({ kind: 'manager.elect', id: cfg.selfId, term: ctx.term }, { system: 'leader elected' });
    if (!r.ok && r.kind !== 'not_leader') throw new Error(`recording the election failed: ${JSON.stringify(r)}`);
    ctx.log.info({ term: ctx.term }, 'election recorded in the log');
  }
}
