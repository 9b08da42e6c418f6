// The rules that span aggregates, checked before an event reaches its machine (which checks its own
// states): references exist, names and endpoints are unique, ids only grow, locks and failover tasks
// match. And the effects on world-level fields after it applied. Pure functions of the world.
import type { DomainEvent } from '../events/catalog.js';
import { parseAgg } from '../events/envelope.js';
import { backupsIn, settingsProblem } from './backup-storages.js';
import { clusterStatus, jobActive, nodeStates, shardStates } from './facts.js';
import { endpointKey, hostRoleKey, nameKey } from './indexes.js';
import { runnerOf } from './logics.js';
import type { ClusterCtx } from './machines/cluster.js';
import type { ServerCtx } from './machines/server.js';
import type { ShardCtx } from './machines/shard.js';
import type { NodeCtx } from './machines/storage-node.js';
import type { Ctxs } from './logics.js';
import type { Counters, Rec, WorldState } from './state.js';
import type { Tx } from './tx.js';

type Refusal = string | null;

function nextId(w: WorldState, kind: keyof Counters, id: number, what: string): Refusal {
  const n = w.next[kind];
  return id >= n ? null : `${what} id ${id} is already used (the next free id is ${n})`;
}

function liveCluster(w: WorldState, id: number): Rec<ClusterCtx> | undefined {
  return w.stores.cluster.get(id);
}

function clusterOpen(w: WorldState, id: number): Refusal {
  const c = liveCluster(w, id);
  if (c === undefined) return `cluster/${id} does not exist`;
  const st = clusterStatus(runnerOf('cluster').value(c.s));
  return st === 'creating' || st === 'inuse' ? null : `cluster/${id} is ${st}`;
}

function machineRole(w: WorldState, host: string, role: 'storage' | 'computer', port: number): Refusal {
  const m: Rec<ServerCtx> | undefined = w.stores.machine.get(host);
  const spec = m?.c.roles[role];
  if (spec === undefined) return `machine ${host} is not registered for the ${role} role`;
  if (port < spec.portRange.lo || port > spec.portRange.hi) {
    return `port ${port} is outside machine ${host}'s ${role} port range ${spec.portRange.lo}-${spec.portRange.hi}`;
  }
  return null;
}

function endpointFree(w: WorldState, host: string, port: number): Refusal {
  const used = w.endpoints.get(endpointKey(host, port));
  return used === undefined ? null : `${host}:${port} is already used by ${used}`;
}

/** Instances move only for a running job (the one whose install was refused). */
function movedBy(w: WorldState, job: number): Refusal {
  const j = w.stores.job.get(job);
  if (j === undefined) return `job/${job} does not exist`;
  return jobActive(runnerOf('job').value(j.s)) ? null : `job/${job} has ended`;
}

/** A job leaves the world only with its family: never before its parent, never while a child runs. */
function prunable(w: WorldState, id: number, rec: Rec<Ctxs['job']> | undefined): Refusal {
  if (rec === undefined) return null; // the machine refuses: no such job
  const parent = rec.c.parent;
  if (parent !== null && w.stores.job.has(parent)) return `job/${id} is a child of job/${parent}, which is still kept`;
  for (const a of w.activeJobs) if (w.stores.job.get(a)?.c.parent === id) return `job/${id} has a running child job/${a}`;
  return null;
}

function shardNode(w: WorldState, shard: number, node: number): Rec<NodeCtx> | undefined {
  const n = w.stores.node.get(node);
  return n !== undefined && n.c.shard === shard ? n : undefined;
}

function taskMatches(sh: Rec<ShardCtx>, task: number): Refusal {
  const cur = sh.c.task;
  if (cur === null) return `shard/${sh.c.id} has no failover task running`;
  return cur.task === task ? null : `task ${task} is not shard/${sh.c.id}'s running task ${cur.task}`;
}

