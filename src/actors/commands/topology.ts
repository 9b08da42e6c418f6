// Commands that record topology: machines, clusters, shards, storage nodes, compute nodes. Each one
// checks the world first and refuses with a reason (and the original error number where one exists).
import type { Evidence } from '../../events/catalog.js';
import type { Json } from '../../events/schema.js';
import type { HaMode, InstanceStatus, MachineRole, NodeStats, SyncState } from '../../events/vocab.js';
import type { World } from '../world.js';
import { Emitter, refuse, type CommandResult } from './common.js';

export interface PortRange {
  lo: number;
  hi: number;
}

export const DEFAULT_PORT_RANGE: Record<MachineRole, PortRange> = {
  storage: { lo: 57000, hi: 58000 },
  computer: { lo: 47000, hi: 48000 },
};

export interface MachineSpec {
  hostaddr: string;
  role: MachineRole;
  rackId: string;
  datadir?: string;
  logdir?: string;
  walLogDir?: string;
  compDatadir?: string;
  portRange?: PortRange;
  totalMemMB: number;
  totalCpuCores: number;
  agentPort?: number;
}

export type TopologyCommand =
  | ({ kind: 'machine.create' } & MachineSpec)
  | {
      kind: 'machine.update';
      hostaddr: string;
      role: MachineRole;
      changes: Partial<Omit<MachineSpec, 'hostaddr' | 'role' | 'agentPort'>> & { agentPort?: number | null };
    }
  | { kind: 'machine.delete'; hostaddr: string; role: MachineRole }
  | { kind: 'machine.set_health'; hostaddr: string; stats: NodeStats; evidence: Evidence }
  | {
      kind: 'cluster.create';
      name?: string;
      nickName?: string;
      haMode: HaMode;
      owner?: string;
      business?: string;
      maxStorageSizeGB: number;
      maxConnections: number;
      cpuCores: number;
      innodbSizeMB: number;
      dbcfg?: number;
      compUser?: string;
      compPassword?: string;
    }
  | { kind: 'cluster.set_status'; cluster: number; status: 'inuse' | 'deleting' }
  | { kind: 'cluster.delete'; cluster: number }
  | {
      kind: 'shard.add';
      cluster: number;
      name?: string;
      syncNum?: number;
      nodes: NodeSpec[];
    }
  | { kind: 'shard.set_status'; shard: number; status: 'inuse' | 'deleting' }
  | { kind: 'shard.delete'; shard: number }
  | ({ kind: 'node.add'; shard: number } & NodeSpec)
  | { kind: 'node.delete'; node: number }
  | { kind: 'node.set_status'; node: number; status: InstanceStatus }
  | ({ kind: 'node.move'; node: number } & MoveSpec)
  | { kind: 'comp.add'; cluster: number; hostaddr: string; port: number; name?: string }
  | { kind: 'comp.delete'; comp: number }
  | { kind: 'comp.set_status'; comp: number; status: InstanceStatus }
  | ({ kind: 'comp.move'; comp: number } & MoveSpec);

/**
 * Moving an instance that is not installed yet to another port of its machine, because its agent
 * could not bind the current one: the job records the skipped port and why, then the instance moves.
 */
export interface MoveSpec {
  port: number;
  /** The job whose install was refused: it remembers the port so its placements skip it. */
  job: number;
  /** The agent's answer, for the job's record. */
  reason: string;
}

export interface NodeSpec {
  hostaddr: string;
  port: number;
  syncState?: SyncState;
  masterPriority?: number;
  innodbBufferPoolMB?: number;
}

