// Commands the HA side proposes: probe conclusions, primary designation, failover/switchover tasks,
// fencing and rejoining, and no-switch windows. Each checks the shard's current state first.
import type { Evidence } from '../../events/catalog.js';
import type { Access, FailoverKind, FailoverStep, FenceMethod, Health, RejoinMethod } from '../../events/vocab.js';
import type { NodeView, ShardView } from '../views.js';
import type { World } from '../world.js';
import { Emitter, refuse, type CommandResult, type Refusal } from './common.js';

export type HaCommand =
  | { kind: 'node.set_health'; node: number; health: Health; evidence: Evidence }
  | { kind: 'node.set_access'; node: number; access: Access }
  | { kind: 'node.fence'; node: number; method: FenceMethod; task?: number; evidence: Evidence }
  | { kind: 'node.mark_needs_rebuild'; node: number; reason: string; evidence: Evidence }
  | { kind: 'node.rejoin'; node: number; method: RejoinMethod }
  | { kind: 'shard.set_primary'; shard: number; node: number; term: number }
  | {
      kind: 'failover.start';
      shard: number;
      failoverKind: FailoverKind;
      /** The node to promote (required by a manual switch with assign_hostaddr), or none: elect one. */
      target?: number;
      term: number;
      evidence: Evidence;
    }
  | { kind: 'failover.step'; shard: number; task: number; step: FailoverStep; ok: boolean; info?: string; candidate?: number }
  | { kind: 'failover.finish'; shard: number; task: number; primary: number; term: number }
  | { kind: 'failover.abort'; shard: number; task: number; code: number; reason: string; evidence?: Evidence }
  | { kind: 'shard.set_no_switch'; cluster?: number; shard?: number; until: number; reason: string }
  | { kind: 'shard.clear_no_switch'; cluster?: number; shard?: number };

function getNode(world: World, id: number): NodeView | Refusal {
  return world.node(id) ?? refuse('not_found', `node ${id} does not exist`, 'node');
}

function getShard(world: World, id: number): ShardView | Refusal {
  return world.shard(id) ?? refuse('not_found', `shard ${id} does not exist`, 'shard_id', 70140);
}

const isRefusal = (x: object): x is Refusal => 'ok' in x && (x as Refusal).ok === false;

function runningTask(s: ShardView, task: number): Refusal | null {
  if (s.task === null) return refuse('invalid_state', `shard ${s.id} has no failover task running`, 'task');
  return s.task.task === task ? null : refuse('conflict', `shard ${s.id} runs task ${s.task.task}, not ${task}`, 'task');
}

/** Shards a no-switch command addresses: one shard, or every shard of a cluster. */
function scope(world: World, cmd: { cluster?: number; shard?: number }): ShardView[] | Refusal {
  if (cmd.shard !== undefined) {
    const s = getShard(world, cmd.shard);
    if (isRefusal(s)) return s;
    if (cmd.cluster !== undefined && s.cluster !== cmd.cluster) {
      return refuse('invalid_argument', `shard ${s.id} is not in cluster ${cmd.cluster}`, 'shard_id');
    }
    return [s];
  }
  if (cmd.cluster === undefined) return refuse('invalid_argument', 'give a cluster or a shard', 'cluster_id');
  const c = world.cluster(cmd.cluster);
  if (c === null) return refuse('not_found', `cluster ${cmd.cluster} does not exist`, 'cluster_id', 70098);
  if (c.shards.length === 0) return refuse('not_found', `cluster ${cmd.cluster} has no shards`, 'cluster_id');
  return c.shards.map((id) => world.shard(id)!);
}