/** Cross-aggregate checks for one event; `key` is its aggregate's key, `rec` the record if it exists. */
export function checkRules(w: WorldState, ev: DomainEvent, key: number | string, rec: Rec<unknown> | undefined): Refusal {
  switch (ev.type) {
    case 'machine.registered': {
      const d = ev.data;
      const m = rec as Rec<ServerCtx> | undefined;
      if (m?.c.roles[d.role] !== undefined) return `machine ${key} is already registered for the ${d.role} role`;
      if (d.role === 'storage' && (d.datadir === null || d.logdir === null || d.walLogDir === null)) {
        return 'a storage machine needs datadir, logdir and walLogDir';
      }
      if (d.role === 'computer' && d.compDatadir === null) return 'a computer machine needs compDatadir';
      if (d.portRange.lo > d.portRange.hi) return 'portRange: lo is above hi';
      return null;
    }
    case 'machine.updated': {
      const d = ev.data;
      const m = rec as Rec<ServerCtx> | undefined;
      if (m === undefined) return null; // the machine refuses: does not exist
      if (m.c.roles[d.role] === undefined) return `machine ${key} is not registered for the ${d.role} role`;
      if (d.portRange !== undefined) {
        const { lo, hi } = d.portRange;
        if (lo > hi) return 'portRange: lo is above hi';
        for (const p of w.hostPorts.get(hostRoleKey(String(key), d.role)) ?? []) {
          if (p < lo || p > hi) return `port ${p} in use on ${key} would fall outside ${lo}-${hi}`;
        }
      }
      return null;
    }
    case 'machine.removed': {
      const m = rec as Rec<ServerCtx> | undefined;
      if (m === undefined) return null;
      if (m.c.roles[ev.data.role] === undefined) return `machine ${key} is not registered for the ${ev.data.role} role`;
      const used = w.hostPorts.get(hostRoleKey(String(key), ev.data.role));
      return used === undefined ? null : `machine ${key} still runs ${used.size} ${ev.data.role} instance(s)`;
    }
    case 'machine.health_changed':
      return null;

    case 'cluster.created':
      return (
        nextId(w, 'cluster', key as number, 'cluster') ??
        (w.clusterByName.has(ev.data.name) ? `a cluster named ${ev.data.name} exists` : null)
      );
    case 'cluster.adopted':
      if (rec !== undefined) return `cluster/${key} exists`;
      return w.clusterByName.has(ev.data.name) ? `a cluster named ${ev.data.name} exists` : null;
    case 'cluster.deleted': {
      const shards = w.shardsOf.get(key as number)?.size ?? 0;
      const comps = w.compsOf.get(key as number)?.size ?? 0;
      return shards + comps === 0 ? null : `cluster/${key} still has ${shards} shard(s) and ${comps} compute node(s)`;
    }
    case 'cluster.status_changed':
      return null;

    case 'shard.added':
      return (
        nextId(w, 'shard', key as number, 'shard') ??
        clusterOpen(w, ev.data.cluster) ??
        (w.shardByName.has(nameKey(ev.data.cluster, ev.data.name))
          ? `cluster/${ev.data.cluster} already has a shard named ${ev.data.name}`
          : null)
      );
    case 'shard.adopted':
      if (rec !== undefined) return `shard/${key} exists`;
      if (liveCluster(w, ev.data.cluster) === undefined) return `cluster/${ev.data.cluster} does not exist`;
      return w.shardByName.has(nameKey(ev.data.cluster, ev.data.name))
        ? `cluster/${ev.data.cluster} already has a shard named ${ev.data.name}`
        : null;
    case 'shard.removed': {
      const sh = rec as Rec<ShardCtx> | undefined;
      if (sh === undefined) return null;
      const n = w.nodesOf.get(sh.c.id)?.size ?? 0;
      if (n > 0) return `shard/${key} still has ${n} node(s)`;
      return sh.c.task === null ? null : `shard/${key} is in failover task ${sh.c.task.task}`;
    }
    case 'shard.status_changed':
    case 'shard.no_switch_cleared':
      return null;
    case 'shard.primary_changed': {
      const sh = rec as Rec<ShardCtx> | undefined;
      if (sh === undefined) return null;
      const d = ev.data;
      const st = shardStates(runnerOf('shard').value(sh.s))!;
      if (d.prev !== sh.c.primary) return `shard/${key}'s primary is ${sh.c.primary ?? 'none'}, not ${d.prev ?? 'none'}`;
      if (d.node === d.prev) return `node/${d.node ?? 'none'} is already the primary of shard/${key}`;
      if (d.term < sh.c.primaryTerm) return `term ${d.term} is older than the term ${sh.c.primaryTerm} of the current primary`;
      if (d.node === null) {
        return st.lifecycle === 'deleting' ? null : `only a shard being deleted can be left without a primary`;
      }
      if (shardNode(w, sh.c.id, d.node) === undefined) return `node/${d.node} is not a node of shard/${key}`;
      if (sh.c.primary !== null && st.ha !== 'failing_over') {
        return `shard/${key} has a primary: it changes only in a failover or switchover task`;
      }
      return null;
    }
    case 'shard.failover_started': {
      const sh = rec as Rec<ShardCtx> | undefined;
      if (sh === undefined) return null;
      const d = ev.data;
      const refused = nextId(w, 'task', d.task, 'failover task');
      if (refused !== null) return refused;
      const st = shardStates(runnerOf('shard').value(sh.s))!;
      if (st.lifecycle !== 'inuse') return `shard/${key} is ${st.lifecycle}`;
      if (sh.c.primary === null) return `shard/${key} has no primary to fail over from`;
      if (d.from !== sh.c.primary) return `shard/${key}'s primary is node/${sh.c.primary}, not ${d.from ?? 'none'}`;
      if (d.target !== null) {
        if (shardNode(w, sh.c.id, d.target) === undefined) return `node/${d.target} is not a node of shard/${key}`;
        if (d.target === sh.c.primary) return `node/${d.target} is already the primary`;
      }
      if (sh.c.noSwitch !== null && sh.c.noSwitch.until > ev.at) {
        return `shard/${key} is in a no-switch window until ${sh.c.noSwitch.until}`;
      }
      return null;
    }
    case 'shard.failover_step':
    case 'shard.failover_aborted': {
      const sh = rec as Rec<ShardCtx> | undefined;
      return sh === undefined || sh.c.task === null ? null : taskMatches(sh, ev.data.task);
    }
    case 'shard.failover_finished': {
      const sh = rec as Rec<ShardCtx> | undefined;
      if (sh === undefined || sh.c.task === null) return null;
      const refused = taskMatches(sh, ev.data.task);
      if (refused !== null) return refused;
      if (ev.data.primary === sh.c.task.from) return `the task must end with a new primary (use failover_aborted)`;
      return ev.data.primary === sh.c.primary
        ? null
        : `the primary must be changed to node/${ev.data.primary} (shard.primary_changed) before the task finishes`;
    }
    case 'shard.no_switch_set':
      return ev.data.until > ev.at ? null : 'the no-switch window must end in the future';

    case 'node.added': {
      const d = ev.data;
      const sh = w.stores.shard.get(d.shard);
      if (sh === undefined) return `shard/${d.shard} does not exist`;
      if (sh.c.cluster !== d.cluster) return `shard/${d.shard} belongs to cluster/${sh.c.cluster}, not cluster/${d.cluster}`;
      if (shardStates(runnerOf('shard').value(sh.s))!.lifecycle === 'deleting') return `shard/${d.shard} is being deleted`;
      return (
        nextId(w, 'node', key as number, 'node') ??
        machineRole(w, d.hostaddr, 'storage', d.port) ??
        endpointFree(w, d.hostaddr, d.port)
      );
    }
    case 'node.adopted': {
      const d = ev.data;
      if (rec !== undefined) return `node/${key} exists`;
      const sh = w.stores.shard.get(d.shard);
      if (sh === undefined) return `shard/${d.shard} does not exist`;
      if (sh.c.cluster !== d.cluster) return `shard/${d.shard} belongs to cluster/${sh.c.cluster}, not cluster/${d.cluster}`;
      return endpointFree(w, d.hostaddr, d.port);
    }
    case 'node.role_changed': {
      const n = rec as Rec<NodeCtx> | undefined;
      if (n === undefined) return null;
      const src = ev.data.source;
      if (ev.data.role === 'source') return src === null ? null : 'a source has no source';
      if (src === null) return null;
      if (src === n.c.id) return 'a node cannot replicate from itself';
      return shardNode(w, n.c.shard, src) === undefined ? `node/${src} is not in shard/${n.c.shard}` : null;
    }
    case 'node.access_changed': {
      const n = rec as Rec<NodeCtx> | undefined;
      if (n === undefined || ev.data.access === 'read_only') return null;
      const st = nodeStates(runnerOf('node').value(n.s));
      if (st?.role !== 'source') return `node/${key} is a replica: only the primary may be writable`;
      const sh = w.stores.shard.get(n.c.shard);
      return sh?.c.primary === n.c.id ? null : `node/${key} is not the primary of shard/${n.c.shard}`;
    }
    case 'node.fenced': {
      const n = rec as Rec<NodeCtx> | undefined;
      if (n === undefined || ev.data.task === null) return null;
      const sh = w.stores.shard.get(n.c.shard);
      return sh === undefined ? null : taskMatches(sh, ev.data.task);
    }
    case 'node.rejoined': {
      const n = rec as Rec<NodeCtx> | undefined;
      if (n === undefined) return null;
      const src = ev.data.source;
      if (src === n.c.id) return 'a node cannot replicate from itself';
      const sh = w.stores.shard.get(n.c.shard);
      return sh?.c.primary === src ? null : `node/${src} is not the primary of shard/${n.c.shard}`;
    }
    case 'node.removed': {
      const n = rec as Rec<NodeCtx> | undefined;
      if (n === undefined) return null;
      const sh = w.stores.shard.get(n.c.shard);
      return sh?.c.primary === n.c.id ? `node/${key} is the primary of shard/${n.c.shard}` : null;
    }
    case 'node.moved': {
      const n = rec as Rec<NodeCtx> | undefined;
      if (n === undefined) return null;
      if (n.c.port !== ev.data.from) return `node/${key} is on port ${n.c.port}, not ${ev.data.from}`;
      return movedBy(w, ev.data.job) ?? machineRole(w, n.c.hostaddr, 'storage', ev.data.port) ?? endpointFree(w, n.c.hostaddr, ev.data.port);
    }
    case 'node.status_changed':
    case 'node.health_changed':
    case 'node.needs_rebuild':
      return null;

    case 'comp.added': {
      const d = ev.data;
      return (
        nextId(w, 'comp', key as number, 'compute node') ??
        clusterOpen(w, d.cluster) ??
        (w.compByName.has(nameKey(d.cluster, d.name)) ? `cluster/${d.cluster} already has a compute node ${d.name}` : null) ??
        machineRole(w, d.hostaddr, 'computer', d.port) ??
        endpointFree(w, d.hostaddr, d.port)
      );
    }
    case 'comp.adopted': {
      const d = ev.data;
      if (rec !== undefined) return `comp/${key} exists`;
      if (liveCluster(w, d.cluster) === undefined) return `cluster/${d.cluster} does not exist`;
      if (w.compByName.has(nameKey(d.cluster, d.name))) return `cluster/${d.cluster} already has a compute node ${d.name}`;
      return endpointFree(w, d.hostaddr, d.port);
    }
    case 'comp.moved': {
      const c = w.stores.comp.get(key as number);
      if (c === undefined) return null;
      if (c.c.port !== ev.data.from) return `comp/${key} is on port ${c.c.port}, not ${ev.data.from}`;
      return movedBy(w, ev.data.job) ?? machineRole(w, c.c.hostaddr, 'computer', ev.data.port) ?? endpointFree(w, c.c.hostaddr, ev.data.port);
    }
    case 'comp.status_changed':
    case 'comp.removed':
      return null;

    case 'job.created': {
      const d = ev.data;
      const refused = nextId(w, 'job', key as number, 'job');
      if (refused !== null) return refused;
      if (d.cluster !== null && liveCluster(w, d.cluster) === undefined) return `cluster/${d.cluster} does not exist`;
      if (d.parent !== null) {
        const p = w.stores.job.get(d.parent);
        if (p === undefined) return `job/${d.parent} does not exist`;
        if (!jobActive(runnerOf('job').value(p.s))) return `job/${d.parent} has ended`;
      }
      if (d.lock !== null) {
        if (parseAgg(d.lock) === null) return `lock ${JSON.stringify(d.lock)} is not an aggregate id`;
        const holder = w.locks.get(d.lock);
        if (holder !== undefined) return `${d.lock} is locked by job/${holder}`;
      }
      return null;
    }
    case 'job.step_started':
      return ev.data.index <= ev.data.total ? null : `step index ${ev.data.index} is above total ${ev.data.total}`;
    case 'job.step_finished': {
      const j = w.stores.job.get(key as number);
      const cur = j?.c.step;
      if (cur === null || cur === undefined) return null; // the machine refuses: no step running
      return cur.name === ev.data.step ? null : `the running step is ${cur.name}, not ${ev.data.step}`;
    }
    case 'job.step_progressed': {
      const cur = w.stores.job.get(key as number)?.c.step;
      if (cur === null || cur === undefined) return null; // the machine refuses: no step running
      return cur.name === ev.data.step ? null : `the running step is ${cur.name}, not ${ev.data.step}`;
    }
    case 'job.port_skipped':
    case 'job.instance_task':
    case 'job.done':
    case 'job.failed':
      return null;
    case 'job.pruned':
      return prunable(w, key as number, rec as Rec<Ctxs['job']> | undefined);

    case 'manager.leader_elected': {
      const cur = w.leader?.term ?? 0;
      return ev.data.term > cur ? null : `term ${ev.data.term} is not above the current term ${cur}`;
    }
    case 'manager.member_added':
    case 'manager.member_removed':
    case 'manager.ids_reserved': // counters only rise (applyEffects takes the maximum)
      return null;
    case 'manager.projection_row_failed': {
      const d = ev.data;
      const cur = w.projectionFailures.find((f) => f.table === d.table && f.key === d.key);
      return cur?.reason === d.reason ? `${d.table} row ${d.key} is already reported failing for this reason` : null;
    }
    case 'manager.projection_row_cleared': {
      const d = ev.data;
      return w.projectionFailures.some((f) => f.table === d.table && f.key === d.key) ? null : `${d.table} row ${d.key} is not reported failing`;
    }

    case 'backup_storage.created':
    case 'backup_storage.updated':
      return settingsProblem(ev.data);
    case 'backup_storage.removed': {
      const refs = backupsIn(w, String(key));
      return refs.length === 0 ? null : `backup storage ${key} still holds backups: ${refs.join(', ')}`;
    }
  }
}

