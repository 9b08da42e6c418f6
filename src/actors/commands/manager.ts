// Commands about the manager group itself (cluster_mgr_nodes): members and elected leaders.
import type { World } from '../world.js';
import { Emitter, refuse, type CommandResult } from './common.js';

export type ManagerCommand =
  | { kind: 'manager.add'; id: string; host: string; raftPort: number; httpPort: number; prometheusPort?: number }
  | { kind: 'manager.remove'; id: string }
  | { kind: 'manager.elect'; id: string; term: number }
  /** Ids at or above these are free (found in use outside the log); raises the counters, never lowers. */
  | { kind: 'manager.reserve_ids'; id: string; next: Partial<Record<ReservableKind, number>> }
  /**
   * The leader's metadata projection reports every row it cannot write now (`failed`); rows reported
   * before and missing here are cleared: `gone` when the topology no longer has them, else written.
   * Only changes become events (nothing changed: refused no_change).
   */
  | {
      kind: 'manager.report_projection';
      id: string;
      failed: ReadonlyArray<{ table: string; key: string; reason: string }>;
      gone: ReadonlyArray<{ table: string; key: string }>;
    };

export type ReservableKind = 'cluster' | 'shard' | 'node' | 'comp' | 'job';

export function checkManager(world: World, cmd: ManagerCommand, e: Emitter): CommandResult {
  switch (cmd.kind) {
    case 'manager.add':
      if (world.manager(cmd.id) !== null) return refuse('already_exists', `manager ${cmd.id} is a member`, 'id');
      return e
        .emit('manager.member_added', `manager/${cmd.id}`, {
          host: cmd.host,
          raftPort: cmd.raftPort,
          httpPort: cmd.httpPort,
          prometheusPort: cmd.prometheusPort ?? null,
        })
        .done();
    case 'manager.remove':
      if (world.manager(cmd.id) === null) return refuse('not_found', `manager ${cmd.id} is not a member`, 'id');
      return e.emit('manager.member_removed', `manager/${cmd.id}`, {}).done();
    case 'manager.elect': {
      if (world.manager(cmd.id) === null) return refuse('not_found', `manager ${cmd.id} is not a member`, 'id');
      const cur = world.leader;
      if (cur !== null && cmd.term <= cur.term) {
        return refuse('conflict', `term ${cmd.term} is not above the current term ${cur.term} (${cur.member})`, 'term');
      }
      return e.emit('manager.leader_elected', `manager/${cmd.id}`, { term: cmd.term }).done();
    }
    case 'manager.reserve_ids': {
      if (world.manager(cmd.id) === null) return refuse('not_found', `manager ${cmd.id} is not a member`, 'id');
      const cur = world.next;
      const next = { cluster: cur.cluster, shard: cur.shard, node: cur.node, comp: cur.comp, job: cur.job };
      let raised = false;
      for (const k of Object.keys(next) as ReservableKind[]) {
        const want = cmd.next[k];
        if (want !== undefined && Number.isSafeInteger(want) && want > next[k]) {
          next[k] = want;
          raised = true;
        }
      }
      if (!raised) return refuse('no_change', 'every counter is already at or above the given ids', 'next');
      return e.emit('manager.ids_reserved', `manager/${cmd.id}`, next).done();
    }
    case 'manager.report_projection': {
      if (world.manager(cmd.id) === null) return refuse('not_found', `manager ${cmd.id} is not a member`, 'id');
      const same = (a: { table: string; key: string }) => (b: { table: string; key: string }) => a.table === b.table && a.key === b.key;
      const before = world.projectionFailures;
      const agg = `manager/${cmd.id}` as const;
      for (const f of before) {
        if (cmd.failed.some(same(f))) continue;
        e.emit('manager.projection_row_cleared', agg, { table: f.table, key: f.key, how: cmd.gone.some(same(f)) ? 'gone' : 'written' });
      }
      for (const f of cmd.failed) {
        if (before.find(same(f))?.reason === f.reason) continue;
        e.emit('manager.projection_row_failed', agg, { table: f.table, key: f.key, reason: f.reason });
      }
      if (e.events.length === 0) return refuse('no_change', 'the failing projection rows are as reported', 'failed');
      return e.done();
    }
  }
}
