// manual_switch (cluster_mgr-api.md §10, cluster_mgr-ha.md §4.3): a planned switchover of an rbr shard's
// primary, as a job. The shard-HA step engine (src/shard-ha/step-engine.ts, switchover) does the work;
// this file holds the job's own steps:
//   check      the target checked on the real nodes (a refused target fails the job, nothing changed)
//   take_shard the shard's failover task taken (one task per shard: an automatic failover cannot start
//              while the switch runs, nor the switch while a failover runs), the elect step recorded
//   switch     the write-unavailable part as one job step, so no Raft round trip sits between its
//              effects: fence, drain, promote, repoint, recorded after them
//   record     the new primary recorded (failover.finish: shard.primary_changed and the node roles)
// Every step looks at the real world first, so a new leader resumes the job where the old one died. A
// failure rolls back (rollback below): see ShardChange.rollbackSwitchover.
import type { ShardView } from '../../actors/index.js';
import type { Json } from '../../events/schema.js';
import { sleepWhileLeading } from '../../reconcile/host.js';
import { addr, ChangeError, HA_ERRORS, stepFigures } from '../../shard-ha/step-engine.js';
import { Switchover, type SwitchRequest } from '../../shard-ha/switchover.js';
import { JOB_INTERNAL_ERROR, JobError, type JobContext } from '../engine.js';
import { num, optNum, req } from './request.js';

/** The job's steps in order (job.step_* events; get_status `job_step` lists them, `step` names the current). */
export const MANUAL_SWITCH_STEPS = ['check', 'take_shard', 'switch', 'record'] as const;
const TOTAL = MANUAL_SWITCH_STEPS.length;
const [CHECK, TAKE_SHARD, SWITCH, RECORD] = MANUAL_SWITCH_STEPS;

function request(ctx: JobContext): SwitchRequest {
  const r = req(ctx);
  return { shard: num(r, 'shard_id'), from: num(r, 'from'), to: optNum(r, 'to') };
}

function shardOf(ctx: JobContext, id: number): ShardView {
  const s = ctx.world.shard(id);
  if (s === null) throw new JobError(JOB_INTERNAL_ERROR, `shard ${id} no longer exists`);
  return s;
}

/** The shard's running task when this job started it, else null. */
function ourTask(ctx: JobContext, s: ShardView): number | null {
  const t = s.task;
  if (t === null || t.kind !== 'switchover') return null;
  return t.evidence.facts.job === ctx.job.id ? t.task : null;
}

function taskOf(ctx: JobContext, r: SwitchRequest): number {
  const t = ourTask(ctx, shardOf(ctx, r.shard));
  if (t === null) throw new JobError(JOB_INTERNAL_ERROR, `shard ${r.shard} no longer runs this job's switchover task`);
  return t;
}

const busy = (s: ShardView): JobError =>
  new JobError(HA_ERRORS.busyShard, `shard ${s.id} is busy with ${s.task!.kind} task ${s.task!.task}: try again when it has ended`);
const notPrimary = (s: ShardView, r: SwitchRequest): JobError =>
  new JobError(HA_ERRORS.notSource, `node ${r.from} is no longer the primary of shard ${s.id} (now ${s.primary ?? 'none'})`);

/** The engine's ChangeError as the job's error (the original's number, or the job's internal error). */
async function asJob<T>(ctx: JobContext, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ChangeError && !ctx.signal.aborted) throw new JobError(e.code ?? JOB_INTERNAL_ERROR, e.info, { cause: e });
    throw e;
  }
}

function switchover(ctx: JobContext): Switchover {
  return new Switchover({ world: ctx.world, cfg: ctx.cfg, signal: ctx.signal, term: ctx.term, log: ctx.log, exec: (cmd) => ctx.exec(cmd) });
}

