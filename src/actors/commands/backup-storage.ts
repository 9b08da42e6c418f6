// Commands that record backup storages (backup_storage rows). The create and update jobs check the
// storage itself first (a probe object written, read and deleted); these check the world only.
import { settingsProblem, storageSettings } from '../backup-storages.js';
import type { BackupStorageSettings } from '../machines/backup-storage.js';
import type { World } from '../world.js';
import { refuse, type CommandResult, type Emitter } from './common.js';

/** The original's numbers (cluster_mgr-api.md §3.17): name exists, name does not exist, storage error. */
export const E_STORAGE_EXISTS = 70201;
export const E_STORAGE_NOT_FOUND = 70202;
export const E_STORAGE_IN_USE = 70204;

export type BackupStorageCommand =
  | { kind: 'backup_storage.create'; name: string; settings: BackupStorageSettings }
  | { kind: 'backup_storage.update'; name: string; settings: BackupStorageSettings }
  | { kind: 'backup_storage.delete'; name: string };

/** Why the storage `name` cannot be deleted now (something still refers to it), or null. */
export function deleteRefusal(name: string, refs: readonly string[]) {
  return refs.length === 0 ? null : refuse('invalid_state', `backup storage ${name} still holds backups: ${refs.join(', ')}`, 'paras.name', E_STORAGE_IN_USE);
}

export function checkBackupStorage(world: World, cmd: BackupStorageCommand, e: Emitter): CommandResult {
  const agg = `backup_storage/${cmd.name}` as const;
  const cur = world.backupStorage(cmd.name);
  switch (cmd.kind) {
    case 'backup_storage.create': {
      if (cur !== null) return refuse('already_exists', `backup storage ${cmd.name} exists`, 'paras.name', E_STORAGE_EXISTS);
      const bad = settingsProblem(cmd.settings);
      if (bad !== null) return refuse('invalid_argument', bad, 'paras');
      return e.emit('backup_storage.created', agg, { ...cmd.settings }).done();
    }
    case 'backup_storage.update': {
      if (cur === null) return refuse('not_found', `backup storage ${cmd.name} does not exist`, 'paras.name', E_STORAGE_NOT_FOUND);
      const bad = settingsProblem(cmd.settings);
      if (bad !== null) return refuse('invalid_argument', bad, 'paras');
      const now = storageSettings(cur);
      if (JSON.stringify(now) === JSON.stringify({ ...now, ...cmd.settings })) return refuse('no_change', `backup storage ${cmd.name} already has these settings`);
      return e.emit('backup_storage.updated', agg, { ...cmd.settings }).done();
    }
    case 'backup_storage.delete': {
      if (cur === null) return refuse('not_found', `backup storage ${cmd.name} does not exist`, 'paras.name', E_STORAGE_NOT_FOUND);
      return deleteRefusal(cmd.name, world.backupsIn(cmd.name)) ?? e.emit('backup_storage.removed', agg, {}).done();
    }
  }
}
