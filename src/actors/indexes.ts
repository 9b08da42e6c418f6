// Keeping the derived indexes in step with the records: on creation, removal, and when a job ends.
// The same code rebuilds them on restore, so a restored world and a replayed one index alike.
import type { AggKind } from '../events/envelope.js';
import { jobActive } from './facts.js';
import type { Ctxs, KeyOf } from './logics.js';
import { runnerOf } from './logics.js';
import type { Rec, WorldState } from './state.js';
import type { Tx } from './tx.js';

export const endpointKey = (host: string, port: number): string => `${host}:${port}`;
export const hostRoleKey = (host: string, role: 'storage' | 'computer'): string => `${host}|${role}`;
export const nameKey = (cluster: number, name: string): string => `${cluster}/${name}`;

/** Index changes for one record going from `before` to `after` (undefined: absent / gone). */
export function reindex<K extends AggKind>(
  w: WorldState,
  kind: K,
  key: KeyOf<K>,
  before: Rec<Ctxs[K]> | undefined,
  after: Rec<Ctxs[K]> | undefined,
  tx: Tx,
): void {
  switch (kind) {
    case 'cluster': {
      const b = before as Rec<Ctxs['cluster']> | undefined;
      const a = after as Rec<Ctxs['cluster']> | undefined;
      if (b === undefined && a !== undefined) tx.set(w.clusterByName, a.c.name, a.c.id);
      if (b !== undefined && a === undefined) tx.delete(w.clusterByName, b.c.name);
      return;
    }
    case 'shard': {
      const b = before as Rec<Ctxs['shard']> | undefined;
      const a = after as Rec<Ctxs['shard']> | undefined;
      if (b === undefined && a !== undefined) {
        tx.add(w.shardsOf, a.c.cluster, a.c.id);
        tx.set(w.shardByName, nameKey(a.c.cluster, a.c.name), a.c.id);
      }
      if (b !== undefined && a === undefined) {
        tx.remove(w.shardsOf, b.c.cluster, b.c.id);
        tx.delete(w.shardByName, nameKey(b.c.cluster, b.c.name));
      }
      return;
    }
    case 'node': {
      const b = before as Rec<Ctxs['node']> | undefined;
      const a = after as Rec<Ctxs['node']> | undefined;
      if (b === undefined && a !== undefined) {
        tx.add(w.nodesOf, a.c.shard, a.c.id);
        tx.set(w.endpoints, endpointKey(a.c.hostaddr, a.c.port), `node/${a.c.id}`);
        tx.add(w.hostPorts, hostRoleKey(a.c.hostaddr, 'storage'), a.c.port);
      }
      if (b !== undefined && a === undefined) {
        tx.remove(w.nodesOf, b.c.shard, b.c.id);
        tx.delete(w.endpoints, endpointKey(b.c.hostaddr, b.c.port));
        tx.remove(w.hostPorts, hostRoleKey(b.c.hostaddr, 'storage'), b.c.port);
      }
      if (b !== undefined && a !== undefined && b.c.port !== a.c.port) moveEndpoint(w, tx, 'storage', `node/${a.c.id}`, b.c.hostaddr, b.c.port, a.c.port);
      return;
    }
    case 'comp': {
      const b = before as Rec<Ctxs['comp']> | undefined;
      const a = after as Rec<Ctxs['comp']> | undefined;
      if (b === undefined && a !== undefined) {
        tx.add(w.compsOf, a.c.cluster, a.c.id);
        tx.set(w.compByName, nameKey(a.c.cluster, a.c.name), a.c.id);
        tx.set(w.endpoints, endpointKey(a.c.hostaddr, a.c.port), `comp/${a.c.id}`);
        tx.add(w.hostPorts, hostRoleKey(a.c.hostaddr, 'computer'), a.c.port);
      }
      if (b !== undefined && a === undefined) {
        tx.remove(w.compsOf, b.c.cluster, b.c.id);
        tx.delete(w.compByName, nameKey(b.c.cluster, b.c.name));
        tx.delete(w.endpoints, endpointKey(b.c.hostaddr, b.c.port));
        tx.remove(w.hostPorts, hostRoleKey(b.c.hostaddr, 'computer'), b.c.port);
      }
      if (b !== undefined && a !== undefined && b.c.port !== a.c.port) moveEndpoint(w, tx, 'computer', `comp/${a.c.id}`, b.c.hostaddr, b.c.port, a.c.port);
      return;
    }
    case 'job': {
      const runner = runnerOf('job');
      const b = before as Rec<Ctxs['job']> | undefined;
      const a = after as Rec<Ctxs['job']> | undefined;
      const wasActive = b !== undefined && jobActive(runner.value(b.s));
      const isActive = a !== undefined && jobActive(runner.value(a.s));
      const c = (a ?? b)!.c;
      if (!wasActive && isActive) {
        tx.setAdd(w.activeJobs, c.id);
        if (c.lock !== null) tx.set(w.locks, c.lock, c.id);
      }
      if (wasActive && !isActive) {
        tx.setDelete(w.activeJobs, c.id);
        if (c.lock !== null && w.locks.get(c.lock) === c.id) tx.delete(w.locks, c.lock);
      }
      return;
    }
    case 'machine':
    case 'manager':
    case 'backup_storage':
      void key;
      return;
  }
}

/** An instance not installed yet took another port of its host (node.moved, comp.moved). */
function moveEndpoint(w: WorldState, tx: Tx, role: 'storage' | 'computer', id: string, host: string, from: number, to: number): void {
  tx.delete(w.endpoints, endpointKey(host, from));
  tx.remove(w.hostPorts, hostRoleKey(host, role), from);
  tx.set(w.endpoints, endpointKey(host, to), id);
  tx.add(w.hostPorts, hostRoleKey(host, role), to);
}