/** World-level fields an applied event changes (counters, leader). */
export function applyEffects(w: WorldState, ev: DomainEvent, key: number | string, tx: Tx): void {
  switch (ev.type) {
    case 'cluster.created':
    case 'cluster.adopted':
      bump(w, 'cluster', key as number, tx);
      return;
    case 'shard.added':
    case 'shard.adopted':
      bump(w, 'shard', key as number, tx);
      return;
    case 'node.added':
    case 'node.adopted':
      bump(w, 'node', key as number, tx);
      return;
    case 'comp.added':
    case 'comp.adopted':
      bump(w, 'comp', key as number, tx);
      return;
    case 'job.created':
      bump(w, 'job', key as number, tx);
      return;
    case 'shard.failover_started':
      bump(w, 'task', ev.data.task, tx);
      return;
    case 'manager.leader_elected':
      tx.field(w, 'leader', { member: String(key), term: ev.data.term });
      return;
    case 'manager.member_removed':
      if (w.leader?.member === key) tx.field(w, 'leader', null);
      return;
    case 'manager.ids_reserved':
      for (const kind of ['cluster', 'shard', 'node', 'comp', 'job'] as const) bump(w, kind, ev.data[kind] - 1, tx);
      return;
    case 'manager.projection_row_failed': {
      const { table, key: row, reason } = ev.data;
      const rest = w.projectionFailures.filter((f) => f.table !== table || f.key !== row);
      const next = [...rest, { table, key: row, reason, since: ev.at, by: String(key) }];
      tx.field(w, 'projectionFailures', next.sort(byTableKey));
      return;
    }
    case 'manager.projection_row_cleared': {
      const { table, key: row } = ev.data;
      tx.field(w, 'projectionFailures', w.projectionFailures.filter((f) => f.table !== table || f.key !== row));
      return;
    }
    default:
      return;
  }
}

