// The job engine in-process: the world is real (commands checked and applied as on a leader), the
// Raft round trip is replaced by applying at once. Leadership changes are AbortSignals, as the
// reconciler host gives them. What is checked: finished steps are not run again after a leader change
// (their recorded result is returned), an interrupted step is rerun and closed, a failure is recorded
// before the rollback and a new leader resumes the rollback (not the work), transient errors are
// retried and then given up, children report to their parent, and a job ends exactly once.
import t from 'tap';
import { World, type Command, type JobView } from '../../src/actors/index.js';
import { encodeBatch } from '../../src/events/codec.js';
import type { Cause } from '../../src/events/envelope.js';
import type { Json } from '../../src/events/schema.js';
import { createLogger } from '../../src/log/logger.js';
import type { ExecResult, RaftControl } from '../../src/ports/index.js';
import { loadConfig } from '../../src/config/load.js';
import { JobError, JobReconciler, type JobContext, type JobRuntime } from '../../src/jobs/engine.js';
import type { JobTypeDefinition } from '../../src/jobs/definition.js';
import { clusterById } from '../../src/jobs/types/world-checks.js';
import { checkCommand, JOB_DEFINITIONS } from '../helpers/job-catalog.js';
import { Leader } from '../actors/helpers.js';
import { setTimeout as sleep } from 'node:timers/promises';

const log = createLogger({ level: 'silent' });

/** No job here changes the Raft group. */
const noRaft: RaftControl = {
  isLeader: true,
  status: () => {
    throw new Error('not in this test');
  },
  proposeConfChange: () => Promise.reject(new Error('not in this test')),
  setPeerAddress: () => {
    throw new Error('not in this test');
  },
  transferLeadership: () => Promise.reject(new Error('not in this test')),
};

/** A leader in one process: checks a command against the world and applies its events at once. */
class InstantRuntime implements JobRuntime {
  readonly world = new World();
  readonly cfg = loadConfig({ env: {} });
  readonly node = noRaft;
  readonly metadata = { lastProjected: { index: 0, term: 0 } };
  /** Jobs ended, as the engine reports them to the metrics. */
  readonly ended: string[] = [];
  readonly metrics = { jobEnded: (jobType: string, outcome: string): void => void this.ended.push(`${jobType} ${outcome}`) };
  at = 1_764_000_000_000;
  index = 0;
  /** Commands executed, for asserting what a rerun did not do again. */
  readonly executed: Command[] = [];

  execute(cmd: Command, cause: Cause): Promise<ExecResult> {
    this.at += 10;
    this.executed.push(cmd);
    const r = checkCommand(this.world, cmd, { at: this.at, cause, jobs: JOBS });
    if (!r.ok) return Promise.resolve({ ok: false, kind: 'refused', refusal: r });
    const a = this.world.applyEntry(++this.index, encodeBatch(r.events));
    if (!a.ok) return Promise.resolve({ ok: false, kind: 'rejected_at_apply', index: a.index, reason: a.reason });
    return Promise.resolve({ ok: true, index: a.index, result: a });
  }
}

function setup() {
  const rt = new InstantRuntime();
  const leader = new Leader(rt.world);
  const { cluster } = leader.cluster(1);
  leader.index = 0;
  rt.index = rt.world.applied;
  const eng = new JobReconciler(rt, JOBS);
  let term = 1;
  let ctl = new AbortController();
  const lead = () => ({ term, signal: ctl.signal, log });
  const newLeader = () => {
    ctl.abort(new Error(`leadership of term ${term} lost`));
    term++;
    ctl = new AbortController();
  };
  const start = async (jobType: string, request: Record<string, Json>): Promise<number> => {
    const r = await rt.execute({ kind: 'job.start', jobType, request }, { user: 'test' });
    if (!r.ok) throw new Error(`job.start refused: ${JSON.stringify(r)}`);
    const c = r.result.ok ? r.result.committed.find((x) => x.event.type === 'job.created') : undefined;
    return Number(c!.event.agg.slice(4));
  };
  const job = (id: number): JobView => rt.world.job(id)!;
  return { rt, cluster, eng, lead, newLeader, start, job, abort: () => ctl.abort(new Error(`leadership of term ${term} lost`)) };
}

const ends = (rt: InstantRuntime, id: number) => rt.executed.filter((c) => (c.kind === 'job.finish' || c.kind === 'job.fail') && c.job === id);

