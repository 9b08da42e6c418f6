// Commands about the manager group itself (cluster_mgr_nodes): members and elected leaders.
import type { World } from '../world.js';
import { Emitter, refuse, type CommandResult } from './common.js';

export type ManagerCommand =
  | { kind: 'manager.add'; id: string; host: string; raftPort: number; httpPort: number; prometheusPort?: number }
  | { kind: 'manager.remove'; id: string }
  | { kind: 'manager.elect'; id: string; term: number }
  /** Ids at or above these are free (found in use outside the log); raises the counters, never lowers. */
  | { kind: 'manager.reserve_ids'; id: string; next: Partial<Record<ReservableKind, number>> };

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
  }
}
