// cluster_coldbackups rows from the world's shard backups (shard_coldbackup jobs), as XPanel's backup
// list reads them: storage_id the backup_storage row of the storage, backup_type 'storage', status
// that of the job, start_ts/end_ts its times, memo a JSON object naming the job (rows are matched by
// it), backup_addr the storage's conn_str and the backup's directory once stored. A backup retention
// deleted loses its row.
import { recordsOf, type BackupStorageView, type JobView } from '../actors/index.js';
import { connStr } from '../backup-storage/describe.js';
import type { BackupStorage, ColdBackup } from '../metadata/index.js';

export function coldBackupRows(jobs: readonly JobView[], storages: readonly BackupStorageView[], storageRows: readonly BackupStorage[]): ColdBackup[] {
  const rowId = new Map(storageRows.flatMap((r) => (r.name === null ? [] : [[r.name, r.id] as const])));
  const byName = new Map(storages.map((s) => [s.name, s]));
  return recordsOf(jobs).map((b) => {
      const store = byName.get(b.backup_storage);
      const dir = b.manifest_key.replace(/\/[^/]*$/, '');
      const { job_id, node, why, bytes, stored_bytes, sha256, gtid, binlog_file, binlog_pos, data_key, manifest_key, error_info, verify } = b;
      return {
        jobId: b.job_id,
        deleted: b.deleted_by !== null,
        storageId: rowId.get(b.backup_storage) ?? null,
        clusterId: b.cluster_id,
        shardId: b.shard_id,
        backupType: 'storage',
        status: b.status,
        startTs: b.started_at,
        endTs: b.ended_at,
        memo: JSON.stringify({ job_id, backup_storage: b.backup_storage, node, why, bytes, stored_bytes, sha256, gtid, binlog_file, binlog_pos, data_key, manifest_key, error_info, verify }),
        backupAddr: store !== undefined && b.manifest_key !== '' ? `${connStr(store)}/${dir}` : '',
      };
    });
}
