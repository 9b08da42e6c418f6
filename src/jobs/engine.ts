// The job engine: one leader-only reconciler keyed by every job that has not ended. It runs the handler
// of the job type's definition (src/jobs/types), recording only the steps the definition declares; the handler's progress lives in the log as job.step_started /
// job.step_finished events, so a new leader reruns the handler and every step that already finished
// is skipped (its recorded result is returned). A step interrupted by a dead leader is run again —
// steps are idempotent and check the real world first. A failure is recorded as a `failed` step before
// the rollback hook runs, so a new leader resumes the rollback rather than the work. A job ends
// exactly once: job.finish / job.fail are refused by the job actor after the first ending.
import { recordingAgent } from './install-log.js';
import type { ApplyResult, Command, JobView, Refusal, World } from '../actors/index.js';
import type { AgentClient } from '../agent/client.js';
import { agentForMachine } from '../agent/for-machine.js';
import type { Config } from '../config/load.js';
import type { Json } from '../events/schema.js';
import type { Logger } from '../log/logger.js';
import type { ConfigReader, ProjectionState, Proposer, RaftControl, WorldReader } from '../ports/index.js';
import { checkLeading, type LeaderContext, type Reconciler } from '../reconcile/host.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** The generic "internal error" of a job whose handler broke (original: 70500-ish range is unused). */
export const JOB_INTERNAL_ERROR = 70499;
/** Default agent port (node_mgr's brpc_http_port) when a machine was registered without one. */
export { DEFAULT_AGENT_PORT } from '../agent/for-machine.js';
/** Name of the step recording a failure (code and info) before the rollback. */
export const FAILED_STEP = 'failed';
export const ROLLBACK_STEP = 'rollback';

export type JobOutcome = 'done' | 'failed';

/** The metrics the job engine records. */
export interface JobMetrics {
  jobEnded(jobType: string, outcome: JobOutcome, createdAt: number): void;
}

/** What the job engine and its handlers use of the member (ManagerRuntime implements it). */
export interface JobRuntime extends WorldReader, ConfigReader, Proposer {
  readonly metrics: JobMetrics;
  /** For raft_mission jobs (JobContext.raft). */
  readonly node: RaftControl;
  /** For jobs that wait for the projection (JobContext.projection). */
  readonly metadata: ProjectionState;
}

export interface JobContext {
  /** world.job(id), refreshed as the job advances. */
  readonly job: JobView;
  readonly world: World;
  readonly term: number;
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly cfg: Config;
  /** Raft membership and leadership transfer (raft_mission). */
  readonly raft: RaftControl;
  /** How far the leader has projected the world into kunlun_metadata_db. */
  readonly projection: ProjectionState;
  /** Proposes a command with cause {job: id} on the leader; throws JobError(code, info) on refusal. */
  exec(cmd: Command): Promise<ApplyResult>;
  /** A named, recorded step (job.step_start / job.step_finish events with progress). fn must be
   *  idempotent: it checks the real world first, because a new leader reruns an interrupted step.
   *  A step that already finished ok is not run again: its recorded result is returned. */
  step<T extends Json | void>(name: string, total: number, fn: () => Promise<T>): Promise<T>;
  /** Records how far the running step has got (get_status shows the latest; a few per minute at most:
   *  each is a Raft entry). Nothing when no step runs. */
  report(note: Json): Promise<void>;
  /** Node-agent client for a registered machine (the machine's agent port). */
  agent(hostaddr: string): AgentClient;
  /** Starts (once) a child job under this job's lock as step `name`, waits for it to end; its failure
   *  throws JobError with the child's code and info. Resolves to the child's result. */
  child(name: string, total: number, jobType: string, request: { [k: string]: Json }): Promise<Json>;
  /** The first half of child(): starts the child (once, as step `name`) and returns its id, so the
   *  parent can work in parallel with it. */
  startChild(name: string, total: number, jobType: string, request: { [k: string]: Json }): Promise<number>;
  /** Starts a child keyed by `key` unless this job already has it (call inside a step; several
   *  children started in one step run in parallel). Returns its id. */
  spawnChild(key: string, jobType: string, request: { [k: string]: Json }): Promise<number>;
  /** The second half: waits for the child to end; its failure throws JobError. */
  waitChild(id: number): Promise<Json>;
  /** Waits until every child of this job has ended (a rollback must not race a running child). */
  waitChildren(): Promise<void>;
}

export class JobError extends Error {
  constructor(
    readonly code: number,
    readonly info: string,
    opts?: { cause?: unknown },
  ) {
    super(info, opts);
    this.name = 'JobError';
  }
}

