// manual_backup_cluster (cluster_mgr-api.md §3.12) and its per-shard child shard_coldbackup (§3.27):
// their one definition. The steps are in src/jobs/handlers/backup.ts.
import type { JobView, World } from '../../actors/index.js';
import { refuse } from '../../actors/commands/common.js';
import type { ParaReader } from '../../actors/commands/paras.js';
import { BACKUP_STORAGE_NAME_RE } from '../../events/envelope.js';
import type { JobTypeDefinition, JsonSchema, QueryDefinition } from '../definition.js';
import {
  BACKUP_CLUSTER_STEPS,
  E_BACKUP_CLUSTER,
  E_BACKUP_FAILED,
  manualBackupCluster,
  manualBackupClusterRollback,
  SHARD_BACKUP_STEPS,
  shardColdBackup,
  shardColdBackupRollback,
} from '../handlers/backup.js';
import { clusterById, clusterLock, fail } from './world-checks.js';
import { childJobs, requestOf, text } from './xpanel.js';

/** The storage a backup goes to: the one named, else the first created (the original took the first row). */
function storageFor(world: World, p: ParaReader): string {
  if (p.has('backup_storage')) {
    const name = p.str('backup_storage', { errno: E_BACKUP_FAILED, max: 64, pattern: BACKUP_STORAGE_NAME_RE, patternHelp: 'a backup storage name' });
    if (world.backupStorage(name) === null) fail(refuse('not_found', `backup storage ${name} does not exist`, 'paras.backup_storage', E_BACKUP_FAILED));
    return name;
  }
  const all = world.view().backupStorages;
  const first = [...all].sort((a, b) => a.createdAt - b.createdAt || (a.name < b.name ? -1 : 1))[0];
  if (first === undefined) fail(refuse('invalid_state', 'no backup storage exists: create one with create_backup_storage first', 'paras.backup_storage', E_BACKUP_FAILED));
  return first.name;
}

const SHARD_ENTRY: JsonSchema = {
  type: 'object',
  description: 'one shard backup: its shard_coldbackup job, status, step, the node copied and why, bytes and MB/s so far or in all, and its keys once stored',
  properties: {
    shard_id: { type: 'string' },
    job_id: { type: 'string' },
    status: { type: 'string', enum: ['not_started', 'ongoing', 'done', 'failed'] },
    step: { type: 'string' },
    node: { type: 'string', description: '"<hostaddr>:<port>" once chosen' },
    why: { type: 'string' },
    bytes: { type: 'integer' },
    mb_per_s: { type: 'number' },
    gtid: { type: 'string', optional: true },
    manifest_key: { type: 'string', optional: true },
    error_info: { type: 'string', optional: true },
  },
};