/** Table, then key as a number where both are numbers (ids), else as text. */
export function byTableKey(a: { table: string; key: string }, b: { table: string; key: string }): number {
  if (a.table !== b.table) return a.table < b.table ? -1 : 1;
  const d = Number(a.key) - Number(b.key);
  if (Number.isFinite(d) && d !== 0) return d;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

function bump(w: WorldState, kind: keyof Counters, id: number, tx: Tx): void {
  if (id + 1 > w.next[kind]) tx.field(w, 'next', { ...w.next, [kind]: id + 1 });
}

/**
 * Checked once per batch for every shard it touched: the primary is a node of the shard with role
 * source; no other node is a source; only the primary may be writable. A batch that would leave a
 * shard otherwise (two primaries, a writable replica) is refused whole.
 */
export function checkShardInvariants(w: WorldState, shard: number): Refusal {
  const sh = w.stores.shard.get(shard);
  if (sh === undefined) return null;
  const primary = sh.c.primary;
  const nodeRunner = runnerOf('node');
  if (primary !== null) {
    const p = shardNode(w, shard, primary);
    if (p === undefined) return `shard/${shard}'s primary node/${primary} is not one of its nodes`;
    if (nodeStates(nodeRunner.value(p.s))?.role !== 'source') {
      return `shard/${shard}'s primary node/${primary} is not a source (node.role_changed missing)`;
    }
  }
  for (const id of w.nodesOf.get(shard) ?? []) {
    if (id === primary) continue;
    const n = w.stores.node.get(id);
    const st = n === undefined ? null : nodeStates(nodeRunner.value(n.s));
    if (st === null) continue;
    if (st.role === 'source') return `node/${id} is a source but shard/${shard}'s primary is ${primary ?? 'none'}`;
    if (st.access === 'writable') return `node/${id} is writable but is not the primary of shard/${shard}`;
  }
  return null;
}