/** A transient failure (network, not leader, unknown outcome): the engine retries the job later. */
export class RetryableJobError extends Error {
  override readonly name = 'RetryableJobError';
}

export type JobHandler = (ctx: JobContext) => Promise<Json | void>;
export type RollbackHook = (ctx: JobContext, err: JobError) => Promise<void>;

/** What the engine needs of a job type's one definition (src/jobs/definition.ts, src/jobs/types). */
export interface RunnableJob {
  /** Every step name run() may record; ctx.step refuses any other (the engine's own are always allowed). */
  readonly steps: readonly string[];
  readonly run: JobHandler;
  readonly rollback?: RollbackHook;
}

/** The job types the engine runs, passed in by the member (src/jobs/types/index.ts JOB_DEFINITIONS). */
export interface RunnableJobs {
  job(jobType: string): RunnableJob | undefined;
}

/** A refusal as a job error: its 70000+n number when it has one. */
export function refusalError(r: Refusal, what: string): JobError {
  return new JobError(r.errno ?? JOB_INTERNAL_ERROR, `${what}: ${r.reason}`.slice(0, 1000));
}

/** Step info holds the step's result as JSON (bounded by the event schema). */
const MAX_INFO = 1024;

function stepInfo(v: Json | void): string {
  if (v === undefined) return '';
  const s = JSON.stringify(v);
  if (s.length > MAX_INFO) throw new JobError(JOB_INTERNAL_ERROR, `step result too large to record (${s.length} bytes)`);
  return s;
}

function parseInfo(info: string): Json | undefined {
  if (info === '') return undefined;
  try {
    return JSON.parse(info) as Json;
  } catch {
    return info;
  }
}

/** How many times a handler may die of a non-job error (a bug, or a real world that keeps failing)
 *  in one leadership term before the job is failed instead of retried forever. */
const MAX_ATTEMPTS = 8;

class Ctx implements JobContext {
  constructor(
    readonly id: number,
    private readonly rt: JobRuntime,
    private readonly lc: LeaderContext,
    private readonly declared: readonly string[],
  ) {}

  get job(): JobView {
    const j = this.rt.world.job(this.id);
    if (j === null) throw new JobError(JOB_INTERNAL_ERROR, `job ${this.id} vanished`);
    return j;
  }
  get world(): World {
    return this.rt.world;
  }
  get term(): number {
    return this.lc.term;
  }
  get signal(): AbortSignal {
    return this.lc.signal;
  }
  get log(): Logger {
    return this.lc.log;
  }
  get cfg(): Config {
    return this.rt.cfg;
  }
  get raft(): RaftControl {
    return this.rt.node;
  }
  get projection(): ProjectionState {
    return this.rt.metadata;
  }

  async exec(cmd: Command): Promise<ApplyResult> {
    checkLeading(this.lc.signal);
    const r = await this.rt.execute(cmd, { system: 'cluster_mgr', job: this.id });
    if (r.ok) return r.result;
    switch (r.kind) {
      case 'refused':
        throw refusalError(r.refusal, cmd.kind);
      case 'rejected_at_apply':
        throw new JobError(JOB_INTERNAL_ERROR, `${cmd.kind}: rejected at apply: ${r.reason}`.slice(0, 1000));
      case 'not_leader':
        throw new RetryableJobError(`${cmd.kind}: this member is no longer the leader`);
      case 'unknown_outcome':
        throw new RetryableJobError(`${cmd.kind}: outcome unknown: ${r.reason}`);
    }
  }

  async step<T extends Json | void>(name: string, total: number, fn: () => Promise<T>): Promise<T> {
    // A step name outside the definition is a bug of the handler: get_status lists the declared ones.
    if (!this.declared.includes(name) && name !== FAILED_STEP && name !== ROLLBACK_STEP) {
      throw new JobError(JOB_INTERNAL_ERROR, `job ${this.id} (${this.job.jobType}): step ${name} is not declared in its definition`);
    }
    checkLeading(this.lc.signal);
    const j = this.job;
    const done = j.steps.find((s) => s.step === name && s.ok);
    if (done !== undefined && j.step?.name !== name) return parseInfo(done.info) as T;
    if (j.step !== null && j.step.name !== name) await this.closeInterrupted();
    if (this.job.step === null) {
      await this.exec({ kind: 'job.step_start', job: this.id, step: name, index: this.job.progress.done, total: Math.max(total, this.job.progress.done) });
    } else this.lc.log.info({ job: this.id, step: name }, 'resuming a step interrupted by a leader change');
    const result = await fn();
    checkLeading(this.lc.signal);
    const n = this.job.progress.done + 1;
    await this.exec({ kind: 'job.step_finish', job: this.id, step: name, ok: true, done: n, total: Math.max(total, n), info: stepInfo(result) });
    return result;
  }

