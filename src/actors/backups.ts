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
  /** Deleted by retention (the manual_backup_cluster job whose retention step removed it), or null. */
  deleted_by: number | null;
}

/** The step of manual_backup_cluster that applies retention; its info lists the backups it deleted. */
export const RETENTION_STEP = 'retention';
export const BACKUP_CLUSTER_JOB = 'manual_backup_cluster';

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
    deleted_by: null,
  };
}

/** Backup job ids a retention step deleted, by the job that did it (its recorded step info). */
function deletions(jobs: Iterable<JobView>): Map<number, number> {
  const out = new Map<number, number>();
  for (const j of jobs) {
    if (j.jobType !== BACKUP_CLUSTER_JOB) continue;
    const ids = stepInfo(j, RETENTION_STEP).deleted;
    if (Array.isArray(ids)) for (const id of ids) if (typeof id === 'number') out.set(id, j.id);
  }
  return out;
}

/** Every shard backup of these jobs (in id order), with what retention deleted marked. */
export function recordsOf(jobs: readonly JobView[]): BackupRecord[] {
  const gone = deletions(jobs);
  return jobs.filter((j) => j.jobType === SHARD_BACKUP_JOB).map((j) => ({ ...backupRecord(j), deleted_by: gone.get(j.id) ?? null }));
}

/**
 * What retention deletes of a cluster's backups at `now` (epoch ms): per shard, among its done
 * backups not yet deleted, those beyond the newest `keepCount` or older than `keepDays` (0: no such
 * limit). Never the newest done backup of a shard, nor one in `needed` (a running restore's).
 */
export function retentionVictims(records: readonly BackupRecord[], cluster: number, keep: { count: number; days: number }, now: number, needed: ReadonlySet<number>): BackupRecord[] {
  if (keep.count <= 0 && keep.days <= 0) return [];
  const byShard = new Map<number, BackupRecord[]>();
  for (const b of records) {
    if (b.cluster_id !== cluster || b.status !== 'done' || b.deleted_by !== null) continue;
    byShard.set(b.shard_id, [...(byShard.get(b.shard_id) ?? []), b]);
  }
  const out: BackupRecord[] = [];
  for (const list of byShard.values()) {
    const newestFirst = [...list].sort((a, b) => (b.ended_at ?? 0) - (a.ended_at ?? 0) || b.job_id - a.job_id);
    newestFirst.forEach((b, i) => {
      if (i === 0 || needed.has(b.job_id)) return;
      const tooMany = keep.count > 0 && i >= keep.count;
      const tooOld = keep.days > 0 && now - (b.ended_at ?? now) > keep.days * 86_400_000;
      if (tooMany || tooOld) out.push(b);
    });
  }
  return out.sort((a, b) => a.job_id - b.job_id);
}

/** Every shard backup, oldest first, deleted ones marked. */
export function backupRecords(w: WorldState): BackupRecord[] {
  const jobs: JobView[] = [];
  for (const [, rec] of [...w.stores.job].sort((a, b) => a[0] - b[0])) {
    if (rec.c.jobType === SHARD_BACKUP_JOB || rec.c.jobType === BACKUP_CLUSTER_JOB) jobs.push(jobView(w, rec));
  }
  return recordsOf(jobs);
}
