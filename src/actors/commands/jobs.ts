// Starting a job: the request (Emit `paras`) is validated in full (the job type's paras spec, then its
// check against the world, both from its one definition in src/jobs/types) before the job exists, so a
// bad request is refused with the field and reason and never reaches the log. Then the job's progress
// events: steps, and its single ending.
import type { Json } from '../../events/schema.js';
import type { World } from '../world.js';
import { refuse, type CommandResult, type Emitter } from './common.js';
import { validateParas, type ParasSpec } from './paras-spec.js';
import { ParaError, ParaReader, withoutSecrets, type Paras } from './paras.js';
import { jobEnvelope } from './job-envelope.js';
import { metaShardFormRefusal } from './meta-shard-form.js';

export type JobCommand =
  | {
      kind: 'job.start';
      jobType: string;
      request: Paras;
      /** The Emit body as received, for job_info (job-envelope.ts); a child's is built from its request. */
      envelope?: unknown;
      /** A child job runs under its parent's lock. */
      parent?: number;
    }
  | { kind: 'job.step_start'; job: number; step: string; index: number; total: number }
  | { kind: 'job.step_finish'; job: number; step: string; ok: boolean; done: number; total: number; info?: string }
  /** How far the running step has got (a copy's bytes and rate): get_status shows the latest. */
  | { kind: 'job.step_progress'; job: number; step: string; note: string }
  | { kind: 'job.finish'; job: number; result?: Json }
  | { kind: 'job.fail'; job: number; code: number; info: string; result?: Json }
  /** Ended jobs leave the world (the leader's retention, src/jobs/retention.ts); parents before children. */
  | { kind: 'job.prune'; jobs: readonly number[] };

/** What accepting a request decides: the stored request, the cluster it concerns, its lock. */
export interface AcceptedJob {
  request: Json;
  cluster: number | null;
  lock: string | null;
}

/**
 * The part of a job type's one definition (src/jobs/types) the command layer needs. The actors do not
 * import src/jobs: the member passes the catalog in the CommandContext (`jobs`).
 */
export interface JobAcceptor {
  readonly name: string;
  /** A child job type: started by a parent job only, never over HTTP. */
  readonly internal: boolean;
  /** Why this manager refuses the type for now (set for a type without an implementation). */
  readonly refused?: string;
  /** Error number when `paras` itself is missing. */
  readonly missingParas: number;
  /** The paras spec, the same the Emit edge validated with: the leader checks it again (a follower relays). */
  readonly paras: ParasSpec;
  /** The check against the world, on paras that passed the spec; throws ParaError. Absent: a sync query, not a job. */
  readonly accept?: (world: World, p: ParaReader, e: Emitter, paras: Paras) => AcceptedJob;
}

export interface JobCatalog {
  /** The job type's definition, or undefined (an own-property lookup: `constructor` is no job type). */
  get(jobType: string): JobAcceptor | undefined;
}

function getJob(world: World, id: number) {
  return world.job(id) ?? refuse('not_found', `job ${id} does not exist`, 'job_id', 70104);
}

