// The machine (server) aggregate: a host registered for the storage and/or computer role
// (server_nodes rows), and its node-agent liveness (node_stats).
import { assign, setup, type StateValue } from 'xstate';
import type { EventsOfKind, Evidence } from '../../events/catalog.js';
import { MACHINE_ROLES, NODE_STATS, type MachineRole, type NodeStats } from '../../events/vocab.js';
import type { AggregateLogic } from '../runner.js';
import { is, toOthers } from './guards.js';

export type ServerEvent = EventsOfKind<'machine'>;

export interface RoleSpec {
  rackId: string;
  datadir: string | null;
  logdir: string | null;
  walLogDir: string | null;
  compDatadir: string | null;
  portRange: { lo: number; hi: number };
  totalMemMB: number;
  totalCpuCores: number;
  agentPort: number | null;
  registeredAt: number;
}

export interface ServerCtx {
  host: string;
  roles: Partial<Record<MachineRole, RoleSpec>>;
  statsAt: number | null;
  evidence: Evidence | null;
  changedAt: number;
}

export function initServer(key: number | string): ServerCtx {
  return { host: String(key), roles: {}, statsAt: null, evidence: null, changedAt: 0 };
}

export function reduceServer(ctx: ServerCtx, ev: ServerEvent): ServerCtx {
  switch (ev.type) {
    case 'machine.registered': {
      const { role, ...spec } = ev.data;
      return { ...ctx, roles: { ...ctx.roles, [role]: { ...spec, registeredAt: ev.at } }, changedAt: ev.at };
    }
    case 'machine.updated': {
      const { role, ...changes } = ev.data;
      const prev = ctx.roles[role];
      if (prev === undefined) return ctx;
      return { ...ctx, roles: { ...ctx.roles, [role]: { ...prev, ...changes } }, changedAt: ev.at };
    }
    case 'machine.removed': {
      const roles = { ...ctx.roles };
      delete roles[ev.data.role];
      return { ...ctx, roles, changedAt: ev.at };
    }
    case 'machine.health_changed':
      return { ...ctx, statsAt: ev.at, evidence: ev.data.evidence, changedAt: ev.at };
  }
}

export function discServer(ctx: ServerCtx, ev: ServerEvent): string {
  switch (ev.type) {
    case 'machine.removed':
      return MACHINE_ROLES.some((r) => r !== ev.data.role && ctx.roles[r] !== undefined) ? 'more' : 'last';
    case 'machine.health_changed':
      return ev.data.stats;
    default:
      return '';
  }
}

const health = (current: NodeStats | null) => ({ on: { 'machine.health_changed': toOthers(NODE_STATS, current) } });

export const serverMachine = setup({
  types: { context: {} as ServerCtx, events: {} as ServerEvent, input: {} as { key: number | string } },
  actions: { apply: assign(({ context, event }) => reduceServer(context, event)) },
  guards: { is: ({ context, event }, p: { v: string }) => discServer(context, event) === p.v },
}).createMachine({
  id: 'machine',
  context: ({ input }) => initServer(input.key),
  initial: 'absent',
  states: {
    absent: { on: { 'machine.registered': { target: 'registered', actions: 'apply' } } },
    registered: {
      // Health starts unknown until the leader's first conclusion about the node agent.
      initial: 'unknown',
      on: {
        'machine.registered': { actions: 'apply' },
        'machine.updated': { actions: 'apply' },
        'machine.removed': [
          { guard: is('last'), target: 'removed', actions: 'apply' },
          { guard: is('more'), actions: 'apply' },
        ],
      },
      states: { unknown: health(null), running: health('running'), idle: health('idle'), dead: health('dead') },
    },
    removed: { type: 'final' },
  },
});

export const serverLogic: AggregateLogic<ServerCtx, ServerEvent> = {
  kind: 'machine',
  machine: serverMachine,
  init: initServer,
  reduce: reduceServer,
  disc: discServer,
  gone: (v: StateValue) => v === 'removed',
};