export function checkTopology(world: World, cmd: TopologyCommand, e: Emitter): CommandResult {
  switch (cmd.kind) {
    case 'machine.create': {
      const m = world.machine(cmd.hostaddr);
      if (m?.roles[cmd.role] !== undefined) {
        return refuse('already_exists', `machine ${cmd.hostaddr} is already registered as ${cmd.role}`, 'hostaddr', 70062);
      }
      if (cmd.role === 'storage') {
        for (const f of ['datadir', 'logdir', 'walLogDir'] as const) {
          if (cmd[f] === undefined || cmd[f] === '') {
            return refuse('invalid_argument', `a storage machine needs ${f}`, f, { datadir: 70054, logdir: 70055, walLogDir: 70056 }[f]);
          }
        }
      } else if (cmd.compDatadir === undefined || cmd.compDatadir === '') {
        return refuse('invalid_argument', 'a computer machine needs compDatadir', 'compDatadir', 70061);
      }
      const portRange = cmd.portRange ?? DEFAULT_PORT_RANGE[cmd.role];
      if (portRange.lo > portRange.hi) return refuse('invalid_argument', 'port range: lo is above hi', 'portRange');
      return e
        .emit('machine.registered', `machine/${cmd.hostaddr}`, {
          role: cmd.role,
          rackId: cmd.rackId,
          datadir: cmd.datadir ?? null,
          logdir: cmd.logdir ?? null,
          walLogDir: cmd.walLogDir ?? null,
          compDatadir: cmd.compDatadir ?? null,
          portRange,
          totalMemMB: cmd.totalMemMB,
          totalCpuCores: cmd.totalCpuCores,
          agentPort: cmd.agentPort ?? null,
        })
        .done();
    }
    case 'machine.update': {
      const m = world.machine(cmd.hostaddr);
      if (m?.roles[cmd.role] === undefined) {
        return refuse('not_found', `machine ${cmd.hostaddr} is not registered as ${cmd.role}`, 'hostaddr', 70066);
      }
      const c = cmd.changes;
      const data: Record<string, Json> = { role: cmd.role };
      for (const k of ['rackId', 'datadir', 'logdir', 'walLogDir', 'compDatadir', 'totalMemMB', 'totalCpuCores', 'agentPort'] as const) {
        if (c[k] !== undefined) data[k] = c[k];
      }
      if (c.portRange !== undefined) data.portRange = { lo: c.portRange.lo, hi: c.portRange.hi };
      if (Object.keys(data).length === 1) return refuse('no_change', 'nothing to update');
      return e.emit('machine.updated', `machine/${cmd.hostaddr}`, data as never).done();
    }
    case 'machine.delete': {
      const m = world.machine(cmd.hostaddr);
      const role = m?.roles[cmd.role];
      if (role === undefined) return refuse('not_found', `machine ${cmd.hostaddr} is not registered as ${cmd.role}`, 'hostaddr', 70066);
      if (role.usedPorts.length > 0) {
        return refuse('invalid_state', `machine ${cmd.hostaddr} still runs instances on ports ${role.usedPorts.join(',')}`, 'hostaddr', 70064);
      }
      return e.emit('machine.removed', `machine/${cmd.hostaddr}`, { role: cmd.role }).done();
    }
    case 'machine.set_health': {
      const m = world.machine(cmd.hostaddr);
      if (m === null) return refuse('not_found', `machine ${cmd.hostaddr} is not registered`, 'hostaddr');
      if (m.stats === cmd.stats) return refuse('no_change', `machine ${cmd.hostaddr} is already ${cmd.stats}`);
      return e.emit('machine.health_changed', `machine/${cmd.hostaddr}`, { stats: cmd.stats, evidence: cmd.evidence }).done();
    }

    case 'cluster.create': {
      const id = e.ids.take('cluster');
      // The original's name: cluster_<unix seconds>_<6-digit id>; the seconds are the leader's stamp.
      const name = cmd.name ?? `cluster_${Math.floor(e.ctx.at / 1000)}_${String(id).padStart(6, '0')}`;
      if (world.clusterByName(name) !== null) return refuse('already_exists', `a cluster named ${name} exists`, 'name');
      return e
        .emit('cluster.created', `cluster/${id}`, {
          name,
          nickName: cmd.nickName ?? '',
          haMode: cmd.haMode,
          owner: cmd.owner ?? 'abc',
          business: cmd.business ?? 'kunlun',
          maxStorageSizeGB: cmd.maxStorageSizeGB,
          maxConnections: cmd.maxConnections,
          cpuCores: cmd.cpuCores,
          innodbSizeMB: cmd.innodbSizeMB,
          dbcfg: cmd.dbcfg ?? 0,
          compUser: cmd.compUser ?? 'abc',
          compPassword: cmd.compPassword ?? 'abc',
        })
        .done();
    }
    case 'cluster.set_status': {
      const c = world.cluster(cmd.cluster);
      if (c === null) return refuse('not_found', `cluster ${cmd.cluster} does not exist`, 'cluster_id', 70098);
      if (c.status === cmd.status) return refuse('no_change', `cluster ${cmd.cluster} is already ${cmd.status}`);
      if (c.status === 'deleting') return refuse('invalid_state', `cluster ${cmd.cluster} is being deleted`, 'cluster_id');
      return e.emit('cluster.status_changed', `cluster/${cmd.cluster}`, { status: cmd.status }).done();
    }
    case 'cluster.delete': {
      const c = world.cluster(cmd.cluster);
      if (c === null) return refuse('not_found', `cluster ${cmd.cluster} does not exist`, 'cluster_id', 70098);
      if (c.status !== 'deleting') e.emit('cluster.status_changed', `cluster/${c.id}`, { status: 'deleting' });
      for (const shard of c.shards) {
        const refused = removeShard(world, shard, e);
        if (refused !== null) return refused;
      }
      for (const comp of c.comps) e.emit('comp.removed', `comp/${comp}`, {});
      return e.emit('cluster.deleted', `cluster/${c.id}`, {}).done();
    }

    case 'shard.add': {
      const c = world.cluster(cmd.cluster);
      if (c === null) return refuse('not_found', `cluster ${cmd.cluster} does not exist`, 'cluster_id', 70119);
      if (c.status === 'deleting') return refuse('invalid_state', `cluster ${cmd.cluster} is being deleted`, 'cluster_id');
      if (cmd.nodes.length === 0) return refuse('invalid_argument', 'a shard needs at least one node', 'nodes', 70122);
      const name = cmd.name ?? nextShardName(world, c.shards);
      if (world.shardByName(c.id, name) !== null) return refuse('already_exists', `cluster ${c.id} has a shard ${name}`, 'name');
      const id = e.ids.take('shard');
      e.emit('shard.added', `shard/${id}`, { cluster: c.id, name, syncNum: cmd.syncNum ?? 1 });
      const seen = new Set<string>();
      for (const [i, n] of cmd.nodes.entries()) {
        const refused = checkNewNode(world, n, seen, `nodes[${i}]`);
        if (refused !== null) return refused;
        emitNode(e, c.id, id, n);
      }
      return e.done();
    }
    case 'shard.set_status': {
      const s = world.shard(cmd.shard);
      if (s === null) return refuse('not_found', `shard ${cmd.shard} does not exist`, 'shard_id');
      if (s.status === cmd.status) return refuse('no_change', `shard ${cmd.shard} is already ${cmd.status}`);
      if (s.status === 'deleting') return refuse('invalid_state', `shard ${cmd.shard} is being deleted`, 'shard_id');
      return e.emit('shard.status_changed', `shard/${cmd.shard}`, { status: cmd.status }).done();
    }
    case 'shard.delete': {
      const s = world.shard(cmd.shard);
      if (s === null) return refuse('not_found', `shard ${cmd.shard} does not exist`, 'shard_id', 70140);
      const c = world.cluster(s.cluster);
      if (c !== null && c.status !== 'deleting' && c.shards.length <= 1) {
        return refuse('last_one', `shard ${cmd.shard} is the last shard of cluster ${s.cluster}`, 'shard_id', 70174);
      }
      const refused = removeShard(world, s.id, e);
      return refused ?? e.done();
    }

    case 'node.add': {
      const s = world.shard(cmd.shard);
      if (s === null) return refuse('not_found', `shard ${cmd.shard} does not exist`, 'shard_id', 70169);
      if (s.status === 'deleting') return refuse('invalid_state', `shard ${cmd.shard} is being deleted`, 'shard_id');
      const refused = checkNewNode(world, cmd, new Set(), '');
      if (refused !== null) return refused;
      const id = emitNode(e, s.cluster, s.id, cmd);
      // A node added to a shard with a primary is wired to it (add_nodes): the model says so from the start.
      if (s.primary !== null) e.emit('node.role_changed', `node/${id}`, { role: 'replica', source: s.primary });
      return e.done();
    }
    case 'node.delete': {
      const n = world.node(cmd.node);
      if (n === null) return refuse('not_found', `node ${cmd.node} does not exist`, 'node', 70173);
      const s = world.shard(n.shard);
      if (s?.primary === n.id) return refuse('invalid_state', `node ${n.id} is the primary of shard ${n.shard}`, 'node', 70172);
      if (s !== null && s.status !== 'deleting' && s.nodes.length <= 1) {
        return refuse('last_one', `node ${n.id} is the last node of shard ${n.shard}`, 'node', 70159);
      }
      if (s?.task?.target === n.id) return refuse('busy', `node ${n.id} is the target of failover task ${s.task.task}`, 'node');
      return e.emit('node.removed', `node/${n.id}`, {}).done();
    }
    case 'node.set_status': {
      const n = world.node(cmd.node);
      if (n === null) return refuse('not_found', `node ${cmd.node} does not exist`, 'node');
      if (n.status === cmd.status) return refuse('no_change', `node ${cmd.node} is already ${cmd.status}`);
      return e.emit('node.status_changed', `node/${n.id}`, { status: cmd.status }).done();
    }
    case 'node.move': {
      const n = world.node(cmd.node);
      if (n === null) return refuse('not_found', `node ${cmd.node} does not exist`, 'node');
      return moveInstance(world, e, `node/${n.id}`, n, 'storage', cmd);
    }

    case 'comp.add': {
      const c = world.cluster(cmd.cluster);
      if (c === null) return refuse('not_found', `cluster ${cmd.cluster} does not exist`, 'cluster_id', 70109);
      if (c.status === 'deleting') return refuse('invalid_state', `cluster ${cmd.cluster} is being deleted`, 'cluster_id');
      const used = hostPortRefusal(world, cmd.hostaddr, cmd.port, 'computer', 'hostaddr');
      if (used !== null) return used;
      const id = e.ids.take('comp');
      const name = cmd.name ?? `comp${id}`;
      if (world.compByName(c.id, name) !== null) return refuse('already_exists', `cluster ${c.id} has a compute node ${name}`, 'name');
      return e.emit('comp.added', `comp/${id}`, { cluster: c.id, name, hostaddr: cmd.hostaddr, port: cmd.port }).done();
    }
    case 'comp.delete': {
      const n = world.comp(cmd.comp);
      if (n === null) return refuse('not_found', `compute node ${cmd.comp} does not exist`, 'comp_id', 70134);
      const c = world.cluster(n.cluster);
      if (c !== null && c.status !== 'deleting' && c.comps.length <= 1) {
        return refuse('last_one', `compute node ${n.id} is the last one of cluster ${n.cluster}`, 'comp_id', 70157);
      }
      return e.emit('comp.removed', `comp/${n.id}`, {}).done();
    }
    case 'comp.set_status': {
      const n = world.comp(cmd.comp);
      if (n === null) return refuse('not_found', `compute node ${cmd.comp} does not exist`, 'comp_id');
      if (n.status === cmd.status) return refuse('no_change', `compute node ${cmd.comp} is already ${cmd.status}`);
      return e.emit('comp.status_changed', `comp/${n.id}`, { status: cmd.status }).done();
    }
    case 'comp.move': {
      const n = world.comp(cmd.comp);
      if (n === null) return refuse('not_found', `compute node ${cmd.comp} does not exist`, 'comp_id');
      return moveInstance(world, e, `comp/${n.id}`, n, 'computer', cmd);
    }
  }
}