// The job types under test: test_job (needs only a cluster id) and its child test_child.
let behaviour: (ctx: JobContext) => Promise<Json | void> = () => Promise.resolve();
let rollback: (ctx: JobContext, e: JobError) => Promise<void> = () => Promise.resolve();
let childBehaviour: (ctx: JobContext) => Promise<Json | void> = () => Promise.resolve();
const testJob: JobTypeDefinition = {
  kind: 'job',
  name: 'test_job',
  role: 'operator',
  sync: false,
  internal: false,
  summary: 'a job of this test',
  missingParas: 70005,
  paras: { cluster_id: { kind: 'int', min: 1, max: 1000, required: true } },
  accept: (world, p) => {
    const cluster = clusterById(world, p, 'cluster_id', 70098);
    return { request: { cluster_id: cluster }, cluster, lock: null };
  },
  steps: ['one', 'two', 'three', 'new_name', 'install', 'flaky', 'backup'],
  run: (ctx) => behaviour(ctx),
  rollback: (ctx, e) => rollback(ctx, e),
  attachment: { description: 'none', keys: {} },
  writes: [],
};
const testChild: JobTypeDefinition = { ...testJob, name: 'test_child', internal: true, accept: undefined, steps: [], run: (ctx) => childBehaviour(ctx), rollback: undefined };
const JOBS = JOB_DEFINITIONS.with([testJob, testChild]);

t.test('steps run once, results recorded, the job ends once', async (t) => {
  const s = setup();
  const runs: Record<string, number> = {};
  behaviour = async (ctx) => {
    const a = await ctx.step('one', 3, () => {
      runs.one = (runs.one ?? 0) + 1;
      return Promise.resolve({ port: 57001 });
    });
    const b = await ctx.step('two', 3, () => {
      runs.two = (runs.two ?? 0) + 1;
      return Promise.resolve([1, 2]);
    });
    await ctx.step('three', 3, () => {
      runs.three = (runs.three ?? 0) + 1;
      return Promise.resolve();
    });
    return { a, b };
  };
  const id = await s.start('test_job', { cluster_id: s.cluster });
  await s.eng.reconcile(String(id), s.lead());
  const j = s.job(id);
  t.equal(j.status, 'done');
  t.same(j.result, { a: { port: 57001 }, b: [1, 2] }, 'the result is the handler\'s');
  t.same(j.steps.map((x) => [x.step, x.ok]), [['one', true], ['two', true], ['three', true]]);
  t.same(j.progress, { done: 3, total: 3 });
  t.same(runs, { one: 1, two: 1, three: 1 });
  await s.eng.reconcile(String(id), s.lead());
  t.same(runs, { one: 1, two: 1, three: 1 }, 'a sweep after the end runs nothing');
  t.equal(ends(s.rt, id).length, 1, 'one ending proposed');
  t.same(s.rt.ended, ['test_job done'], 'the ending counted once in the metrics');
  t.same(s.eng.keys(), [], 'no active job left');
});

t.test('a new leader skips finished steps and reruns the interrupted one', async (t) => {
  const s = setup();
  const runs: Record<string, number> = {};
  let dieInTwo = true;
  behaviour = async (ctx) => {
    const a = await ctx.step('one', 3, () => {
      runs.one = (runs.one ?? 0) + 1;
      return Promise.resolve(runs.one * 100);
    });
    await ctx.step('two', 3, () => {
      runs.two = (runs.two ?? 0) + 1;
      if (dieInTwo) {
        dieInTwo = false;
        s.abort(); // the leader dies in the middle of the step's effect
        return Promise.reject(new Error('connection lost with the leadership'));
      }
      return Promise.resolve();
    });
    await ctx.step('three', 3, () => {
      runs.three = (runs.three ?? 0) + 1;
      return Promise.resolve();
    });
    return { a };
  };
  const id = await s.start('test_job', { cluster_id: s.cluster });
  await t.rejects(s.eng.reconcile(String(id), s.lead()), 'the old leader\'s run stops');
  t.equal(s.job(id).step?.name, 'two', 'the job is left in step two');
  t.equal(s.job(id).status, 'ongoing');
  s.newLeader();
  await s.eng.reconcile(String(id), s.lead());
  const j = s.job(id);
  t.equal(j.status, 'done');
  t.same(runs, { one: 1, two: 2, three: 1 }, 'step one not rerun; two rerun; three once');
  t.same(j.result, { a: 100 }, 'the recorded result of step one was returned to the rerun');
  t.same(j.steps.map((x) => x.step), ['one', 'two', 'three']);
  t.equal(ends(s.rt, id).length, 1);
});

t.test('a step left open under another name is closed as interrupted', async (t) => {
  const s = setup();
  const id = await s.start('test_job', { cluster_id: s.cluster });
  await s.rt.execute({ kind: 'job.step_start', job: id, step: 'old_name', index: 0, total: 1 }, { system: 't' });
  behaviour = async (ctx) => {
    await ctx.step('new_name', 1, () => Promise.resolve());
  };
  await s.eng.reconcile(String(id), s.lead());
  const j = s.job(id);
  t.equal(j.status, 'done');
  t.same(j.steps.map((x) => [x.step, x.ok]), [['old_name', false], ['new_name', true]]);
});

