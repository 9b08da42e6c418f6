// The backups the world knows: each shard_coldbackup job (its request names the cluster, shard and
// storage; its recorded steps and result the node, keys, sizes and GTID position). Pure: the listing
// (Emit, REST), the cluster_coldbackups projection and the storage-deletion rule read the same records.
import type { Json } from '../events/schema.js';
import type { WorldState } from './state.js';
import { jobView, type JobView } from './views.js';

/** The job type of one shard's backup (src/jobs/types/backup.ts defines it). */
export const SHARD_BACKUP_JOB = 'shard_coldbackup';

export interface BackupRecord {
  job_id: number;
  parent_job_id: number | null;
  cluster_id: number;
  shard_id: number;
  backup_storage: string;
  status: JobView['status'];
  /** Leader-stamped epoch ms. */
  started_at: number;
  ended_at: number | null;
  /** "<hostaddr>:<port>" of the node copied, once chosen; why it was. */
  node: string;
  why: string;
  bytes: number;
  stored_bytes: number;
  sha256: string;
  gtid: string;
  binlog_file: string;
  binlog_pos: number;
  data_key: string;
  manifest_key: string;
  error_info: string;
  /** What verify found (restored into a scratch server), or null when not verified. */
  verify: { [k: string]: Json } | null;
}

type O = { [k: string]: Json };
const asObj = (v: Json | undefined): O => (v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) ? v : {});
const s = (o: O, k: string): string => (typeof o[k] === 'string' ? o[k] : '');
const n = (o: O, k: string): number => (typeof o[k] === 'number' ? o[k] : 0);

function stepInfo(j: JobView, step: string): O {
  const st = j.steps.find((x) => x.step === step && x.ok);
  if (st === undefined || st.info === '') return {};
  try {
    return asObj(JSON.parse(st.info) as Json);
  } catch {
    return {};
  }
}

export function backupRecord(j: JobView): BackupRecord {
  const r = asObj(j.request);
  const res = j.status === 'done' ? asObj(j.result) : {};
  const chosen = stepInfo(j, 'choose_node');
  const data = stepInfo(j, 'backup_data');
  return {
    job_id: j.id,
    parent_job_id: j.parent,
    cluster_id: n(r, 'cluster_id'),
    shard_id: n(r, 'shard_id'),
    backup_storage: s(r, 'backup_storage'),
    status: j.status,
    started_at: j.createdAt,
    ended_at: j.endedAt,
    node: s(chosen, 'hostaddr') === '' ? '' : `${s(chosen, 'hostaddr')}:${n(chosen, 'port')}`,
    why: s(chosen, 'why'),
    bytes: n(data, 'bytes'),
    stored_bytes: n(data, 'stored_bytes'),
    sha256: s(data, 'sha256'),
    gtid: s(data, 'gtid'),
    binlog_file: s(data, 'binlog_file'),
    binlog_pos: n(data, 'binlog_pos'),
    data_key: s(res, 'data_key'),
    manifest_key: s(res, 'manifest_key'),
    error_info: j.status === 'failed' ? j.errorInfo : '',
    verify: j.steps.some((x) => x.step === 'verify' && x.ok) ? stepInfo(j, 'verify') : null,
  };
}

/** Every shard backup, oldest first. */
export function backupRecords(w: WorldState): BackupRecord[] {
  const out: BackupRecord[] = [];
  for (const [, rec] of [...w.stores.job].sort((a, b) => a[0] - b[0])) {
    if (rec.c.jobType === SHARD_BACKUP_JOB) out.push(backupRecord(jobView(w, rec)));
  }
  return out;
}