  async report(note: Json): Promise<void> {
    const s = this.job.step;
    if (s === null) return;
    await this.exec({ kind: 'job.step_progress', job: this.id, step: s.name, note: JSON.stringify(note).slice(0, 512) });
  }

  agent(hostaddr: string): AgentClient {
    const a = agentForMachine(this.rt.world, this.rt.cfg, hostaddr);
    if (a === null) throw new JobError(JOB_INTERNAL_ERROR, `machine ${hostaddr} is not registered`);
    return recordingAgent(a, hostaddr, async (r) => {
      await this.exec({ kind: 'job.record_instance_task', job: this.id, ...r });
    });
  }

  async child(name: string, total: number, jobType: string, request: { [k: string]: Json }): Promise<Json> {
    return this.waitChild(await this.startChild(name, total, jobType, request));
  }

  async startChild(name: string, total: number, jobType: string, request: { [k: string]: Json }): Promise<number> {
    // The child's request carries the step name, so a rerun finds the child it already started.
    return this.step<number>(name, total, () => this.spawnChild(name, jobType, request));
  }

  async spawnChild(key: string, jobType: string, request: { [k: string]: Json }): Promise<number> {
    const found = findChild(this.rt.world, this.id, key);
    if (found !== null) return found;
    const r = await this.exec({ kind: 'job.start', jobType, request: { ...request, parent_step: key }, parent: this.id });
    const created = r.ok ? r.committed.find((c) => c.event.type === 'job.created') : undefined;
    if (created === undefined) throw new JobError(JOB_INTERNAL_ERROR, `child job ${jobType} was not created`);
    return Number(created.event.agg.split('/')[1]);
  }

  async waitChild(id: number): Promise<Json> {
    const child = await waitForEnd(this.rt, id, this.lc.signal);
    if (child.status === 'failed') throw new JobError(child.errorCode || JOB_INTERNAL_ERROR, `child job ${child.id} (${child.jobType}): ${child.errorInfo}`);
    return child.result;
  }

  async waitChildren(): Promise<void> {
    for (const id of this.rt.world.activeJobs()) {
      if (this.rt.world.job(id)?.parent === this.id) await waitForEnd(this.rt, id, this.lc.signal);
    }
  }

  /** A step a dead leader left running under a different name: recorded as not finished. */
  private async closeInterrupted(): Promise<void> {
    const s = this.job.step!;
    await this.exec({ kind: 'job.step_finish', job: this.id, step: s.name, ok: false, done: this.job.progress.done, total: s.total, info: 'interrupted by a leader change' });
  }

  /** The `failed` marker step: finished not ok, its info the error as JSON. */
  async recordFailure(f: JobError): Promise<void> {
    const info = JSON.stringify({ code: f.code, info: f.info.slice(0, 800) });
    const done = this.job.progress.done;
    if (this.job.step?.name !== FAILED_STEP) await this.exec({ kind: 'job.step_start', job: this.id, step: FAILED_STEP, index: done, total: done });
    await this.exec({ kind: 'job.step_finish', job: this.id, step: FAILED_STEP, ok: false, done, total: this.job.step?.total ?? 0, info });
  }

  /** Closes whatever step is open before the job ends. */
  async closeOpenStep(info: string): Promise<void> {
    const s = this.job.step;
    if (s === null) return;
    await this.exec({ kind: 'job.step_finish', job: this.id, step: s.name, ok: false, done: this.job.progress.done, total: s.total, info: info.slice(0, MAX_INFO) });
  }
}

function findChild(world: World, parent: number, step: string): number | null {
  const ids = world.ids('job');
  for (let i = ids.length - 1; i >= 0; i--) {
    const j = world.job(Number(ids[i]));
    if (j === null || j.id <= parent) break;
    if (j.parent !== parent) continue;
    const req = j.request;
    if (req !== null && typeof req === 'object' && !Array.isArray(req) && req.parent_step === step) return j.id;
  }
  return null;
}

/** Resolves with the job's view once it has ended; rejects when leadership is lost. Polls the
 *  applied world (cheap: a map lookup) rather than holding a listener that could not be removed. */
export async function waitForEnd(rt: WorldReader, id: number, signal: AbortSignal, everyMs = 50): Promise<JobView> {
  for (;;) {
    checkLeading(signal);
    const j = rt.world.job(id);
    if (j !== null && (j.status === 'done' || j.status === 'failed')) return j;
    await sleep(everyMs);
  }
}

