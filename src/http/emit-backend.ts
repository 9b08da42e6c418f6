// The Emit endpoint's backend on a member. Async jobs become a `job.start` command executed by the
// leader (checked against the world, so an unknown cluster or a busy lock is refused before any job
// exists); the job engine's reconcilers run the job. A follower relays writes to the leader's HTTP
// URL (the original's followers did not even listen). Reads are served after a Raft ReadIndex, so
// they see every write acknowledged before the request, on any member.
import type { Cause } from '../events/index.js';
import type { Command } from '../actors/index.js';
import type { ConfigReader, LeaderState, ProjectionState, Proposer, ReadBarrier, WorldReader } from '../ports/index.js';
import type { HostPort } from '../config/load.js';
import type { Connection } from 'mysql2/promise';
import { connectWritableMeta, metaConnectOptions, probeMetaNode } from '../metadata/connect.js';
import { readJobRow } from '../metadata/index.js';
import { ANONYMOUS_REQUEST } from '../metadata/jobs.js';
import { E } from './error-codes.js';
import { failed, type EmitAnswer } from './emit-envelope.js';
import { relayHeaders, type EmitBackend, type SyncResult, type ValidatedJob } from './emit-route.js';
import { JOB_DEFINITIONS } from '../jobs/types/index.js';
import { refusalText } from '../actors/commands/paras-spec.js';
import {
  clusterDetail,
  clusterSummary,
  failedAnswer,
  forgottenJobAnswer,
  isForgottenJob,
  jobRowStatus,
  jobStatus,
  listNoSwitch,
  refusalAnswer,
  listBackupStorage,
  listBackups,
  statusJobId,
} from './sync-answers.js';
import { getVariable, type StorageAccount } from './instance-vars.js';
import { expandTableList } from './expand-tables.js';
import { jobOutcomeAnswer, waitForJobEnd } from './job-wait.js';
import { confirmedRead } from './read-index.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** Sync jobs that change something: only the leader runs them. */
const LEADER_SYNC = new Set(['set_noswitch', 'del_noswitch', 'set_variable']);

const FORWARD_TIMEOUT_MS = 30_000;
/** set_variable answers synchronously, as the original did: its job is waited for this long (less than
 *  the relay's timeout, so a relayed request gets the leader's answer). */
export const SET_VARIABLE_WAIT_MS = 20_000;
const ADOPTION_WAIT_MS = 5_000;
/** Reading a pruned job's row: connecting to the metadata primary may take this long at most. */
const META_READ_TIMEOUT_MS = 10_000;

/** What the Emit backend uses of the member (ManagerRuntime implements it). */
export interface EmitRuntime extends WorldReader, ConfigReader, Proposer, LeaderState, ReadBarrier {
  /** A new leader's first projection (adoption) comes before its first job. */
  readonly metadata: ProjectionState;
}

export interface EmitBackendOptions {
  runtime: EmitRuntime;
  /** The leader's HTTP base URL, or null when there is no leader or its address is unknown. */
  leaderUrl(): string | null;
  /** Sent on relayed requests when the API requires a token. */
  apiToken: string;
  storageAccount: StorageAccount;
  metaSeeds: readonly HostPort[];
}

export function causeOf(userName: string): Cause {
  const u = [...userName].filter((ch) => ch.charCodeAt(0) >= 0x20).join('').slice(0, 128);
  return u === '' ? { system: ANONYMOUS_REQUEST } : { user: u };
}

export class MemberEmitBackend implements EmitBackend {
  constructor(private readonly o: EmitBackendOptions) {}

  private get rt(): EmitRuntime {
    return this.o.runtime;
  }

