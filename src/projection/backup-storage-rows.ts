// backup_storage rows from the world's backup storages. A row is matched by name and keeps its id;
// new rows get ids above the table's. Rows cluster_mgr wrote say so in `extra` (MANAGED): those whose
// storage the world no longer has are deleted; rows other tools wrote (the original's HDFS rows) stay.
import type { BackupStorageView } from '../actors/index.js';
import { connStr, credentialsSource } from '../backup-storage/describe.js';
import type { BackupStorage, StorageType } from '../metadata/index.js';

export const MANAGED = 'cluster_mgr';

/** The table's spelling of each kind (its enum has no directory kind: OTHER). */
const STYPE: Record<BackupStorageView['stype'], StorageType> = { fs: 'OTHER', s3: 'S3', HDFS: 'HDFS' };

function managed(r: BackupStorage): boolean {
  try {
    return (JSON.parse(r.extra ?? 'null') as { managed_by?: unknown } | null)?.managed_by === MANAGED;
  } catch {
    return false;
  }
}

export function backupStorageRows(world: readonly BackupStorageView[], current: readonly BackupStorage[]): BackupStorage[] {
  const byName = new Map(current.flatMap((r) => (r.name === null ? [] : [[r.name, r] as const])));
  let nextId = Math.max(0, ...current.map((r) => r.id)) + 1;
  const out: BackupStorage[] = world.map((b) => {
    // Only what the world knows, and where keys are read from: never a key.
    const extra: Record<string, string> = { managed_by: MANAGED, stype: b.stype };
    for (const k of ['path', 'endpoint', 'bucket', 'prefix', 'region'] as const) if (b[k] !== null) extra[k] = b[k];
    const cred = credentialsSource(b);
    if (cred !== null) extra.credentials = cred;
    return {
      id: byName.get(b.name)?.id ?? nextId++,
      name: b.name,
      stype: STYPE[b.stype],
      connStr: connStr(b),
      hostaddr: b.hostaddr,
      port: b.port,
      extra: JSON.stringify(extra),
    };
  });
  const names = new Set(world.map((b) => b.name));
  for (const r of current) if (!(r.name !== null && names.has(r.name)) && !managed(r)) out.push(r);
  return out;
}
