// The node agent: owns its base dir (one agent per dir), remembers its instances in the registry,
// finishes what a previous run left half-done, re-adopts running instances, keeps them alive, and
// answers node_mgr's jobs.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import { PidLock } from '../launcher/pid-lock.js';
import type { AgentConfig } from './config.js';
import { CopyTickets } from './copy-source.js';
import { CopyRuns } from './copy-runs.js';
import { cleanCopyLeftovers } from './copy-target.js';
import { killInstance, livePid } from './instances.js';
import type { JobContext } from './job-def.js';
import { jobOf, unsupportedReason, uninstall } from './jobs.js';
import { Keepalive } from './keepalive.js';
import { confine, copiesFile } from './paths.js';
import { PortLocks } from './port-locks.js';
import { EnvelopeError, formatAnswer, parseEnvelope, type Answer } from './protocol.js';
import { Registry } from './registry.js';
import { ParaError, describe } from './validate.js';

export class Agent implements JobContext {
  registry!: Registry;
  readonly locks = new PortLocks();
  readonly tickets = new CopyTickets();
  copies!: CopyRuns;
  private lock: PidLock | null = null;
  private keepalive: Keepalive | null = null;

  constructor(
    readonly cfg: AgentConfig,
    readonly log: Logger,
  ) {}

  async open(): Promise<void> {
    mkdirSync(this.cfg.baseDir, { recursive: true, mode: 0o755 });
    // One agent per base dir: two agents would both restart the same instances.
    this.lock = PidLock.acquire(join(this.cfg.baseDir, 'agent.lock'), `base dir ${this.cfg.baseDir}`, { holder: 'another agent, process', takeOverOwn: true });
    try {
      this.registry = Registry.load(this.cfg.baseDir);
      // Before recover() removes their leftovers: a copy cut by the restart is recorded as failed.
      this.copies = CopyRuns.load(copiesFile(this.cfg.baseDir), this.log);
      await this.recover();
      this.keepalive = new Keepalive({
        registry: this.registry,
        locks: this.locks,
        log: this.log,
        enabled: this.cfg.keepalive,
        intervalMs: this.cfg.keepaliveIntervalMs,
        restartDelayMs: this.cfg.keepaliveRestartDelayMs,
        backoffMs: this.cfg.keepaliveBackoffMs,
        osUser: this.cfg.postgresOsUser,
        startTimeoutMs: this.cfg.startTimeoutMs,
      });
      this.keepalive.start();
    } catch (e) {
      this.lock.release();
      this.lock = null;
      throw e;
    }
  }

  /** Stops the keepalive and releases the base dir; instances keep running, as under node_mgr. */
  async close(): Promise<void> {
    // A copy in flight is stopped before its swap: the old data dir stays; the manager starts it again.
    this.copies.abortAll('agent_stop');
    await this.keepalive?.stop();
    await this.locks.idle();
    this.lock?.release();
    this.lock = null;
  }

  /** Rolls back installs, finishes uninstalls, and re-adopts the servers that still run. */
  private async recover(): Promise<void> {
    for (const rec of this.registry.all()) {
      if (rec.phase === 'installing') {
        this.log.warn({ port: rec.port, type: rec.kind }, 'an install was interrupted; removing what it left');
        await killInstance(rec);
        rmSync(confine(this.cfg.baseDir, rec.dir), { recursive: true, force: true });
        this.registry.remove(rec.port);
      } else if (rec.phase === 'uninstalling') {
        this.log.warn({ port: rec.port, type: rec.kind }, 'an uninstall was interrupted; finishing it');
        await uninstall(this, rec);
      } else {
        for (const what of cleanCopyLeftovers(rec)) this.log.warn({ port: rec.port }, `a physical copy was interrupted: ${what}`);
        const pid = livePid(rec);
        if (pid !== rec.pid) this.registry.update(rec.port, { pid });
        this.log.info(
          { port: rec.port, type: rec.kind, pid, desired: rec.desired, keepalive: rec.keepalive },
          pid !== null ? 'adopted a running instance' : 'instance is not running',
        );
      }
    }
  }

  /** One Emit request: its body in, node_mgr's answer text out. Never throws. */
  async handle(body: string): Promise<string> {
    let env;
    try {
      env = parseEnvelope(body);
    } catch (e) {
      if (!(e instanceof EnvelopeError)) throw e;
      this.log.warn({ reason: e.message }, 'refused a malformed request');
      return formatAnswer(e.requestId, e.taskSpecInfo, { status: 'failed', info: e.message });
    }
    const started = Date.now();
    const fields = { job_type: env.jobType, request_id: env.requestId, task_spec_info: env.taskSpecInfo };
    const job = jobOf(env.jobType);
    let answer: Answer;
    if (!job) {
      const why = unsupportedReason(env.jobType);
      answer = {
        status: 'failed',
        info: why
          ? `job_type ${env.jobType} is not supported by cluster-mgr agent: ${why}`
          : `job_type no support: ${describe(env.jobType)}`,
      };
    } else {
      this.log.info(fields, 'job started');
      try {
        answer = await job.run(this, env);
      } catch (e) {
        if (e instanceof ParaError) {
          answer = { status: 'failed', info: `${env.jobType}: ${e.message}` };
        } else {
          this.log.error({ ...fields, err: e }, 'job failed unexpectedly');
          answer = { status: 'failed', info: `${env.jobType} failed: ${(e as Error).message ?? String(e)}` };
        }
      }
      if (answer.extra === undefined && job.extra) answer.extra = job.extra(this, env.paras);
    }
    const level = answer.status === 'success' ? 'info' : 'warn';
    this.log[level](
      { ...fields, status: answer.status, ms: Date.now() - started, ...(answer.status === 'failed' ? { info: answer.info } : {}) },
      'job finished',
    );
    return formatAnswer(env.requestId, env.taskSpecInfo, answer);
  }
}