  /** Relays a write to the leader when this member is not the leader; null means "serve it here". */
  async forward(job: ValidatedJob): Promise<EmitAnswer | null> {
    const def = JOB_DEFINITIONS.get(job.jobType);
    if (def === undefined || (def.sync && !LEADER_SYNC.has(job.jobType)) || this.rt.isLeader) return null;
    const extra = def.sync ? { job_id: job.envelope.job_id, job_type: job.jobType } : {};
    const fail = (info: string) => failed(E.INVALID_REQUEST, refusalText(job.jobType, undefined, info), extra);
    if (job.forwarded) return fail('this member is no longer the leader (the request was relayed here by a follower): retry');
    const url = this.o.leaderUrl();
    if (url === null) return fail('no manager leader is known at the moment (election in progress?): retry in a few seconds');
    try {
      const headers = relayHeaders(this.rt.cfg.selfId, this.o.apiToken, { 'content-type': 'application/json' });
      const res = await fetch(`${url}/HttpService/Emit`, { method: 'POST', body: job.raw, headers, signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS) });
      const text = await res.text();
      const doc = JSON.parse(text) as unknown;
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`HTTP ${res.status}: not an Emit answer`);
      return doc as EmitAnswer;
    } catch (e) {
      // For a write, a lost answer leaves the outcome unknown: say so rather than guess.
      return fail(`relaying to the leader at ${url} failed (${(e as Error).message}); a job may or may not have been created: check the job list before retrying`);
    }
  }

  async submit(job: ValidatedJob): Promise<{ jobId: string } | { code: number; info: string }> {
    const unfit = JOB_DEFINITIONS.job(job.jobType)?.configCheck?.(job.paras, this.rt.cfg) ?? null;
    if (unfit !== null) return { code: unfit.errno, info: `${unfit.field}: ${unfit.reason}` };
    await this.metadataRead();
    // The body as received goes to job_info (the command removes its secrets); it parsed as an object.
    const cmd = { kind: 'job.start', jobType: job.jobType, request: job.paras, envelope: JSON.parse(job.raw) as unknown } as Command;
    const r = await this.rt.execute(cmd, causeOf(job.envelope.user_name));
    if (r.ok) {
      for (const c of r.result.ok ? r.result.committed : []) {
        if (c.event.type === 'job.created') return { jobId: c.event.agg.slice('job/'.length) };
      }
      return { code: E.INVALID_REQUEST, info: 'the job was committed but its id was not found in the result' };
    }
    switch (r.kind) {
      case 'refused': {
        const f = r.refusal.field;
        return { code: r.refusal.errno ?? E.PARAMETER_ERROR, info: f !== undefined ? `${f}: ${r.refusal.reason}` : r.refusal.reason };
      }
      case 'not_leader':
        return { code: E.INVALID_REQUEST, info: `leadership moved to ${r.leader ?? 'an unknown member'} during the request; nothing was created: retry` };
      case 'rejected_at_apply':
        return { code: E.INVALID_REQUEST, info: `the job was refused when applied at index ${r.index}: ${r.reason}` };
      case 'unknown_outcome':
        return { code: E.INVALID_REQUEST, info: `the outcome is unknown (${r.reason}): check the job list before retrying` };
    }
  }

  async sync(job: ValidatedJob): Promise<SyncResult> {
    const p = job.paras;
    const ids = { job_id: job.envelope.job_id, job_type: job.jobType };
    if (job.jobType === 'get_meta_mode' || job.jobType === 'get_meta_summary') return this.meta(job.jobType);
    if (!LEADER_SYNC.has(job.jobType)) {
      const stale = await this.linearizable(job.jobType);
      if (stale !== null) return { ...stale, ...ids };
    }
    const w = this.rt.world;
    switch (job.jobType) {
      case 'get_status': {
        const id = statusJobId(job.envelope.job_id);
        return isForgottenJob(w, id) ? this.forgottenJobStatus(id) : jobStatus(w, job.envelope.job_id);
      }
      case 'get_cluster_summary':
        return clusterSummary(w);
      case 'get_cluster_detail':
        return clusterDetail(w, p.cluster_id as number | undefined);
      case 'get_backup_storage':
        return listBackupStorage(w);
      case 'get_cluster_backups':
        return listBackups(w, p.cluster_id as number | undefined);
      case 'list_noswitch':
        return listNoSwitch(w, p.cluster_id as number | 'all' | undefined, Date.now());
      case 'get_variable':
        return getVariable(w, this.o.storageAccount, p.hostaddr as string, p.port as number, p.variable as string);
      case 'get_expand_table_list':
        return expandTableList(w, this.o.storageAccount, Number(p.cluster_id), Number(p.shard_id), p.policy as string, this.rt.cfg.int('mysql_connect_timeout') * 1000);
      case 'set_variable':
        return this.setVariable(job);
      case 'set_noswitch':
      case 'del_noswitch':
        return this.noSwitch(job);
      default:
        return failedAnswer(job.jobType, E.INVALID_REQUEST, 'job_type: this job type has no handler', ids);
    }
  }

  /**
   * A new leader first reads the metadata shard (adoption, and ids used there reserved: see
   * MetadataReconciler); a job accepted before that could take the id of an old job row. Wait for
   * that first projection of this term, a bounded time (a metadata shard that is down must not stop
   * every job: the metadata reconciler reports that).
   */
  private async metadataRead(): Promise<void> {
    if (this.o.metaSeeds.length === 0) return;
    // Only early in a term: later, a missing projection means the metadata shard is in trouble.
    const me = this.rt.world.manager(this.rt.cfg.selfId);
    const early = me?.electedTerm !== this.rt.term || Date.now() - (me.electedAt ?? 0) < ADOPTION_WAIT_MS * 3;
    if (!early) return;
    const end = Date.now() + ADOPTION_WAIT_MS;
    while (this.rt.isLeader && this.rt.metadata.lastProjected.term !== this.rt.term && Date.now() < end) {
      await sleep(50);
    }
  }

  /** Waits until this member has applied everything committed before the request (ReadIndex). */
  private async linearizable(jobType: string): Promise<SyncResult | null> {
    try {
      await confirmedRead(this.rt);
      return null;
    } catch (e) {
      return failedAnswer(jobType, E.INVALID_REQUEST, `cannot confirm this member is up to date (${(e as Error).message}); no leader? retry in a few seconds`);
    }
  }

  /**
   * set_variable is a job (validated in full before it exists, run by the leader's job engine with the
   * term fence, resumed by a new leader); the request is answered as the original did, synchronously,
   * once the job has ended, with the job's id.
   */
  private async setVariable(job: ValidatedJob): Promise<SyncResult> {
    const r = await this.submit(job);
    if (!('jobId' in r)) return failedAnswer(job.jobType, r.code, r.info, { job_id: job.envelope.job_id.slice(0, 128), job_type: job.jobType });
    const end = await waitForJobEnd(this.rt, Number(r.jobId), SET_VARIABLE_WAIT_MS);
    return jobOutcomeAnswer(job.jobType, r.jobId, end, SET_VARIABLE_WAIT_MS);
  }

  private async noSwitch(job: ValidatedJob): Promise<SyncResult> {
    const p = job.paras;
    const w = this.rt.world;
    const cause = causeOf(job.envelope.user_name);
    const scope = p.cluster_id === 'all' ? w.ids('cluster').filter((c) => (w.cluster(c)?.shards.length ?? 0) > 0) : [p.cluster_id as number];
    const shard = p.shard_id as number | undefined;
    if (p.cluster_id === 'all' && shard !== undefined) {
      return failedAnswer(job.jobType, E.PARAMETER_ERROR, 'paras.shard_id: cannot be given with cluster_id "all"');
    }
    let changed = 0;
    for (const cluster of scope) {
      const target = shard !== undefined ? { cluster, shard } : { cluster };
      const cmd: Command =
        job.jobType === 'set_noswitch'
          ? { kind: 'shard.set_no_switch', ...target, until: Date.now() + (p.timeout as number) * 1000, reason: `set_noswitch by ${'user' in cause ? cause.user : 'an anonymous client'}` }
          : { kind: 'shard.clear_no_switch', ...target };
      const r = await this.rt.execute(cmd, cause);
      if (r.ok) changed++;
      else if (r.kind === 'refused') {
        if (r.refusal.code === 'no_change') continue;
        const field = r.refusal.field !== undefined && !r.refusal.field.startsWith('paras.') ? `paras.${r.refusal.field}` : r.refusal.field;
        return refusalAnswer(job.jobType, { ...r.refusal, field, errno: r.refusal.errno ?? E.PARAMETER_ERROR });
      } else {
        return failedAnswer(job.jobType, E.INVALID_REQUEST, `on cluster ${cluster} did not complete (${r.kind}${'reason' in r ? `: ${r.reason}` : ''}); retry`);
      }
    }
    return { status: 'done', error_code: 0, error_info: changed === 0 && job.jobType === 'del_noswitch' ? 'no no-switch window was set there' : '', attachment: null };
  }

  /** get_status of a job pruned from the world: its cluster_general_job_log row answers. */
  private async forgottenJobStatus(id: number): Promise<SyncResult> {
    if (this.o.metaSeeds.length === 0) return forgottenJobAnswer(id, 'this manager has no metadata shard configured to read its row from');
    let c: Connection | null = null;
    try {
      c = await connectWritableMeta(metaConnectOptions(this.rt.cfg), AbortSignal.timeout(META_READ_TIMEOUT_MS));
      const row = await readJobRow(c, id);
      return row === null ? forgottenJobAnswer(id, 'cluster_general_job_log has no row for it') : jobRowStatus(row, this.rt.world);
    } catch (e) {
      return forgottenJobAnswer(id, `its cluster_general_job_log row cannot be read now (${(e as Error).message}); retry`);
    } finally {
      await c?.end().catch(() => c?.destroy());
    }
  }

  /** The metadata shard: its nodes as probed now, and its replication mode. */
  private async meta(jobType: string): Promise<SyncResult> {
    const seeds = this.o.metaSeeds;
    if (seeds.length === 0) return failedAnswer(jobType, E.INVALID_REQUEST, 'this manager has no metadata shard configured (meta_group_seeds is empty)');
    const acc = this.o.storageAccount;
    const probes = await Promise.all(
      seeds.map((s) => probeMetaNode(s, { user: acc.user, password: acc.password, connectTimeoutMs: 3_000, deadlineMs: 5_000, mode: jobType === 'get_meta_mode' })),
    );
    if (jobType === 'get_meta_summary') {
      return {
        status: 'done',
        error_code: 0,
        error_info: '',
        attachment: {
          list_meta: probes.map((x) => ({ hostaddr: x.host, port: String(x.port), status: x.online ? 'online' : 'offline', master: x.online && !x.readOnly ? 'true' : 'false' })),
        },
      };
    }
    const master = probes.find((x) => x.online && !x.readOnly) ?? probes.find((x) => x.online);
    if (master === undefined) return failedAnswer(jobType, E.INVALID_REQUEST, `no metadata node answers (${probes.map((x) => `${x.host}:${x.port}: ${x.error?.message ?? ''}`).join('; ')})`);
    const mode = master.mode ?? (seeds.length === 1 ? 'no_rep' : 'rbr');
    return { status: 'done', error_code: 0, error_info: '', attachment: { mode } };
  }
}
