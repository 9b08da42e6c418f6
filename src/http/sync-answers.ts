// Answers of the sync Emit jobs that read only the world: get_status (the fixed contract of the API
// reference §11.4), get_cluster_summary, get_cluster_detail and list_noswitch. Pure functions of a
// World, so the caller decides how fresh that world is (see emit-backend.ts: after a ReadIndex).
import type { World } from '../actors/index.js';
import type { Refusal } from '../actors/index.js';
import { skippedPortsShown, type JobView } from '../actors/views.js';
import { setOwn } from '../events/json-limits.js';
import { E } from './error-codes.js';
import { refusalText } from '../actors/commands/paras-spec.js';
import type { SyncResult } from './emit-route.js';
import { JOB_DEFINITIONS } from '../jobs/types/index.js';
import { connStr, credentialsSource } from '../backup-storage/describe.js';
import type { JobRow } from '../metadata/index.js';

/** Keys a job result may hold that must never be answered (the original returned the password). */
const SECRET_KEY = /passw|pwd|secret|token/i;

/** A copy without keys that name secrets (job results are written by handlers; never answer them). */
export function withoutSecretKeys(v: unknown, depth = 0): unknown {
  if (depth > 8 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => withoutSecretKeys(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (!SECRET_KEY.test(k)) setOwn(out, k, withoutSecretKeys(x, depth + 1));
  return out;
}

/** A refused command as an answer of `jobType`: the original's number when there is one, the field and the reason. */
export function refusalAnswer(jobType: string, r: Refusal, extra: { job_id?: string; job_type?: string } = {}): SyncResult {
  return { status: 'failed', error_code: r.errno ?? E.PARAMETER_ERROR, error_info: refusalText(jobType, r.field, r.reason), ...extra };
}

/** `jobType` failed: error_info names it, then what is wrong (`paras.<field>: <reason>` where a field is at fault). */
export function failedAnswer(jobType: string, code: number, info: string, extra: { job_id?: string; job_type?: string } = {}): SyncResult {
  return { status: 'failed', error_code: code, error_info: refusalText(jobType, undefined, info), ...extra };
}

/**
 * get_status: the job's status, its id and type at the top level, error_code/error_info from the job,
 * and as attachment the job's result with the request's cluster, the current step and the progress.
 */
export function jobStatus(world: World, jobIdText: string): SyncResult {
  const id = statusJobId(jobIdText);
  const job = id !== null ? world.job(id) : null;
  if (job === null) {
    const shown = JSON.stringify(jobIdText).slice(0, 40);
    // 70104's entry in the original's message table belongs to another job family: say it plainly.
    return failedAnswer('get_status', E.JOB_ID_MISS, `job_id: ${jobIdText === '' ? 'is missing (put the id in the envelope\'s job_id)' : `job ${shown} does not exist`}`, {
      job_id: jobIdText.slice(0, 40),
      job_type: '',
    });
  }
  return {
    status: JOB_DEFINITIONS.job(job.jobType)?.attachment.status?.(job) ?? job.status,
    error_code: job.errorCode,
    error_info: job.errorInfo,
    job_id: String(job.id),
    job_type: job.jobType,
    attachment: jobAttachment(job, world),
  };
}

/** The job id get_status names, or null when it is not a number. */
export function statusJobId(jobIdText: string): number | null {
  const id = /^[0-9]{1,15}$/.test(jobIdText) ? Number(jobIdText) : NaN;
  return Number.isSafeInteger(id) ? id : null;
}

/** A job the manager no longer keeps: pruned after the retention, or older than the manager's log. */
export function isForgottenJob(world: World, id: number | null): id is number {
  return id !== null && id > 0 && id < world.next.job && world.job(id) === null;
}

/** An answer for a forgotten job whose row cannot be read: says which job, and why it is not kept. */
export function forgottenJobAnswer(id: number, why: string): SyncResult {
  return failedAnswer('get_status', E.JOB_ID_MISS, `job_id: job ${id} is no longer kept in the manager's state (pruned after the retention: job_retention_count, job_retention_hours) and ${why}`, {
    job_id: String(id),
    job_type: '',
  });
}

const objectOr = (text: string | null): Record<string, unknown> => {
  try {
    const v = text === null ? null : (JSON.parse(text) as unknown);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
};

/**
 * get_status of a job the manager no longer keeps, from its cluster_general_job_log row as the original
 * answered it (status from the row; error_code, error_info and the result from its memo; the request
 * from job_info) in the same shape as for a kept job. The step history is not in the row: `steps` is
 * empty and `progress` is the whole job (1 of 1) once it ended.
 */
export function jobRowStatus(row: JobRow, world: World): SyncResult {
  const memo = objectOr(row.memo);
  const { error_code: code, error_info: info, step, skipped_ports: _skipped, ...result } = memo;
  const envelope = objectOr(row.jobInfo);
  const request = typeof envelope.paras === 'object' && envelope.paras !== null && !Array.isArray(envelope.paras) ? envelope.paras : envelope;
  const status = (['not_started', 'ongoing', 'done', 'failed'] as const).find((s) => s === row.status) ?? 'failed';
  const ended = status === 'done' || status === 'failed';
  const errorCode = typeof code === 'number' ? code : Number(code ?? 0) || 0;
  const errorInfo = typeof info === 'string' ? info : '';
  const job: JobView = {
    id: row.id,
    jobType: row.jobType,
    status,
    request: request as JobView['request'],
    envelope: envelope as JobView['envelope'],
    cluster: null,
    parent: null,
    lock: null,
    user: null,
    system: null,
    createdAt: row.whenStarted ?? 0,
    startedAt: row.whenStarted,
    endedAt: ended ? row.whenEnded : null,
    step: null,
    progress: ended ? { done: 1, total: 1 } : { done: 0, total: 0 },
    steps: typeof step === 'string' ? [{ step, ok: status !== 'failed', info: '', startedAt: row.whenStarted ?? 0, endedAt: row.whenEnded ?? 0 }] : [],
    skippedPorts: [],
    instanceTasks: [],
    errorCode,
    errorInfo,
    result: result as JobView['result'],
  };
  const att = jobAttachment(job, world);
  if (Array.isArray(memo.skipped_ports)) att.skipped_ports = memo.skipped_ports;
  return { status, error_code: errorCode, error_info: errorInfo, job_id: String(row.id), job_type: row.jobType, attachment: att };
}

/**
 * The attachment of a job: its result, then the common keys (cluster_id always a string, `step` the
 * current step's name), then the keys its type's definition declares, built as XPanel reads them.
 */
export function jobAttachment(job: JobView, world?: World): Record<string, unknown> {
  const def = JOB_DEFINITIONS.job(job.jobType);
  if (world !== undefined && def?.attachment.only === true && def.attachment.build !== undefined) {
    return withoutSecretKeys(def.attachment.build(job, world)) as Record<string, unknown>;
  }
  const result = job.result !== null && typeof job.result === 'object' && !Array.isArray(job.result) ? job.result : {};
  const request = job.request !== null && typeof job.request === 'object' && !Array.isArray(job.request) ? (job.request as Record<string, unknown>) : {};
  const att: Record<string, unknown> = withoutSecretKeys(result) as Record<string, unknown>;
  // XPanel reads cluster_id and cluster_name of a create_cluster from here (as strings, whatever the result holds).
  const clusterId = request.cluster_id ?? result.cluster_id;
  if (typeof clusterId === 'number' || typeof clusterId === 'string') att.cluster_id = String(clusterId);
  if (typeof request.cluster_name === 'string') att.cluster_name = request.cluster_name;
  if (typeof request.computer_user === 'string') att.computer_user = request.computer_user;
  const last = job.steps.length > 0 ? job.steps[job.steps.length - 1]!.step : '';
  att.step = job.step !== null ? job.step.name : last;
  att.progress = { done: job.progress.done, total: job.progress.total };
  att.steps = job.steps.map((s) => ({ step: s.step, ok: s.ok, info: s.info }));
  // Ports an install could not bind and moved away from (absent when none, as in the original).
  if (job.skippedPorts.length > 0) att.skipped_ports = skippedPortsShown(job);
  att.when_started = job.startedAt ?? job.createdAt;
  att.when_ended = job.endedAt;
  if (world !== undefined && def?.attachment.build !== undefined) Object.assign(att, withoutSecretKeys(def.attachment.build(job, world)));
  return att;
}

const yes = (b: boolean): string => (b ? 'true' : 'false');

function shardDetail(world: World, shardId: number) {
  const s = world.shard(shardId)!;
  return {
    shard_id: String(s.id),
    shard_name: s.name,
    status: s.status,
    ha: s.ha,
    nodes: String(s.nodes.length),
    primary_node_id: s.primary === null ? '' : String(s.primary),
    no_switch_until: s.noSwitch === null ? null : Math.floor(s.noSwitch.until / 1000),
    list_node: s.nodes.map((id) => {
      const n = world.node(id)!;
      return {
        node_id: String(n.id),
        hostaddr: n.hostaddr,
        port: String(n.port),
        status: n.status,
        member_state: n.memberState,
        master: yes(s.primary === n.id),
        health: n.health,
        access: n.access,
        repair: n.repair,
      };
    }),
  };
}

function compDetail(world: World, compId: number) {
  const c = world.comp(compId)!;
  return { comp_id: String(c.id), comp_name: c.name, hostaddr: c.hostaddr, port: String(c.port), status: c.status };
}

/** Every cluster with its shards and compute nodes (tests read list_cluster[i].cluster_id/cluster_name). */
export function clusterSummary(world: World): SyncResult {
  const list = world.ids('cluster').map((id) => {
    const c = world.cluster(Number(id))!;
    return {
      cluster_id: String(c.id),
      cluster_name: c.name,
      nick_name: c.nickName,
      ha_mode: c.haMode,
      status: c.status,
      shards: String(c.shards.length),
      comps: String(c.comps.length),
    };
  });
  return { status: 'done', error_code: 0, error_info: '', attachment: { list_cluster: list } };
}

/**
 * Without cluster_id: the edition probe XPanel sends at login (`work_mode`; "enterprise" offers rbr).
 * With it: the cluster, its shards with nodes, roles and health, and its compute nodes.
 */
export function clusterDetail(world: World, clusterId: number | undefined): SyncResult {
  if (clusterId === undefined) return { status: 'done', error_code: 0, error_info: '', attachment: { work_mode: 'enterprise' } };
  const c = world.cluster(clusterId);
  if (c === null) return failedAnswer('get_cluster_detail', E.PARAMETER_ERROR, `paras.cluster_id: cluster ${clusterId} does not exist`);
  return {
    status: 'done',
    error_code: 0,
    error_info: '',
    attachment: {
      work_mode: 'enterprise',
      cluster_id: String(c.id),
      cluster_name: c.name,
      nick_name: c.nickName,
      ha_mode: c.haMode,
      status: c.status,
      shards: String(c.shards.length),
      comps: String(c.comps.length),
      locked_by_job: c.lockedBy === null ? null : String(c.lockedBy),
      list_shard: c.shards.map((id) => shardDetail(world, id)),
      list_comp: c.comps.map((id) => compDetail(world, id)),
    },
  };
}

/** Active no-switch windows, per shard: `{cluster_id, shard_id, param: {timestamp: expiry seconds}}`. */
export function listNoSwitch(world: World, cluster: number | 'all' | undefined, now: number): SyncResult {
  if (typeof cluster === 'number' && world.cluster(cluster) === null) {
    return failedAnswer('list_noswitch', E.PARAMETER_ERROR, `paras.cluster_id: cluster ${cluster} does not exist`);
  }
  const value: { cluster_id: string; shard_id: string; param: { timestamp: number }; reason: string }[] = [];
  for (const id of world.ids('shard')) {
    const s = world.shard(Number(id))!;
    if (typeof cluster === 'number' && s.cluster !== cluster) continue;
    if (s.noSwitch === null || s.noSwitch.until <= now) continue;
    value.push({ cluster_id: String(s.cluster), shard_id: String(s.id), param: { timestamp: Math.floor(s.noSwitch.until / 1000) }, reason: s.noSwitch.reason });
  }
  return { status: 'done', error_code: 0, error_info: '', attachment: { value } };
}

/**
 * get_backup_storage (§3.22): every storage by name. XPanel reads name, stype, hostaddr and port (the
 * rebuild hdfs_host picker offers hostaddr:port, which only an HDFS namenode has); the rest says where
 * the storage is, and for S3 where its keys are read from, never the keys.
 */
export function listBackupStorage(world: World): SyncResult {
  const list = world.view().backupStorages.map((b) => {
    const opt = (k: string, v: string | null) => (v === null ? {} : { [k]: v });
    return {
      name: b.name,
      stype: b.stype,
      hostaddr: b.hostaddr ?? '',
      port: b.port === null ? '' : String(b.port),
      conn_str: connStr(b),
      ...opt('path', b.path),
      ...opt('endpoint', b.endpoint),
      ...opt('bucket', b.bucket),
      ...opt('prefix', b.prefix),
      ...opt('region', b.region),
      ...opt('credentials', credentialsSource(b)),
    };
  });
  return { status: 'done', error_code: 0, error_info: '', attachment: { list_backup_storage: list } };
}

/** get_cluster_backups: the shard backups (of one cluster when given), oldest first. */
export function listBackups(world: World, cluster: number | undefined): SyncResult {
  const list = world.backups().filter((b) => cluster === undefined || b.cluster_id === cluster);
  return { status: 'done', error_code: 0, error_info: '', attachment: { list_backup: list } };
}