function parseJson(text: string | undefined): Record<string, unknown> {
  if (text === undefined || text === '') return {};
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A shard backup as get_status of its parent shows it. */
export function shardEntry(child: JobView): Record<string, unknown> {
  const r = requestOf(child);
  const res = child.status === 'done' ? parseJson(JSON.stringify(child.result)) : {};
  const chosen = parseJson(child.steps.find((s) => s.step === SHARD_BACKUP_STEPS[0] && s.ok)?.info);
  const streamed = parseJson(child.steps.find((s) => s.step === SHARD_BACKUP_STEPS[1] && s.ok)?.info);
  const note = child.step?.name === SHARD_BACKUP_STEPS[1] ? parseJson(child.step.note) : {};
  const figures = streamed.bytes !== undefined ? streamed : note;
  return {
    shard_id: text(r, 'shard_id') || String(typeof r.shard_id === 'number' ? r.shard_id : ''),
    job_id: String(child.id),
    status: child.status,
    step: child.status === 'done' ? 'done' : (child.step?.name ?? ''),
    node: typeof chosen.hostaddr === 'string' && typeof chosen.port === 'number' ? `${chosen.hostaddr}:${chosen.port}` : '',
    why: typeof chosen.why === 'string' ? chosen.why : '',
    bytes: Number(figures.bytes ?? 0),
    mb_per_s: Number(figures.mb_per_s ?? 0),
    ...(typeof res.gtid === 'string' ? { gtid: res.gtid } : {}),
    ...(typeof res.manifest_key === 'string' ? { manifest_key: res.manifest_key } : {}),
    ...(child.status === 'failed' ? { error_info: child.errorInfo } : {}),
  };
}

export const manualBackupClusterJob: JobTypeDefinition = {
  kind: 'job',
  name: 'manual_backup_cluster',
  role: 'operator',
  sync: false,
  internal: false,
  summary: 'physical backup of every storage shard of a cluster into a backup storage, one shard_coldbackup child per shard in parallel; ends when they end',
  missingParas: E_BACKUP_CLUSTER,
  paras: {
    cluster_id: { kind: 'int', min: 1, max: 4_294_967_295, required: true, missing: E_BACKUP_CLUSTER, bad: E_BACKUP_CLUSTER, help: 'the cluster to back up' },
    backup_storage: { kind: 'string', maxLen: 64, pattern: BACKUP_STORAGE_NAME_RE, patternHelp: 'a backup storage name', bad: E_BACKUP_FAILED, help: 'the backup storage to write to (absent: the first one created)' },
    keep_count: { kind: 'int', min: 0, max: 100_000, bad: E_BACKUP_FAILED, help: 'retention after this backup: keep the newest N of each shard (0: no count limit; absent: backup_keep_count)' },
    keep_days: { kind: 'int', min: 0, max: 100_000, bad: E_BACKUP_FAILED, help: 'retention after this backup: delete backups older than this many days (0: no age limit; absent: backup_keep_days); the newest of a shard is always kept' },
    pv_limit: { kind: 'int', min: 0, max: 100_000, def: 0, bad: E_BACKUP_FAILED, help: 'MB/s read from each backup node (spares its disk; 0: no limit)' },
    verify: { kind: 'int', min: 0, max: 1, def: 0, bad: E_BACKUP_FAILED, help: '"1": restore each shard backup into a scratch server and check it (CHECK TABLE, rows, checksums, GTID position) before the job ends' },
  },
  accept(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', E_BACKUP_CLUSTER);
    const storage = storageFor(world, p);
    const shards = world.shardsOf(cluster);
    if (shards.length === 0) fail(refuse('invalid_state', `cluster ${cluster} has no storage shard to back up`, 'paras.cluster_id', E_BACKUP_CLUSTER));
    for (const s of shards) {
      if (world.shard(s)!.primary === null) fail(refuse('invalid_state', `shard ${s} of cluster ${cluster} has no primary: nothing to back up from until it has one`, 'paras.cluster_id', E_BACKUP_CLUSTER));
    }
    const keep = (k: string) => (p.has(k) ? { [k]: p.int(k, { min: 0, max: 100_000, errno: E_BACKUP_FAILED }) } : {});
    const request = { cluster_id: cluster, backup_storage: storage, shards, verify: p.optInt('verify', 0, { min: 0, max: 1, errno: E_BACKUP_FAILED }), pv_limit: p.optInt('pv_limit', 0, { min: 0, max: 100_000, errno: E_BACKUP_FAILED }), ...keep('keep_count'), ...keep('keep_days') };
    return { request, cluster, lock: clusterLock(cluster) };
  },
  steps: BACKUP_CLUSTER_STEPS,
  run: manualBackupCluster,
  rollback: manualBackupClusterRollback,
  attachment: {
    description: 'the storage and one entry per shard backup (its child job, node, why that node, progress)',
    keys: { backup_storage: { type: 'string' }, shards: { type: 'array', items: SHARD_ENTRY } },
    build: (job, world) => ({ backup_storage: text(requestOf(job), 'backup_storage'), shards: childJobs(world, job).filter((k) => k.jobType === 'shard_coldbackup').map(shardEntry) }),
  },
  writes: ['cluster_coldbackups'],
};

/** One shard's backup, a child of manual_backup_cluster (the original's shard_coldbackup row). */
export const shardColdBackupJob: JobTypeDefinition = {
  kind: 'job',
  name: 'shard_coldbackup',
  role: 'operator',
  sync: false,
  internal: true,
  summary: "one shard's physical backup, a child of manual_backup_cluster",
  missingParas: 70001,
  paras: {},
  steps: SHARD_BACKUP_STEPS,
  run: shardColdBackup,
  rollback: shardColdBackupRollback,
  attachment: { description: 'the common keys; the result holds the node, keys, sizes, SHA-256 and GTID position', keys: {} },
  writes: ['cluster_coldbackups'],
};

const BACKUP_ENTRY: JsonSchema = {
  type: 'object',
  description: 'one shard backup (a shard_coldbackup job): where it is, from which node, its sizes, SHA-256 and GTID position',
  properties: {
    job_id: { type: 'integer' },
    parent_job_id: { type: ['integer', 'null'] },
    cluster_id: { type: 'integer' },
    shard_id: { type: 'integer' },
    backup_storage: { type: 'string' },
    status: { type: 'string', enum: ['not_started', 'ongoing', 'done', 'failed'] },
    started_at: { type: 'integer', description: 'epoch ms' },
    ended_at: { type: ['integer', 'null'] },
    node: { type: 'string' },
    why: { type: 'string' },
    bytes: { type: 'integer', description: 'the xbstream as sent' },
    stored_bytes: { type: 'integer', description: 'compressed, as stored' },
    sha256: { type: 'string', description: 'of the stored object' },
    gtid: { type: 'string', description: 'GTID position at the copy point' },
    binlog_file: { type: 'string' },
    binlog_pos: { type: 'integer' },
    data_key: { type: 'string' },
    manifest_key: { type: 'string' },
    error_info: { type: 'string' },
    verify: { type: ['object', 'null'], description: 'what verify found: gtid, gtid_slave_pos, tables, rows, checksums_sha256, seconds (null: not verified)' },
  },
};

/** The backups, as GET /api/v1/backups lists them too (the original has no such type: XPanel reads cluster_coldbackups). */
export const getClusterBackupsQuery: QueryDefinition = {
  kind: 'query',
  sync: true,
  internal: false,
  name: 'get_cluster_backups',
  role: 'read',
  summary: 'the shard backups of one cluster or of all, oldest first',
  missingParas: 70001,
  paras: { cluster_id: { kind: 'int', min: 1, max: 4_294_967_295, bad: E_BACKUP_CLUSTER, help: 'only this cluster\'s (absent: every cluster\'s)' } },
  attachment: { description: 'list_backup: one entry per shard backup', keys: { list_backup: { type: 'array', items: BACKUP_ENTRY } } },
};
