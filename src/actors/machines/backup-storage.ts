// The backup storage aggregate (backup_storage rows): a named place backups go to, of one kind (a
// directory, an S3 bucket, an HDFS namenode), with the settings of that kind. Keyed by its name.
import { assign, setup, type StateValue } from 'xstate';
import type { EventData, EventsOfKind } from '../../events/catalog.js';
import type { AggregateLogic } from '../runner.js';

export type BackupStorageEvent = EventsOfKind<'backup_storage'>;

/** The settings of a storage as the events carry them (only its kind's fields set). */
export type BackupStorageSettings = EventData<'backup_storage.created'>;

export interface BackupStorageCtx extends BackupStorageSettings {
  name: string;
  createdAt: number;
  changedAt: number;
}

export function initBackupStorage(key: number | string): BackupStorageCtx {
  return {
    name: String(key),
    stype: 'fs',
    path: null,
    hostaddr: null,
    port: null,
    endpoint: null,
    bucket: null,
    prefix: null,
    region: null,
    credentialsFile: null,
    credentialsEnv: null,
    createdAt: 0,
    changedAt: 0,
  };
}

export function reduceBackupStorage(ctx: BackupStorageCtx, ev: BackupStorageEvent): BackupStorageCtx {
  switch (ev.type) {
    case 'backup_storage.created':
      return { ...ctx, ...ev.data, createdAt: ev.at, changedAt: ev.at };
    case 'backup_storage.updated':
      return { ...ctx, ...ev.data, changedAt: ev.at };
    case 'backup_storage.removed':
      return { ...ctx, changedAt: ev.at };
  }
}

export const backupStorageMachine = setup({
  types: { context: {} as BackupStorageCtx, events: {} as BackupStorageEvent, input: {} as { key: number | string } },
  actions: { apply: assign(({ context, event }) => reduceBackupStorage(context, event)) },
}).createMachine({
  id: 'backup_storage',
  context: ({ input }) => initBackupStorage(input.key),
  initial: 'absent',
  states: {
    absent: { on: { 'backup_storage.created': { target: 'registered', actions: 'apply' } } },
    registered: {
      on: {
        'backup_storage.updated': { actions: 'apply' },
        'backup_storage.removed': { target: 'removed', actions: 'apply' },
      },
    },
    removed: { type: 'final' },
  },
});

export const backupStorageLogic: AggregateLogic<BackupStorageCtx, BackupStorageEvent> = {
  kind: 'backup_storage',
  machine: backupStorageMachine,
  init: initBackupStorage,
  reduce: reduceBackupStorage,
  disc: () => '',
  gone: (v: StateValue) => v === 'removed',
};
