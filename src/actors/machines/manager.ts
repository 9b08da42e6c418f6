// The manager member aggregate (cluster_mgr_nodes): a member of the Raft group, and the terms it led.
import { assign, setup, type StateValue } from 'xstate';
import type { EventsOfKind } from '../../events/catalog.js';
import type { AggregateLogic } from '../runner.js';

export type ManagerEvent = EventsOfKind<'manager'>;

export interface ManagerCtx {
  id: string;
  host: string;
  raftPort: number;
  httpPort: number;
  prometheusPort: number | null;
  joinedAt: number;
  electedTerm: number | null;
  electedAt: number | null;
}

export function initManager(key: number | string): ManagerCtx {
  return {
    id: String(key),
    host: '',
    raftPort: 0,
    httpPort: 0,
    prometheusPort: null,
    joinedAt: 0,
    electedTerm: null,
    electedAt: null,
  };
}

export function reduceManager(ctx: ManagerCtx, ev: ManagerEvent): ManagerCtx {
  switch (ev.type) {
    case 'manager.member_added':
      return { ...ctx, ...ev.data, joinedAt: ev.at };
    case 'manager.leader_elected':
      return { ...ctx, electedTerm: ev.data.term, electedAt: ev.at };
    case 'manager.member_removed':
    case 'manager.ids_reserved':
    case 'manager.projection_row_failed':
    case 'manager.projection_row_cleared':
      return ctx;
  }
}

export const managerMachine = setup({
  types: { context: {} as ManagerCtx, events: {} as ManagerEvent, input: {} as { key: number | string } },
  actions: { apply: assign(({ context, event }) => reduceManager(context, event)) },
}).createMachine({
  id: 'manager',
  context: ({ input }) => initManager(input.key),
  initial: 'absent',
  states: {
    absent: { on: { 'manager.member_added': { target: 'member', actions: 'apply' } } },
    member: {
      on: {
        // Which member leads (and that terms only grow) is a world rule across members.
        'manager.leader_elected': { actions: 'apply' },
        // The counters are world fields (rules.ts); the member only records who reserved.
        'manager.ids_reserved': { actions: 'apply' },
        // The failing projection rows are a world field too (rules.ts), reported by the leader.
        'manager.projection_row_failed': { actions: 'apply' },
        'manager.projection_row_cleared': { actions: 'apply' },
        'manager.member_removed': { target: 'removed', actions: 'apply' },
      },
    },
    removed: { type: 'final' },
  },
});

export const managerLogic: AggregateLogic<ManagerCtx, ManagerEvent> = {
  kind: 'manager',
  machine: managerMachine,
  init: initManager,
  reduce: reduceManager,
  disc: () => '',
  gone: (v: StateValue) => v === 'removed',
};
