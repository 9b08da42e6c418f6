// The shard aggregate (shards): lifecycle, the primary as the manager knows it, at most one failover or
// switchover task at a time, and the no-switch window.
import { assign, setup, type StateValue } from 'xstate';
import type { EventsOfKind, Evidence } from '../../events/catalog.js';
import type { FailoverKind, FailoverStep } from '../../events/vocab.js';
import type { AggregateLogic } from '../runner.js';
import { is } from './guards.js';

export type ShardEvent = EventsOfKind<'shard'>;

export interface FailoverStepRecord {
  step: FailoverStep;
  ok: boolean;
  info: string;
  candidate: number | null;
  at: number;
}

export interface FailoverTask {
  task: number;
  kind: FailoverKind;
  from: number | null;
  target: number | null;
  term: number;
  startedAt: number;
  evidence: Evidence;
  /** Steps recorded so far; every step is an event (the rbr_consfailover rows come from those). */
  steps: number;
  /** The latest step: where a new leader resumes the task. */
  lastStep: FailoverStepRecord | null;
  /** The latest candidate a step named (the elected node). */
  candidate: number | null;
}

export interface FailoverOutcome {
  task: number;
  kind: FailoverKind;
  outcome: 'finished' | 'aborted';
  primary: number | null;
  code: number;
  reason: string;
  startedAt: number;
  endedAt: number;
}

export interface ShardCtx {
  id: number;
  cluster: number;
  name: string;
  syncNum: number;
  primary: number | null;
  /** The term of the leader that last set the primary (fencing token). */
  primaryTerm: number;
  primaryAt: number | null;
  task: FailoverTask | null;
  last: FailoverOutcome | null;
  noSwitch: { until: number; reason: string; at: number } | null;
  adopted: boolean;
  createdAt: number;
  changedAt: number;
}

export function initShard(key: number | string): ShardCtx {
  return {
    id: Number(key),
    cluster: 0,
    name: '',
    syncNum: 0,
    primary: null,
    primaryTerm: 0,
    primaryAt: null,
    task: null,
    last: null,
    noSwitch: null,
    adopted: false,
    createdAt: 0,
    changedAt: 0,
  };
}

export function reduceShard(ctx: ShardCtx, ev: ShardEvent): ShardCtx {
  const at = ev.at;
  switch (ev.type) {
    case 'shard.added':
    case 'shard.adopted':
      return {
        ...ctx,
        cluster: ev.data.cluster,
        name: ev.data.name,
        syncNum: ev.data.syncNum,
        adopted: ev.type === 'shard.adopted',
        createdAt: at,
        changedAt: at,
      };
    case 'shard.status_changed':
    case 'shard.removed':
      return { ...ctx, changedAt: at };
    case 'shard.primary_changed':
      return { ...ctx, primary: ev.data.node, primaryTerm: ev.data.term, primaryAt: at, changedAt: at };
    case 'shard.failover_started': {
      const d = ev.data;
      const task: FailoverTask = {
        task: d.task,
        kind: d.kind,
        from: d.from,
        target: d.target,
        term: d.term,
        startedAt: at,
        evidence: d.evidence,
        steps: 0,
        lastStep: null,
        candidate: null,
      };
      return { ...ctx, task, changedAt: at };
    }
    case 'shard.failover_step': {
      if (ctx.task === null) return ctx;
      const d = ev.data;
      const lastStep: FailoverStepRecord = { step: d.step, ok: d.ok, info: d.info, candidate: d.candidate, at };
      const task: FailoverTask = {
        ...ctx.task,
        steps: ctx.task.steps + 1,
        lastStep,
        candidate: d.candidate ?? ctx.task.candidate,
      };
      return { ...ctx, task, changedAt: at };
    }
    case 'shard.failover_finished':
    case 'shard.failover_aborted': {
      const t = ctx.task;
      if (t === null) return ctx;
      const finished = ev.type === 'shard.failover_finished';
      const last: FailoverOutcome = {
        task: t.task,
        kind: t.kind,
        outcome: finished ? 'finished' : 'aborted',
        primary: finished ? ev.data.primary : ctx.primary,
        code: finished ? 0 : ev.data.code,
        reason: finished ? '' : ev.data.reason,
        startedAt: t.startedAt,
        endedAt: at,
      };
      return { ...ctx, task: null, last, changedAt: at };
    }
    case 'shard.no_switch_set':
      return { ...ctx, noSwitch: { until: ev.data.until, reason: ev.data.reason, at }, changedAt: at };
    case 'shard.no_switch_cleared':
      return { ...ctx, noSwitch: null, changedAt: at };
  }
}

export function discShard(_ctx: ShardCtx, ev: ShardEvent): string {
  return ev.type === 'shard.status_changed' ? ev.data.status : '';
}

export const shardMachine = setup({
  types: { context: {} as ShardCtx, events: {} as ShardEvent, input: {} as { key: number | string } },
  actions: { apply: assign(({ context, event }) => reduceShard(context, event)) },
  guards: { is: ({ context, event }, p: { v: string }) => discShard(context, event) === p.v },
}).createMachine({
  id: 'shard',
  context: ({ input }) => initShard(input.key),
  initial: 'absent',
  states: {
    absent: {
      on: {
        'shard.added': { target: 'present', actions: 'apply' },
        'shard.adopted': { target: 'present.lifecycle.inuse', actions: 'apply' },
      },
    },
    present: {
      type: 'parallel',
      on: {
        'shard.removed': { target: 'removed', actions: 'apply' },
        // Who may change the primary, and when, is a world rule (it needs the nodes and the task).
        'shard.primary_changed': { actions: 'apply' },
      },
      states: {
        lifecycle: {
          initial: 'creating',
          states: {
            creating: {
              on: {
                'shard.status_changed': [
                  { guard: is('inuse'), target: 'inuse', actions: 'apply' },
                  { guard: is('deleting'), target: 'deleting', actions: 'apply' },
                ],
              },
            },
            inuse: { on: { 'shard.status_changed': { guard: is('deleting'), target: 'deleting', actions: 'apply' } } },
            deleting: {},
          },
        },
        ha: {
          initial: 'normal',
          states: {
            normal: { on: { 'shard.failover_started': { target: 'failing_over', actions: 'apply' } } },
            failing_over: {
              on: {
                'shard.failover_step': { actions: 'apply' },
                'shard.failover_finished': { target: 'normal', actions: 'apply' },
                'shard.failover_aborted': { target: 'normal', actions: 'apply' },
              },
            },
          },
        },
        noSwitch: {
          initial: 'off',
          states: {
            off: { on: { 'shard.no_switch_set': { target: 'on', actions: 'apply' } } },
            on: {
              on: {
                'shard.no_switch_set': { actions: 'apply' },
                'shard.no_switch_cleared': { target: 'off', actions: 'apply' },
              },
            },
          },
        },
      },
    },
    removed: { type: 'final' },
  },
});

export const shardLogic: AggregateLogic<ShardCtx, ShardEvent> = {
  kind: 'shard',
  machine: shardMachine,
  init: initShard,
  reduce: reduceShard,
  disc: discShard,
  gone: (v: StateValue) => v === 'removed',
};