function moveInstance(
  world: World,
  e: Emitter,
  agg: `node/${number}` | `comp/${number}`,
  n: { hostaddr: string; port: number; status: InstanceStatus },
  role: MachineRole,
  cmd: MoveSpec,
): CommandResult {
  if (n.status !== 'creating') return refuse('invalid_state', `${agg} is ${n.status}: only an instance still being created can move`, 'port');
  if (cmd.port === n.port) return refuse('no_change', `${agg} is already on port ${cmd.port}`, 'port');
  const j = world.job(cmd.job);
  if (j === null || j.status === 'done' || j.status === 'failed') return refuse('invalid_state', `job ${cmd.job} is not running`, 'job');
  const used = hostPortRefusal(world, n.hostaddr, cmd.port, role, 'port');
  if (used !== null) return used;
  e.emit('job.port_skipped', `job/${cmd.job}`, { instance: agg, hostaddr: n.hostaddr, port: n.port, reason: cmd.reason.slice(0, 1024) });
  const kind = agg.startsWith('node/') ? 'node.moved' : 'comp.moved';
  return e.emit(kind, agg, { port: cmd.port, from: n.port, job: cmd.job }).done();
}

/** The original names shards `shard_<n>`, n after the highest numeric suffix in the cluster. */
function nextShardName(world: World, shards: number[]): string {
  let max = 0;
  for (const id of shards) {
    const m = /_(\d+)$/.exec(world.shard(id)?.name ?? '');
    if (m !== null) max = Math.max(max, Number(m[1]));
  }
  return `shard_${max + 1}`;
}

