// What the world requires of a backup storage, shared by the leader's command check and apply: the
// settings its kind needs, and what still refers to it (a storage holding backups a cluster needs is
// not deleted).
import type { BackupStorageSettings } from './machines/backup-storage.js';
import type { WorldState } from './state.js';
import { backupRecords } from './backups.js';

/** A storage's settings alone (without its name and times). */
export function storageSettings(v: BackupStorageSettings & { name: string; createdAt: number; changedAt: number }): BackupStorageSettings {
  const { name: _n, createdAt: _c, changedAt: _ch, ...s } = v;
  return s;
}

/** Why these settings do not describe a storage of their kind (naming the field), or null. */
export function settingsProblem(s: BackupStorageSettings): string | null {
  const need = (fields: ReadonlyArray<keyof BackupStorageSettings>): string | null => {
    const missing = fields.filter((f) => s[f] === null);
    return missing.length === 0 ? null : `an ${s.stype} backup storage needs ${missing.join(', ')}`;
  };
  const none = (fields: ReadonlyArray<keyof BackupStorageSettings>): string | null => {
    const extra = fields.filter((f) => s[f] !== null);
    return extra.length === 0 ? null : `${extra.join(', ')} do not apply to an ${s.stype} backup storage`;
  };
  const S3 = ['endpoint', 'bucket', 'prefix', 'region', 'credentialsFile', 'credentialsEnv'] as const;
  switch (s.stype) {
    case 'fs':
      return need(['path']) ?? none(['hostaddr', 'port', ...S3]);
    case 'HDFS':
      return need(['hostaddr', 'port']) ?? none(['path', ...S3]);
    case 's3':
      return need(['bucket']) ?? none(['path', 'hostaddr', 'port']) ?? (s.credentialsFile !== null && s.credentialsEnv !== null ? 'credentialsFile and credentialsEnv exclude each other' : null);
  }
}

/**
 * What refers to the backup storage `name` ("cluster 3: backup 12" …): deleting it is refused while
 * this is not empty. A backup a cluster still needs: one that ended done, of a cluster that exists.
 */
export function backupsIn(w: WorldState, name: string): string[] {
  return backupRecords(w)
    .filter((b) => b.backup_storage === name && b.status === 'done' && b.deleted_by === null && w.stores.cluster.has(b.cluster_id))
    .map((b) => `cluster ${b.cluster_id}: backup ${b.job_id}`);
}