export function checkJob(world: World, cmd: JobCommand, e: Emitter, catalog: JobCatalog | undefined): CommandResult {
  switch (cmd.kind) {
    case 'job.start':
      return startJob(world, cmd, e, catalog);
    case 'job.step_start': {
      const j = getJob(world, cmd.job);
      if ('ok' in j) return j;
      if (j.status === 'done' || j.status === 'failed') return refuse('invalid_state', `job ${j.id} has ended (${j.status})`, 'job_id');
      if (j.step !== null) return refuse('invalid_state', `job ${j.id} is running step ${j.step.name}`, 'step');
      return e.emit('job.step_started', `job/${j.id}`, { step: cmd.step, index: cmd.index, total: cmd.total }).done();
    }
    case 'job.step_finish': {
      const j = getJob(world, cmd.job);
      if ('ok' in j) return j;
      if (j.step?.name !== cmd.step) return refuse('invalid_state', `job ${j.id} is not running step ${cmd.step}`, 'step');
      return e
        .emit('job.step_finished', `job/${j.id}`, { step: cmd.step, ok: cmd.ok, done: cmd.done, total: cmd.total, info: cmd.info ?? '' })
        .done();
    }
    case 'job.step_progress': {
      const j = getJob(world, cmd.job);
      if ('ok' in j) return j;
      if (j.step?.name !== cmd.step) return refuse('invalid_state', `job ${j.id} is not running step ${cmd.step}`, 'step');
      return e.emit('job.step_progressed', `job/${j.id}`, { step: cmd.step, note: cmd.note.slice(0, 512) }).done();
    }
    case 'job.finish':
    case 'job.fail': {
      const j = getJob(world, cmd.job);
      if ('ok' in j) return j;
      if (j.status === 'done' || j.status === 'failed') return refuse('invalid_state', `job ${j.id} has already ended (${j.status})`, 'job_id');
      if (cmd.kind === 'job.finish') {
        if (j.step !== null) return refuse('invalid_state', `job ${j.id} is still running step ${j.step.name}`, 'job_id');
        return e.emit('job.done', `job/${j.id}`, { result: cmd.result ?? {} }).done();
      }
      return e.emit('job.failed', `job/${j.id}`, { code: cmd.code, info: cmd.info, result: cmd.result ?? {} }).done();
    }
    case 'job.prune': {
      if (cmd.jobs.length === 0) return refuse('no_change', 'no job to prune', 'jobs');
      for (const id of cmd.jobs) {
        const j = getJob(world, id);
        if ('ok' in j) return j;
        if (j.status !== 'done' && j.status !== 'failed') return refuse('invalid_state', `job ${j.id} has not ended (${j.status})`, 'jobs');
        e.emit('job.pruned', `job/${j.id}`, {});
      }
      return e.done();
    }
  }
}

function startJob(world: World, cmd: Extract<JobCommand, { kind: 'job.start' }>, e: Emitter, catalog: JobCatalog | undefined): CommandResult {
  if (typeof cmd.request !== 'object' || cmd.request === null || Array.isArray(cmd.request)) {
    return refuse('invalid_argument', 'paras must be an object', 'paras', 70070);
  }
  const def = catalog?.get(cmd.jobType);
  const env = jobEnvelope(cmd, e.ctx.cause, e.ctx.at);
  if (!env.ok) return env;
  let accepted: AcceptedJob;
  if (cmd.parent !== undefined) {
    const parent = world.job(cmd.parent);
    if (parent === null) return refuse('not_found', `job ${cmd.parent} does not exist`, 'parent');
    if (parent.status === 'done' || parent.status === 'failed') return refuse('invalid_state', `job ${parent.id} has ended`, 'parent');
    if (def === undefined || def.refused !== undefined) return refuse('invalid_argument', `unknown job type ${cmd.jobType}`, 'job_type');
    // A child runs under its parent's lock; the parent validated what it asks for.
    accepted = { request: withoutSecrets(cmd.request), cluster: parent.cluster, lock: null };
  } else {
    const shown = JSON.stringify(cmd.jobType).slice(0, 80);
    if (def === undefined || def.internal) return refuse('invalid_argument', `Unrecongnized job type ${shown}`, 'job_type', 70001);
    if (def.refused !== undefined) return refuse('refused', `${cmd.jobType} is not supported by this cluster_mgr: ${def.refused}`, 'job_type', 70001);
    if (def.accept === undefined) return refuse('invalid_argument', `${cmd.jobType} is answered at once, not started as a job`, 'job_type', 70001);
    const meta = metaShardFormRefusal(cmd.jobType, cmd.request);
    if (meta !== null) return meta;
    // The same spec the edge checked: a leader does not trust the paras a follower relays.
    const v = validateParas(cmd.request, def.paras, def.missingParas);
    if (!v.ok) return refuse('invalid_argument', v.error.reason, v.error.field, v.error.code);
    try {
      accepted = def.accept(world, new ParaReader(v.value), e, v.value);
    } catch (err) {
      if (err instanceof ParaError) return err.refusal;
      throw err;
    }
  }
  if (accepted.lock !== null) {
    const holder = world.lockHolder(accepted.lock);
    if (holder !== null) {
      return refuse('busy', `${accepted.lock} is busy with job ${holder} (${world.job(holder)?.jobType ?? '?'})`, 'paras');
    }
  }
  const id = e.ids.take('job');
  return e
    .emit('job.created', `job/${id}`, {
      jobType: cmd.jobType,
      request: accepted.request,
      cluster: accepted.cluster,
      parent: cmd.parent ?? null,
      lock: accepted.lock,
      envelope: env.envelope,
    })
    .done();
}
