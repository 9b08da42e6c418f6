// The compute node aggregate (comp_nodes): status creating / inactive / active / manual_stop.
import { assign, setup, type StateValue } from 'xstate';
import type { EventsOfKind } from '../../events/catalog.js';
import { INSTANCE_STATUSES, type InstanceStatus } from '../../events/vocab.js';
import type { AggregateLogic } from '../runner.js';
import { is, toOthers } from './guards.js';

export type CompEvent = EventsOfKind<'comp'>;

export interface CompCtx {
  id: number;
  cluster: number;
  name: string;
  hostaddr: string;
  port: number;
  adopted: boolean;
  createdAt: number;
  changedAt: number;
}

export function initComp(key: number | string): CompCtx {
  return { id: Number(key), cluster: 0, name: '', hostaddr: '', port: 0, adopted: false, createdAt: 0, changedAt: 0 };
}

export function reduceComp(ctx: CompCtx, ev: CompEvent): CompCtx {
  switch (ev.type) {
    case 'comp.added':
    case 'comp.adopted':
      return {
        ...ctx,
        cluster: ev.data.cluster,
        name: ev.data.name,
        hostaddr: ev.data.hostaddr,
        port: ev.data.port,
        adopted: ev.type === 'comp.adopted',
        createdAt: ev.at,
        changedAt: ev.at,
      };
    case 'comp.moved':
      return { ...ctx, port: ev.data.port, changedAt: ev.at };
    case 'comp.status_changed':
    case 'comp.removed':
      return { ...ctx, changedAt: ev.at };
  }
}

export function discComp(_ctx: CompCtx, ev: CompEvent): string {
  return ev.type === 'comp.adopted' || ev.type === 'comp.status_changed' ? ev.data.status : '';
}

const status = (current: InstanceStatus) => ({ on: { 'comp.status_changed': toOthers(INSTANCE_STATUSES, current) } });

export const computeNodeMachine = setup({
  types: { context: {} as CompCtx, events: {} as CompEvent, input: {} as { key: number | string } },
  actions: { apply: assign(({ context, event }) => reduceComp(context, event)) },
  guards: { is: ({ context, event }, p: { v: string }) => discComp(context, event) === p.v },
}).createMachine({
  id: 'comp',
  context: ({ input }) => initComp(input.key),
  initial: 'absent',
  states: {
    absent: {
      on: {
        'comp.added': { target: 'present', actions: 'apply' },
        'comp.adopted': [
          { guard: is('creating'), target: 'present.creating', actions: 'apply' },
          { guard: is('inactive'), target: 'present.inactive', actions: 'apply' },
          { guard: is('active'), target: 'present.active', actions: 'apply' },
          { guard: is('manual_stop'), target: 'present.manual_stop', actions: 'apply' },
        ],
      },
    },
    present: {
      initial: 'creating',
      on: { 'comp.removed': { target: 'removed', actions: 'apply' } },
      states: {
        // Only a compute node not installed yet may move to another port.
        creating: { on: { ...status('creating').on, 'comp.moved': { actions: 'apply' } } },
        inactive: status('inactive'),
        active: status('active'),
        manual_stop: status('manual_stop'),
      },
    },
    removed: { type: 'final' },
  },
});

export const computeNodeLogic: AggregateLogic<CompCtx, CompEvent> = {
  kind: 'comp',
  machine: computeNodeMachine,
  init: initComp,
  reduce: reduceComp,
  disc: discComp,
  gone: (v: StateValue) => v === 'removed',
};