export async function manualSwitch(ctx: JobContext): Promise<Json> {
  const r = request(ctx);
  const sw = switchover(ctx);
  const t0 = Date.now();
  try {
    // failover_step_delay_ms (chaos testing only, 0 in production) pauses before each step, so a
    // test can kill the leader between steps and see the next one resume the job.
    const pause = (): Promise<void> => sleepWhileLeading(sw.settings.stepDelayMs, ctx.signal);
    await pause();
    const chosen = await ctx.step(CHECK, TOTAL, async () => {
      const s = shardOf(ctx, r.shard);
      if (ourTask(ctx, s) === null) {
        if (s.task !== null) throw busy(s);
        if (s.primary !== r.from) throw notPrimary(s, r);
      }
      const t = await asJob(ctx, () => sw.chooseTarget(r));
      return { node: t.node, backlog: t.backlog };
    });
    const target = Number(chosen.node);
    await pause();
    const task = Number(
      await ctx.step(TAKE_SHARD, TOTAL, async () => {
        const s = shardOf(ctx, r.shard);
        const mine = ourTask(ctx, s);
        if (mine !== null) return mine; // started before a leader change
        if (s.task !== null) throw busy(s);
        if (s.primary !== r.from) throw notPrimary(s, r);
        if (s.noSwitch !== null && s.noSwitch.until > Date.now()) {
          throw new JobError(HA_ERRORS.noSwitchWindow, `shard ${s.id} is in a no-switch window until ${new Date(s.noSwitch.until).toISOString()}`);
        }
        await ctx.exec({
          kind: 'failover.start',
          shard: s.id,
          failoverKind: 'switchover',
          ...(r.to !== null ? { target: r.to } : {}),
          term: ctx.term,
          evidence: { observer: ctx.cfg.selfId, summary: `manual_switch job ${ctx.job.id}`, facts: { job: ctx.job.id, from: r.from, to: r.to ?? 'elect' } },
        });
        const task = taskOf(ctx, r);
        await asJob(ctx, () => sw.change(r, task, target, Number(chosen.backlog)).run({ after: null, until: 'elect', recordEach: true }));
        return task;
      }),
    );
    await pause();
    const figures = await ctx.step(SWITCH, TOTAL, async () => {
      const change = await asJob(ctx, () => sw.change(r, taskOf(ctx, r), target));
      const done = await asJob(ctx, () => change.run({ after: 'elect', recordEach: false }));
      const ms = stepFigures(done);
      const failed = (done.get('repoint')?.info ?? '').split('; ').filter((l) => l.startsWith('failed'));
      return {
        position: change.position ?? '',
        readonly_ms: Number(ms.fence_ms ?? 0) + Number(ms.drain_ms ?? 0) + Number(ms.promote_ms ?? 0),
        ...ms,
        repoint_failed: failed.join('; ').slice(0, 400),
      };
    });
    await pause();
    await ctx.step(RECORD, TOTAL, async () => {
      const s = shardOf(ctx, r.shard);
      if (s.primary === target && ourTask(ctx, s) === null) return; // recorded before a leader change
      await asJob(ctx, () => sw.change(r, taskOf(ctx, r), target).finish('manual_switch: the target is the primary'));
    });
    const [tv, ov] = await asJob(ctx, () => [sw.view(target), sw.view(r.from)] as const);
    // The outcome row, also when a leader that died had recorded the finish but not written its row.
    await asJob(ctx, () => sw.change(r, task, target).endRow('end', 0, `node ${target} is the primary of shard ${r.shard}`, tv));
    await sw.flushRows();
    ctx.log.info({ shard: r.shard, task, from: addr(ov), to: addr(tv), ms: Date.now() - t0 }, 'switchover done');
    return { shard_id: r.shard, task, old_master: addr(ov), new_master: addr(tv), ...figures };
  } finally {
    await sw.close();
  }
}

/**
 * After a failure: the engine's switchover rollback (the old primary reopened when the target cannot
 * have taken a write, else the target recorded as the primary); the task is always released.
 */
export async function rollback(ctx: JobContext, err: JobError): Promise<void> {
  const r = request(ctx);
  const s = shardOf(ctx, r.shard);
  const task = ourTask(ctx, s);
  if (task === null) return; // the task was never taken, or has ended
  const sw = switchover(ctx);
  try {
    await asJob(ctx, () => sw.change(r, task, s.task?.candidate ?? r.to).rollbackSwitchover(err, ctx.job.steps.some((x) => x.step === SWITCH)));
    await sw.flushRows();
  } finally {
    await sw.close();
  }
}