/** The recorded failure of a job whose rollback began: its code and info, or null. */
function recordedFailure(j: JobView): JobError | null {
  const rec = [...j.steps].reverse().find((s) => s.step === FAILED_STEP && !s.ok);
  if (rec === undefined) return null;
  const v = parseInfo(rec.info);
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v.code === 'number' && typeof v.info === 'string') {
    return new JobError(v.code, v.info);
  }
  return new JobError(JOB_INTERNAL_ERROR, rec.info);
}

export class JobReconciler implements Reconciler {
  readonly name = 'jobs';
  private readonly attempts = new Map<number, { term: number; n: number }>();

  constructor(
    private readonly rt: JobRuntime,
    private readonly jobs: RunnableJobs,
  ) {}

  keys(): string[] {
    return this.rt.world.activeJobs().map(String);
  }

  affected(changed: ReadonlySet<string>): string[] {
    const out: string[] = [];
    for (const a of changed) {
      if (!a.startsWith('job/')) continue;
      const id = Number(a.slice(4));
      if (this.rt.world.isJobActive(id)) out.push(String(id));
    }
    return out;
  }

  async reconcile(key: string, lc: LeaderContext): Promise<void> {
    const id = Number(key);
    const j = this.rt.world.job(id);
    if (j === null || j.status === 'done' || j.status === 'failed') return;
    const log = lc.log.child({ job: id, job_type: j.jobType });
    const reg = this.jobs.job(j.jobType);
    const ctx = new Ctx(id, this.rt, { ...lc, log }, reg?.steps ?? []);
    if (reg === undefined) {
      log.error('this job type has no handler in its definition; failing the job');
      await ctx.closeOpenStep('no handler');
      await ctx.exec({ kind: 'job.fail', job: id, code: JOB_INTERNAL_ERROR, info: `job type ${j.jobType} is not implemented by this manager` });
      this.rt.metrics.jobEnded(j.jobType, 'failed', j.createdAt);
      return;
    }
    // A leader that died while recording a failure left the marker open without its reason.
    if (j.step?.name === FAILED_STEP) await ctx.recordFailure(new JobError(JOB_INTERNAL_ERROR, 'failed; the reason was lost with the leader'));
    let failure = recordedFailure(this.rt.world.job(id)!);
    if (failure === null) {
      try {
        const result = await reg.run(ctx);
        checkLeading(lc.signal);
        await ctx.closeOpenStep('left open by the handler');
        await ctx.exec({ kind: 'job.finish', job: id, result: result ?? {} });
        this.rt.metrics.jobEnded(j.jobType, 'done', j.createdAt);
        this.attempts.delete(id);
        log.info({ ms: Date.now() - j.createdAt }, 'job done');
        return;
      } catch (e) {
        if (lc.signal.aborted) throw e;
        if (e instanceof JobError) failure = e;
        else {
          const a = this.attempts.get(id);
          const n = a !== undefined && a.term === lc.term ? a.n + 1 : 1;
          this.attempts.set(id, { term: lc.term, n });
          if (e instanceof RetryableJobError || n < MAX_ATTEMPTS) {
            log.warn({ err: e, attempt: n }, 'job step failed; the job will be retried');
            throw e;
          }
          failure = new JobError(JOB_INTERNAL_ERROR, `gave up after ${n} attempts: ${(e as Error).message}`.slice(0, 1000), { cause: e });
        }
      }
      // Record the failure before undoing anything: a new leader resumes the rollback, not the work.
      await ctx.closeOpenStep(failure.info);
      await ctx.recordFailure(failure);
    }
    await this.rollbackAndFail(ctx, reg, failure, log);
  }

  private async rollbackAndFail(ctx: Ctx, reg: RunnableJob, failure: JobError, log: Logger): Promise<void> {
    let info = failure.info;
    if (reg.rollback !== undefined) {
      try {
        await ctx.step(ROLLBACK_STEP, 0, async () => {
          await reg.rollback!(ctx, failure);
        });
      } catch (e) {
        if (ctx.signal.aborted) throw e;
        if (!(e instanceof JobError)) throw e; // transient: retried, the rollback resumes
        info = `${info}; rollback failed: ${e.info}`;
        await ctx.closeOpenStep(e.info);
      }
    }
    await ctx.exec({ kind: 'job.fail', job: ctx.id, code: failure.code, info: info.slice(0, 1000) });
    this.rt.metrics.jobEnded(ctx.job.jobType, 'failed', ctx.job.createdAt);
    this.attempts.delete(ctx.id);
    log.warn({ code: failure.code, info }, 'job failed');
  }
}