export function checkHa(world: World, cmd: HaCommand, e: Emitter): CommandResult {
  switch (cmd.kind) {
    case 'node.set_health': {
      const n = getNode(world, cmd.node);
      if (isRefusal(n)) return n;
      if (n.health === cmd.health) return refuse('no_change', `node ${n.id} is already ${cmd.health}`);
      return e.emit('node.health_changed', `node/${n.id}`, { health: cmd.health, evidence: cmd.evidence }).done();
    }
    case 'node.set_access': {
      const n = getNode(world, cmd.node);
      if (isRefusal(n)) return n;
      if (n.access === cmd.access) return refuse('no_change', `node ${n.id} is already ${cmd.access}`);
      if (cmd.access === 'writable' && world.primaryOf(n.shard) !== n.id) {
        return refuse('invalid_state', `node ${n.id} is not the primary of shard ${n.shard}: it must stay read-only`, 'node');
      }
      return e.emit('node.access_changed', `node/${n.id}`, { access: cmd.access }).done();
    }
    case 'node.fence': {
      const n = getNode(world, cmd.node);
      if (isRefusal(n)) return n;
      if (n.repair !== 'ok') return refuse('no_change', `node ${n.id} is already ${n.repair}`);
      if (cmd.task !== undefined) {
        const s = getShard(world, n.shard);
        if (isRefusal(s)) return s;
        const bad = runningTask(s, cmd.task);
        if (bad !== null) return bad;
      }
      // Fencing means it cannot take writes: the model drops its write access in the same batch.
      if (n.access === 'writable') e.emit('node.access_changed', `node/${n.id}`, { access: 'read_only' });
      return e
        .emit('node.fenced', `node/${n.id}`, { method: cmd.method, task: cmd.task ?? null, evidence: cmd.evidence })
        .done();
    }
    case 'node.mark_needs_rebuild': {
      const n = getNode(world, cmd.node);
      if (isRefusal(n)) return n;
      if (n.repair === 'needs_rebuild') return refuse('no_change', `node ${n.id} already needs a rebuild`);
      if (world.primaryOf(n.shard) === n.id) {
        return refuse('invalid_state', `node ${n.id} is the primary of shard ${n.shard}: switch it first`, 'node');
      }
      return e.emit('node.needs_rebuild', `node/${n.id}`, { reason: cmd.reason, evidence: cmd.evidence }).done();
    }
    case 'node.rejoin': {
      const n = getNode(world, cmd.node);
      if (isRefusal(n)) return n;
      if (n.repair === 'ok') return refuse('no_change', `node ${n.id} is neither fenced nor waiting for a rebuild`);
      if (n.repair === 'needs_rebuild' && cmd.method !== 'rebuild') {
        return refuse('invalid_state', `node ${n.id} needs a rebuild, not ${cmd.method}`, 'method');
      }
      const primary = world.primaryOf(n.shard);
      if (primary === null || primary === n.id) {
        return refuse('invalid_state', `shard ${n.shard} has no other primary to replicate from`, 'node');
      }
      if (n.memberState === 'source') {
        e.emit('node.role_changed', `node/${n.id}`, { role: 'replica', source: primary });
      }
      return e.emit('node.rejoined', `node/${n.id}`, { source: primary, method: cmd.method }).done();
    }
    case 'shard.set_primary': {
      const s = getShard(world, cmd.shard);
      if (isRefusal(s)) return s;
      if (s.primary !== null) {
        return refuse('invalid_state', `shard ${s.id} has primary ${s.primary}: change it with a switchover`, 'shard_id');
      }
      const n = world.node(cmd.node);
      if (n === null || n.shard !== s.id) return refuse('invalid_argument', `node ${cmd.node} is not in shard ${s.id}`, 'node');
      if (n.repair !== 'ok') return refuse('invalid_state', `node ${n.id} is ${n.repair}`, 'node');
      if (n.memberState !== 'source') e.emit('node.role_changed', `node/${n.id}`, { role: 'source', source: null });
      e.emit('shard.primary_changed', `shard/${s.id}`, { node: n.id, prev: null, term: cmd.term });
      for (const other of s.nodes) {
        if (other === n.id) continue;
        const o = world.node(other)!;
        if (o.memberState === 'source' || o.source !== n.id) {
          e.emit('node.role_changed', `node/${other}`, { role: 'replica', source: n.id });
        }
      }
      return e.done();
    }

    case 'failover.start': {
      const s = getShard(world, cmd.shard);
      if (isRefusal(s)) return s;
      if (s.task !== null) return refuse('busy', `shard ${s.id} is already in failover task ${s.task.task}`, 'shard_id');
      if (s.status !== 'inuse') return refuse('invalid_state', `shard ${s.id} is ${s.status}`, 'shard_id');
      if (s.primary === null) return refuse('invalid_state', `shard ${s.id} has no primary`, 'shard_id');
      if (s.noSwitch !== null && s.noSwitch.until > e.ctx.at) {
        return refuse('no_switch', `shard ${s.id} is in a no-switch window until ${s.noSwitch.until} (${s.noSwitch.reason})`, 'shard_id', 70014);
      }
      if (cmd.target !== undefined) {
        const t = world.node(cmd.target);
        if (t === null || t.shard !== s.id) {
          return refuse('invalid_argument', `node ${cmd.target} is not in shard ${s.id}`, 'assign_hostaddr', 70035);
        }
        if (t.id === s.primary) return refuse('no_change', `node ${t.id} is already the primary`, 'assign_hostaddr');
        if (t.health !== 'alive') return refuse('invalid_state', `node ${t.id} is ${t.health}`, 'assign_hostaddr', 70019);
        if (t.repair !== 'ok') return refuse('invalid_state', `node ${t.id} is ${t.repair}`, 'assign_hostaddr');
      }
      const task = e.ids.take('task');
      return e
        .emit('shard.failover_started', `shard/${s.id}`, {
          task,
          kind: cmd.failoverKind,
          from: s.primary,
          target: cmd.target ?? null,
          term: cmd.term,
          evidence: cmd.evidence,
        })
        .done();
    }
    case 'failover.step': {
      const s = getShard(world, cmd.shard);
      if (isRefusal(s)) return s;
      const bad = runningTask(s, cmd.task);
      if (bad !== null) return bad;
      if (cmd.candidate !== undefined && !s.nodes.includes(cmd.candidate)) {
        return refuse('invalid_argument', `node ${cmd.candidate} is not in shard ${s.id}`, 'candidate');
      }
      return e
        .emit('shard.failover_step', `shard/${s.id}`, {
          task: cmd.task,
          step: cmd.step,
          ok: cmd.ok,
          info: cmd.info ?? '',
          candidate: cmd.candidate ?? null,
        })
        .done();
    }
    case 'failover.finish': {
      const s = getShard(world, cmd.shard);
      if (isRefusal(s)) return s;
      const bad = runningTask(s, cmd.task);
      if (bad !== null) return bad;
      const old = s.primary;
      const p = world.node(cmd.primary);
      if (p === null || p.shard !== s.id) return refuse('invalid_argument', `node ${cmd.primary} is not in shard ${s.id}`, 'primary');
      if (p.id === old) return refuse('no_change', `node ${p.id} is still the primary: abort the task instead`, 'primary');
      if (p.repair !== 'ok') return refuse('invalid_state', `node ${p.id} is ${p.repair}`, 'primary');
      if (p.health === 'dead' || p.health === 'unreachable') {
        return refuse('invalid_state', `node ${p.id} is ${p.health}`, 'primary');
      }
      // The old primary loses write access and becomes a replica of the new one; the new one becomes
      // the source and writable (the promote step made it so); every other replica follows it.
      if (old !== null) {
        const o = world.node(old);
        if (o?.access === 'writable') e.emit('node.access_changed', `node/${old}`, { access: 'read_only' });
        if (o !== null) e.emit('node.role_changed', `node/${old}`, { role: 'replica', source: p.id });
      }
      if (p.memberState !== 'source') e.emit('node.role_changed', `node/${p.id}`, { role: 'source', source: null });
      e.emit('shard.primary_changed', `shard/${s.id}`, { node: p.id, prev: old, term: cmd.term });
      if (p.access !== 'writable') e.emit('node.access_changed', `node/${p.id}`, { access: 'writable' });
      for (const other of s.nodes) {
        if (other === p.id || other === old) continue;
        const o = world.node(other)!;
        if (o.memberState === 'source' || o.source !== p.id) {
          e.emit('node.role_changed', `node/${other}`, { role: 'replica', source: p.id });
        }
      }
      return e.emit('shard.failover_finished', `shard/${s.id}`, { task: cmd.task, primary: p.id }).done();
    }
    case 'failover.abort': {
      const s = getShard(world, cmd.shard);
      if (isRefusal(s)) return s;
      const bad = runningTask(s, cmd.task);
      if (bad !== null) return bad;
      return e
        .emit('shard.failover_aborted', `shard/${s.id}`, {
          task: cmd.task,
          code: cmd.code,
          reason: cmd.reason,
          evidence: cmd.evidence ?? null,
        })
        .done();
    }

    case 'shard.set_no_switch': {
      if (cmd.until <= e.ctx.at) return refuse('invalid_argument', 'the window must end in the future', 'timeout');
      const shards = scope(world, cmd);
      if (isRefusal(shards)) return shards;
      for (const s of shards) e.emit('shard.no_switch_set', `shard/${s.id}`, { until: cmd.until, reason: cmd.reason });
      return e.done();
    }
    case 'shard.clear_no_switch': {
      const shards = scope(world, cmd);
      if (isRefusal(shards)) return shards;
      const on = shards.filter((s) => s.noSwitch !== null);
      if (on.length === 0) return refuse('no_change', 'no no-switch window is set there');
      for (const s of on) e.emit('shard.no_switch_cleared', `shard/${s.id}`, {});
      return e.done();
    }
  }
}