function hostPortRefusal(world: World, host: string, port: number, role: MachineRole, field: string) {
  const m = world.machine(host);
  const spec = m?.roles[role];
  if (spec === undefined) return refuse('not_found', `machine ${host} is not registered as ${role}`, field, role === 'storage' ? 70181 : 70182);
  if (port < spec.portRange.lo || port > spec.portRange.hi) {
    return refuse('invalid_argument', `port ${port} is outside ${host}'s ${role} range ${spec.portRange.lo}-${spec.portRange.hi}`, field);
  }
  const at = world.nodeAt(host, port);
  return at === null ? null : refuse('conflict', `${host}:${port} is already used by ${at}`, field);
}

function checkNewNode(world: World, n: NodeSpec, seen: Set<string>, path: string) {
  const field = path === '' ? 'hostaddr' : `${path}.hostaddr`;
  const key = `${n.hostaddr}:${n.port}`;
  if (seen.has(key)) return refuse('conflict', `${key} is listed twice`, field);
  seen.add(key);
  return hostPortRefusal(world, n.hostaddr, n.port, 'storage', field);
}

function emitNode(e: Emitter, cluster: number, shard: number, n: NodeSpec): number {
  const id = e.ids.take('node');
  e.emit('node.added', `node/${id}`, {
    cluster,
    shard,
    hostaddr: n.hostaddr,
    port: n.port,
    syncState: n.syncState ?? 'fsync',
    masterPriority: n.masterPriority ?? 1,
    innodbBufferPoolMB: n.innodbBufferPoolMB ?? 0,
  });
  return id;
}

/** Events that take a shard out: deleting status, no primary, every node removed, then the shard. */
function removeShard(world: World, shard: number, e: Emitter) {
  const s = world.shard(shard);
  if (s === null) return refuse('not_found', `shard ${shard} does not exist`, 'shard_id');
  if (s.task !== null) return refuse('busy', `shard ${shard} is in failover task ${s.task.task}`, 'shard_id');
  if (s.status !== 'deleting') e.emit('shard.status_changed', `shard/${shard}`, { status: 'deleting' });
  if (s.primary !== null) {
    const primary = s.primary;
    // A primary stops being one before it goes: demote it so no node is left a source or writable.
    const n = world.node(primary);
    if (n?.access === 'writable') e.emit('node.access_changed', `node/${primary}`, { access: 'read_only' });
    e.emit('shard.primary_changed', `shard/${shard}`, { node: null, prev: primary, term: s.primaryTerm });
    e.emit('node.role_changed', `node/${primary}`, { role: 'replica', source: null });
  }
  for (const node of s.nodes) e.emit('node.removed', `node/${node}`, {});
  e.emit('shard.removed', `shard/${shard}`, {});
  return null;
}
