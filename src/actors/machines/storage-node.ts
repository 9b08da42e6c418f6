// The storage node aggregate (shard_nodes): five independent regions, so each fact has one place:
// lifecycle (shard_nodes.status), role (member_state), access (what the manager set: nodes start
// read-only), health (the leader's probe conclusions) and repair (fenced / needs rebuild / ok).
import { assign, setup, type StateValue } from 'xstate';
import type { EventsOfKind, Evidence } from '../../events/catalog.js';
import {
  HEALTHS,
  INSTANCE_STATUSES,
  type FenceMethod,
  type Health,
  type InstanceStatus,
  type RejoinMethod,
  type SyncState,
} from '../../events/vocab.js';
import type { AggregateLogic } from '../runner.js';
import { is, toOthers } from './guards.js';

export type NodeEvent = EventsOfKind<'node'>;

export interface NodeCtx {
  id: number;
  cluster: number;
  shard: number;
  hostaddr: string;
  port: number;
  syncState: SyncState;
  masterPriority: number;
  innodbBufferPoolMB: number;
  /** The node this replica replicates from (null for a primary, or unknown). */
  source: number | null;
  healthAt: number | null;
  evidence: Evidence | null;
  fence: { method: FenceMethod; task: number | null; at: number; evidence: Evidence } | null;
  rebuild: { reason: string; at: number; evidence: Evidence } | null;
  rejoin: { source: number; method: RejoinMethod; at: number } | null;
  adopted: boolean;
  createdAt: number;
  changedAt: number;
}

export function initNode(key: number | string): NodeCtx {
  return {
    id: Number(key),
    cluster: 0,
    shard: 0,
    hostaddr: '',
    port: 0,
    syncState: 'fsync',
    masterPriority: 0,
    innodbBufferPoolMB: 0,
    source: null,
    healthAt: null,
    evidence: null,
    fence: null,
    rebuild: null,
    rejoin: null,
    adopted: false,
    createdAt: 0,
    changedAt: 0,
  };
}

export function reduceNode(ctx: NodeCtx, ev: NodeEvent): NodeCtx {
  const at = ev.at;
  switch (ev.type) {
    case 'node.added':
    case 'node.adopted': {
      const d = ev.data;
      return {
        ...ctx,
        cluster: d.cluster,
        shard: d.shard,
        hostaddr: d.hostaddr,
        port: d.port,
        syncState: d.syncState,
        masterPriority: d.masterPriority,
        innodbBufferPoolMB: ev.type === 'node.added' ? ev.data.innodbBufferPoolMB : 0,
        adopted: ev.type === 'node.adopted',
        createdAt: at,
        changedAt: at,
      };
    }
    case 'node.moved':
      return { ...ctx, port: ev.data.port, changedAt: at };
    case 'node.status_changed':
    case 'node.access_changed':
    case 'node.removed':
      return { ...ctx, changedAt: at };
    case 'node.role_changed':
      return { ...ctx, source: ev.data.role === 'source' ? null : ev.data.source, changedAt: at };
    case 'node.health_changed':
      return { ...ctx, healthAt: at, evidence: ev.data.evidence, changedAt: at };
    case 'node.fenced':
      return { ...ctx, fence: { method: ev.data.method, task: ev.data.task, at, evidence: ev.data.evidence }, changedAt: at };
    case 'node.needs_rebuild':
      return { ...ctx, rebuild: { reason: ev.data.reason, at, evidence: ev.data.evidence }, changedAt: at };
    case 'node.rejoined':
      return {
        ...ctx,
        source: ev.data.source,
        fence: null,
        rebuild: null,
        rejoin: { source: ev.data.source, method: ev.data.method, at },
        changedAt: at,
      };
  }
}

export function discNode(_ctx: NodeCtx, ev: NodeEvent): string {
  switch (ev.type) {
    case 'node.adopted':
    case 'node.status_changed':
      return ev.data.status;
    case 'node.role_changed':
      return ev.data.role;
    case 'node.access_changed':
      return ev.data.access;
    case 'node.health_changed':
      return ev.data.health;
    default:
      return '';
  }
}

const lifecycle = (current: InstanceStatus) => ({ on: { 'node.status_changed': toOthers(INSTANCE_STATUSES, current) } });
const health = (current: Health | null) => ({ on: { 'node.health_changed': toOthers(HEALTHS, current) } });

export const storageNodeMachine = setup({
  types: { context: {} as NodeCtx, events: {} as NodeEvent, input: {} as { key: number | string } },
  actions: { apply: assign(({ context, event }) => reduceNode(context, event)) },
  guards: { is: ({ context, event }, p: { v: string }) => discNode(context, event) === p.v },
}).createMachine({
  id: 'node',
  context: ({ input }) => initNode(input.key),
  initial: 'absent',
  states: {
    absent: {
      on: {
        'node.added': { target: 'present', actions: 'apply' },
        'node.adopted': [
          { guard: is('creating'), target: 'present', actions: 'apply' },
          { guard: is('inactive'), target: 'present.lifecycle.inactive', actions: 'apply' },
          { guard: is('active'), target: 'present.lifecycle.active', actions: 'apply' },
          { guard: is('manual_stop'), target: 'present.lifecycle.manual_stop', actions: 'apply' },
        ],
      },
    },
    present: {
      type: 'parallel',
      on: { 'node.removed': { target: 'removed', actions: 'apply' } },
      states: {
        lifecycle: {
          initial: 'creating',
          states: {
            // Only a node not installed yet may move to another port.
            creating: { on: { ...lifecycle('creating').on, 'node.moved': { actions: 'apply' } } },
            inactive: lifecycle('inactive'),
            active: lifecycle('active'),
            manual_stop: lifecycle('manual_stop'),
          },
        },
        role: {
          initial: 'replica',
          states: {
            replica: {
              on: {
                'node.role_changed': [
                  { guard: is('source'), target: 'source', actions: 'apply' },
                  // A replica re-pointed to another source stays a replica.
                  { guard: is('replica'), actions: 'apply' },
                ],
              },
            },
            source: { on: { 'node.role_changed': { guard: is('replica'), target: 'replica', actions: 'apply' } } },
          },
        },
        access: {
          initial: 'read_only',
          states: {
            read_only: { on: { 'node.access_changed': { guard: is('writable'), target: 'writable', actions: 'apply' } } },
            writable: { on: { 'node.access_changed': { guard: is('read_only'), target: 'read_only', actions: 'apply' } } },
          },
        },
        health: {
          // Unknown until the leader's first conclusion; observers report changes only.
          initial: 'unknown',
          states: {
            unknown: health(null),
            alive: health('alive'),
            unreachable: health('unreachable'),
            dead: health('dead'),
            busy: health('busy'),
          },
        },
        repair: {
          initial: 'ok',
          states: {
            ok: {
              on: {
                'node.fenced': { target: 'fenced', actions: 'apply' },
                'node.needs_rebuild': { target: 'needs_rebuild', actions: 'apply' },
              },
            },
            fenced: {
              on: {
                'node.needs_rebuild': { target: 'needs_rebuild', actions: 'apply' },
                'node.rejoined': { target: 'ok', actions: 'apply' },
              },
            },
            needs_rebuild: { on: { 'node.rejoined': { target: 'ok', actions: 'apply' } } },
          },
        },
      },
    },
    removed: { type: 'final' },
  },
});

export const storageNodeLogic: AggregateLogic<NodeCtx, NodeEvent> = {
  kind: 'node',
  machine: storageNodeMachine,
  init: initNode,
  reduce: reduceNode,
  disc: discNode,
  gone: (v: StateValue) => v === 'removed',
};
