// Shard high availability wired into a manager member: the probe observer, the failover reconciler, the
// rejoin reconciler and the automatic rebuild share one pool of storage-node connections. All of them run on the leader only.
import type { HaRuntime } from './ports.js';
import type { Reconciler } from '../reconcile/host.js';
import { FailoverReconciler } from './failover.js';
import { FailoverRows } from './failover-rows.js';
import { ProbeObserver } from './observer.js';
import { NodePool } from './pool.js';
import { RejoinReconciler } from './rejoin.js';
import { AutoRebuildReconciler } from './auto-rebuild.js';
import { haSettings } from './settings.js';

export { FAILOVER_ORDER, FailoverReconciler } from './failover.js';
export { ProbeObserver } from './observer.js';
export { lagText, liveNode, type LiveNode, type LiveMetaNode, type LiveProbes } from './live.js';
export { RejoinReconciler } from './rejoin.js';
export { haSettings, parseConnectMap, type HaSettings } from './settings.js';

export class ShardHa {
  readonly pool: NodePool;
  readonly observer: ProbeObserver;
  readonly failover: FailoverReconciler;
  readonly rejoin: RejoinReconciler;
  readonly autoRebuild: AutoRebuildReconciler;
  private readonly rows: FailoverRows;

  constructor(rt: HaRuntime) {
    const s = haSettings(rt.cfg);
    const log = rt.log.child({ part: 'shard-ha' });
    this.pool = new NodePool(s);
    this.rows = new FailoverRows(rt.cfg, log);
    this.observer = new ProbeObserver(rt, this.pool, s);
    this.failover = new FailoverReconciler(rt, this.pool, this.rows, this.observer, s);
    this.rejoin = new RejoinReconciler(rt, this.pool, s);
    this.autoRebuild = new AutoRebuildReconciler(rt, s);
  }

  get reconcilers(): Reconciler[] {
    return [this.observer, this.failover, this.rejoin, this.autoRebuild];
  }

  async close(): Promise<void> {
    await this.rows.drop();
    await this.pool.close();
  }
}
