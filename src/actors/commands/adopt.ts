// Adopting a topology that other tools created in kunlun_metadata_db: one atomic batch that brings
// every machine, cluster, shard, node and compute node under the manager with its metadata id, and
// records each shard's source as its primary (writable when active, as it is in the real world).
import type { Json } from '../../events/schema.js';
import type { HaMode, InstanceStatus, MemberState, SyncState } from '../../events/vocab.js';
import type { World } from '../world.js';
import { Emitter, refuse, type CommandResult, type Refusal } from './common.js';
import { checkTopology, type MachineSpec } from './topology.js';

export interface AdoptedNode {
  id: number;
  hostaddr: string;
  port: number;
  memberState: MemberState;
  status: InstanceStatus;
  syncState?: SyncState;
  masterPriority?: number;
}

export interface AdoptedShard {
  id: number;
  name: string;
  syncNum?: number;
  nodes: AdoptedNode[];
}

export interface AdoptedComp {
  id: number;
  name: string;
  hostaddr: string;
  port: number;
  status: InstanceStatus;
}

export interface AdoptedCluster {
  id: number;
  name: string;
  nickName?: string;
  haMode: HaMode;
  owner?: string;
  business?: string;
  /** db_clusters.memo as parsed; secret keys are dropped, the password goes in compPassword. */
  memo?: Json;
  compUser?: string;
  compPassword?: string;
  shards: AdoptedShard[];
  comps: AdoptedComp[];
}

export interface AdoptCommand {
  kind: 'topology.adopt';
  /** Machines not registered yet; ones already registered with that role are skipped. */
  machines?: MachineSpec[];
  clusters: AdoptedCluster[];
  term: number;
}

export function checkAdopt(world: World, cmd: AdoptCommand, e: Emitter): CommandResult {
  for (const m of cmd.machines ?? []) {
    if (world.machine(m.hostaddr)?.roles[m.role] !== undefined) continue;
    const sub = new Emitter(world, e.ctx);
    const r = checkTopology(world, { kind: 'machine.create', ...m }, sub);
    if (!r.ok) return { ...r, field: `machines.${m.hostaddr}` };
    e.events.push(...r.events);
  }
  const ids = { cluster: new Set<number>(), shard: new Set<number>(), node: new Set<number>(), comp: new Set<number>() };
  const taken = (kind: keyof typeof ids, id: number): Refusal | null => {
    const exists =
      kind === 'cluster' ? world.cluster(id) : kind === 'shard' ? world.shard(id) : kind === 'node' ? world.node(id) : world.comp(id);
    if (exists !== null || ids[kind].has(id)) return refuse('already_exists', `${kind} ${id} already exists`, `${kind}s`);
    ids[kind].add(id);
    return null;
  };
  for (const c of cmd.clusters) {
    const t = taken('cluster', c.id);
    if (t !== null) return t;
    e.emit('cluster.adopted', `cluster/${c.id}`, {
      name: c.name,
      nickName: c.nickName ?? '',
      haMode: c.haMode,
      owner: c.owner ?? '',
      business: c.business ?? '',
      memo: c.memo ?? null,
      compUser: c.compUser ?? null,
      compPassword: c.compPassword ?? null,
    });
    for (const s of c.shards) {
      const ts = taken('shard', s.id);
      if (ts !== null) return ts;
      e.emit('shard.adopted', `shard/${s.id}`, { cluster: c.id, name: s.name, syncNum: s.syncNum ?? 1 });
      const sources = s.nodes.filter((n) => n.memberState === 'source');
      if (sources.length > 1) {
        return refuse('conflict', `shard ${s.id} has ${sources.length} source nodes: resolve it before adopting`, `shards.${s.id}`);
      }
      for (const n of s.nodes) {
        const tn = taken('node', n.id);
        if (tn !== null) return tn;
        e.emit('node.adopted', `node/${n.id}`, {
          cluster: c.id,
          shard: s.id,
          hostaddr: n.hostaddr,
          port: n.port,
          syncState: n.syncState ?? 'fsync',
          masterPriority: n.masterPriority ?? 1,
          status: n.status,
        });
      }
      const src = sources[0];
      if (src !== undefined) {
        e.emit('node.role_changed', `node/${src.id}`, { role: 'source', source: null });
        e.emit('shard.primary_changed', `shard/${s.id}`, { node: src.id, prev: null, term: cmd.term });
        if (src.status === 'active') e.emit('node.access_changed', `node/${src.id}`, { access: 'writable' });
        for (const n of s.nodes) {
          if (n.id !== src.id) e.emit('node.role_changed', `node/${n.id}`, { role: 'replica', source: src.id });
        }
      }
    }
    for (const k of c.comps) {
      const tk = taken('comp', k.id);
      if (tk !== null) return tk;
      e.emit('comp.adopted', `comp/${k.id}`, { cluster: c.id, name: k.name, hostaddr: k.hostaddr, port: k.port, status: k.status });
    }
  }
  if (e.events.length === 0) return refuse('no_change', 'nothing to adopt');
  return e.done();
}