t.test('a failure is recorded, rolled back once, and a new leader resumes the rollback', async (t) => {
  const s = setup();
  let work = 0;
  let undo = 0;
  let dieInRollback = true;
  behaviour = async (ctx) => {
    work++;
    await ctx.step('install', 2, () => Promise.reject(new JobError(70146, 'install_mysql failed on 10.0.0.1:57001')));
  };
  rollback = (_ctx, e) => {
    undo++;
    t.equal(e.code, 70146, 'the rollback gets the failure');
    if (dieInRollback) {
      dieInRollback = false;
      s.abort();
      return Promise.reject(new Error('leadership lost'));
    }
    return Promise.resolve();
  };
  const id = await s.start('test_job', { cluster_id: s.cluster });
  await t.rejects(s.eng.reconcile(String(id), s.lead()));
  t.equal(s.job(id).step?.name, 'rollback', 'left in the rollback step');
  s.newLeader();
  await s.eng.reconcile(String(id), s.lead());
  const j = s.job(id);
  t.equal(j.status, 'failed');
  t.equal(j.errorCode, 70146);
  t.match(j.errorInfo, /install_mysql failed/);
  t.equal(work, 1, 'the work was not rerun by the new leader');
  t.equal(undo, 2, 'the interrupted rollback was rerun');
  t.same(j.steps.map((x) => [x.step, x.ok]), [['install', false], ['failed', false], ['rollback', true]]);
  t.equal(ends(s.rt, id).length, 1);
  rollback = () => Promise.resolve();
});

t.test('transient errors are retried, then the job is failed', async (t) => {
  const s = setup();
  let tries = 0;
  behaviour = async (ctx) => {
    await ctx.step('flaky', 1, () => {
      tries++;
      return Promise.reject(new Error('ECONNREFUSED'));
    });
  };
  const id = await s.start('test_job', { cluster_id: s.cluster });
  let thrown = 0;
  for (let i = 0; i < 20 && s.eng.keys().includes(String(id)); i++) {
    await s.eng.reconcile(String(id), s.lead()).catch(() => thrown++);
  }
  const j = s.job(id);
  t.equal(j.status, 'failed', 'given up instead of retried forever');
  t.match(j.errorInfo, /gave up after 8 attempts: ECONNREFUSED/);
  t.equal(thrown, 7, 'the host retried it 7 times before');
  t.equal(tries, 8);
  t.same(s.rt.ended, ['test_job failed'], 'counted as failed, once');
});

t.test('a child job reports to its parent; a rerun finds the same child', async (t) => {
  const s = setup();
  let childRuns = 0;
  childBehaviour = () => {
    childRuns++;
    return Promise.resolve({ backed_up: true });
  };
  let dieAfterStart = true;
  behaviour = async (ctx) => {
    const child = await ctx.startChild('backup', 2, 'test_child', { shard: 1 });
    if (dieAfterStart) {
      dieAfterStart = false;
      s.abort();
    }
    return { child: await ctx.waitChild(child) };
  };
  const id = await s.start('test_job', { cluster_id: s.cluster });
  await t.rejects(s.eng.reconcile(String(id), s.lead()));
  s.newLeader();
  const parent = s.eng.reconcile(String(id), s.lead());
  const children = s.eng.keys().map(Number).filter((k) => s.job(k).parent === id);
  t.equal(children.length, 1, 'exactly one child, though the parent ran twice');
  await s.eng.reconcile(String(children[0]), s.lead());
  await parent;
  t.equal(s.job(id).status, 'done');
  t.same(s.job(id).result, { child: { backed_up: true } });
  t.equal(childRuns, 1);
});

t.test('a failed child fails its parent with the child\'s error', async (t) => {
  const s = setup();
  childBehaviour = () => Promise.reject(new JobError(70144, 'uninstall failed'));
  behaviour = async (ctx) => {
    await ctx.child('backup', 1, 'test_child', {});
  };
  const id = await s.start('test_job', { cluster_id: s.cluster });
  const parent = s.eng.reconcile(String(id), s.lead());
  await sleep(20);
  for (const k of s.eng.keys()) if (Number(k) !== id) await s.eng.reconcile(k, s.lead());
  await parent;
  t.equal(s.job(id).status, 'failed');
  t.equal(s.job(id).errorCode, 70144);
  t.match(s.job(id).errorInfo, /child job \d+ \(test_child\): uninstall failed/);
});

t.test('a job type without a handler fails instead of hanging', async (t) => {
  const s = setup();
  const id = await s.start('test_job', { cluster_id: s.cluster });
  // A manager whose definitions lack the type (a log written by a newer version).
  await new JobReconciler(s.rt, JOB_DEFINITIONS).reconcile(String(id), s.lead());
  t.equal(s.job(id).status, 'failed');
  t.match(s.job(id).errorInfo, /not implemented/);
});

t.test('a step name the definition does not declare fails the job, and nothing of the step runs', async (t) => {
  const s = setup();
  let ran = false;
  behaviour = async (ctx) => {
    await ctx.step('undeclared', 1, () => {
      ran = true;
      return Promise.resolve();
    });
  };
  rollback = () => Promise.resolve();
  const id = await s.start('test_job', { cluster_id: s.cluster });
  await s.eng.reconcile(String(id), s.lead());
  const j = s.job(id);
  t.equal(j.status, 'failed');
  t.match(j.errorInfo, /step undeclared is not declared in its definition/);
  t.notOk(ran, 'the undeclared step did not run');
  t.notOk(j.steps.some((x) => x.step === 'undeclared'), 'and was not recorded');
});
