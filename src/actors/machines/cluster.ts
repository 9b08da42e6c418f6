// The cluster aggregate (db_clusters): creating -> inuse -> deleting -> deleted.
import { assign, setup, type StateValue } from 'xstate';
import type { EventsOfKind } from '../../events/catalog.js';
import type { Json } from '../../events/schema.js';
import type { HaMode } from '../../events/vocab.js';
import type { AggregateLogic } from '../runner.js';
import { is } from './guards.js';

export type ClusterEvent = EventsOfKind<'cluster'>;

export interface ClusterCtx {
  id: number;
  name: string;
  nickName: string;
  haMode: HaMode;
  owner: string;
  business: string;
  /** The sizing the cluster was created with (db_clusters.memo keys), or the adopted memo as found. */
  memo: Json;
  compUser: string | null;
  /** Secret: redacted in views; reconcilers read it through World.clusterSecret(). */
  compPassword: string | null;
  adopted: boolean;
  createdAt: number;
  changedAt: number;
}

export function initCluster(key: number | string): ClusterCtx {
  return {
    id: Number(key),
    name: '',
    nickName: '',
    haMode: 'rbr',
    owner: '',
    business: '',
    memo: null,
    compUser: null,
    compPassword: null,
    adopted: false,
    createdAt: 0,
    changedAt: 0,
  };
}

export function reduceCluster(ctx: ClusterCtx, ev: ClusterEvent): ClusterCtx {
  switch (ev.type) {
    case 'cluster.created': {
      const d = ev.data;
      return {
        ...ctx,
        name: d.name,
        nickName: d.nickName,
        haMode: d.haMode,
        owner: d.owner,
        business: d.business,
        memo: {
          maxStorageSizeGB: d.maxStorageSizeGB,
          maxConnections: d.maxConnections,
          cpuCores: d.cpuCores,
          innodbSizeMB: d.innodbSizeMB,
          dbcfg: d.dbcfg,
        },
        compUser: d.compUser,
        compPassword: d.compPassword,
        createdAt: ev.at,
        changedAt: ev.at,
      };
    }
    case 'cluster.adopted': {
      const d = ev.data;
      return {
        ...ctx,
        name: d.name,
        nickName: d.nickName,
        haMode: d.haMode,
        owner: d.owner,
        business: d.business,
        memo: d.memo,
        compUser: d.compUser,
        compPassword: d.compPassword,
        adopted: true,
        createdAt: ev.at,
        changedAt: ev.at,
      };
    }
    case 'cluster.status_changed':
    case 'cluster.deleted':
      return { ...ctx, changedAt: ev.at };
  }
}

export function discCluster(_ctx: ClusterCtx, ev: ClusterEvent): string {
  return ev.type === 'cluster.status_changed' ? ev.data.status : '';
}

export const clusterMachine = setup({
  types: { context: {} as ClusterCtx, events: {} as ClusterEvent, input: {} as { key: number | string } },
  actions: { apply: assign(({ context, event }) => reduceCluster(context, event)) },
  guards: { is: ({ context, event }, p: { v: string }) => discCluster(context, event) === p.v },
}).createMachine({
  id: 'cluster',
  context: ({ input }) => initCluster(input.key),
  initial: 'absent',
  states: {
    absent: {
      on: {
        'cluster.created': { target: 'creating', actions: 'apply' },
        'cluster.adopted': { target: 'inuse', actions: 'apply' },
      },
    },
    creating: {
      on: {
        'cluster.status_changed': [
          { guard: is('inuse'), target: 'inuse', actions: 'apply' },
          // A failed creation is rolled back through deleting.
          { guard: is('deleting'), target: 'deleting', actions: 'apply' },
        ],
      },
    },
    inuse: { on: { 'cluster.status_changed': { guard: is('deleting'), target: 'deleting', actions: 'apply' } } },
    deleting: { on: { 'cluster.deleted': { target: 'deleted', actions: 'apply' } } },
    deleted: { type: 'final' },
  },
});

export const clusterLogic: AggregateLogic<ClusterCtx, ClusterEvent> = {
  kind: 'cluster',
  machine: clusterMachine,
  init: initCluster,
  reduce: reduceCluster,
  disc: discCluster,
  gone: (v: StateValue) => v === 'deleted',
};
