// The job aggregate (cluster_general_job_log): not_started -> ongoing (steps) -> done | failed.
// done and failed are final states, so a job ends exactly once: a second ending is refused. An ended
// job is pruned (job.pruned) after the retention: the world forgets it, its metadata row stays.
import { assign, setup, type StateValue } from 'xstate';
import type { EventData, EventsOfKind } from '../../events/catalog.js';
import type { Json } from '../../events/schema.js';
import type { AggregateLogic } from '../runner.js';
import type { InstallTask } from '../../events/vocab.js';

export type JobEvent = EventsOfKind<'job'>;

export interface JobStepRecord {
  step: string;
  ok: boolean;
  info: string;
  startedAt: number;
  endedAt: number;
}

/** A port the job's instance could not use, and why (job.port_skipped). */
export interface SkippedPort {
  instance: string;
  hostaddr: string;
  port: number;
  reason: string;
  at: number;
}

/** One install/uninstall the job asked an agent for (job.instance_task): a piece of mysql_pg_install_log. */
export interface InstanceTaskRecord {
  task: InstallTask;
  hostaddr: string;
  port: number;
  status: 'ongoing' | 'done' | 'failed';
  request: Json;
  answer: Json;
  startedAt: number;
  endedAt: number | null;
}

export interface JobCtx {
  id: number;
  jobType: string;
  request: Json;
  /** The request envelope as received, secrets removed (job_info); null in jobs created before it was kept. */
  envelope: Json;
  cluster: number | null;
  parent: number | null;
  /** The aggregate this job holds exclusively while it runs (a child under its parent's lock: null). */
  lock: string | null;
  user: string | null;
  system: string | null;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  /** The running step; `note` its latest progress report (job.step_progressed), absent before one. */
  step: { name: string; index: number; total: number; startedAt: number; note?: string } | null;
  progress: { done: number; total: number };
  steps: JobStepRecord[];
  /** Ports its instances could not use: its placements skip them (bounded like the steps). */
  skippedPorts: SkippedPort[];
  /** Installs and uninstalls it asked agents for, oldest first (bounded like the steps). */
  instanceTasks: InstanceTaskRecord[];
  code: number;
  info: string;
  result: Json;
}

/** Step history is bounded (the most recent are kept) so a long job cannot grow the state without limit. */
const MAX_STEPS = 100;

export function initJob(key: number | string): JobCtx {
  return {
    id: Number(key),
    jobType: '',
    request: null,
    envelope: null,
    cluster: null,
    parent: null,
    lock: null,
    user: null,
    system: null,
    createdAt: 0,
    startedAt: null,
    endedAt: null,
    step: null,
    progress: { done: 0, total: 0 },
    steps: [],
    skippedPorts: [],
    instanceTasks: [],
    code: 0,
    info: '',
    result: null,
  };
}

export function reduceJob(ctx: JobCtx, ev: JobEvent): JobCtx {
  const at = ev.at;
  switch (ev.type) {
    case 'job.created': {
      const c = ev.cause;
      return {
        ...ctx,
        jobType: ev.data.jobType,
        request: ev.data.request,
        envelope: ev.data.envelope ?? null,
        cluster: ev.data.cluster,
        parent: ev.data.parent,
        lock: ev.data.lock,
        user: 'user' in c ? c.user : null,
        system: 'system' in c ? c.system : null,
        createdAt: at,
      };
    }
    case 'job.step_started':
      return {
        ...ctx,
        startedAt: ctx.startedAt ?? at,
        step: { name: ev.data.step, index: ev.data.index, total: ev.data.total, startedAt: at },
      };
    case 'job.step_finished': {
      const started = ctx.step?.startedAt ?? at;
      const rec: JobStepRecord = { step: ev.data.step, ok: ev.data.ok, info: ev.data.info, startedAt: started, endedAt: at };
      return {
        ...ctx,
        step: null,
        progress: { done: ev.data.done, total: ev.data.total },
        steps: [...ctx.steps, rec].slice(-MAX_STEPS),
      };
    }
    case 'job.step_progressed':
      return ctx.step === null ? ctx : { ...ctx, step: { ...ctx.step, note: ev.data.note } };
    case 'job.port_skipped': {
      const d = ev.data;
      const rec: SkippedPort = { instance: d.instance, hostaddr: d.hostaddr, port: d.port, reason: d.reason, at };
      return { ...ctx, skippedPorts: [...(ctx.skippedPorts ?? []), rec].slice(-MAX_STEPS) };
    }
    case 'job.instance_task':
      return { ...ctx, instanceTasks: withInstanceTask(ctx.instanceTasks ?? [], ev.data, at) };
    case 'job.done':
      return { ...ctx, step: null, endedAt: at, code: 0, info: 'OK', result: ev.data.result };
    case 'job.failed':
      return { ...ctx, step: null, endedAt: at, code: ev.data.code, info: ev.data.info, result: ev.data.result };
    case 'job.pruned':
      return ctx;
  }
}

/** `ongoing` starts a record; an ending closes the latest open record of the same task and instance. */
function withInstanceTask(list: InstanceTaskRecord[], d: EventData<'job.instance_task'>, at: number): InstanceTaskRecord[] {
  if (d.status === 'ongoing') {
    const rec: InstanceTaskRecord = { task: d.task, hostaddr: d.hostaddr, port: d.port, status: 'ongoing', request: d.request ?? null, answer: null, startedAt: at, endedAt: null };
    return [...list, rec].slice(-MAX_STEPS);
  }
  let i = list.length - 1;
  while (i >= 0 && !(list[i]!.status === 'ongoing' && list[i]!.task === d.task && list[i]!.hostaddr === d.hostaddr && list[i]!.port === d.port)) i--;
  const ended = { status: d.status, answer: d.answer ?? null, endedAt: at };
  if (i < 0) return [...list, { task: d.task, hostaddr: d.hostaddr, port: d.port, request: d.request ?? null, startedAt: at, ...ended }].slice(-MAX_STEPS);
  return list.map((r, j) => (j === i ? { ...r, ...ended } : r));
}

export const jobMachine = setup({
  types: { context: {} as JobCtx, events: {} as JobEvent, input: {} as { key: number | string } },
  actions: { apply: assign(({ context, event }) => reduceJob(context, event)) },
}).createMachine({
  id: 'job',
  context: ({ input }) => initJob(input.key),
  initial: 'absent',
  states: {
    absent: { on: { 'job.created': { target: 'not_started', actions: 'apply' } } },
    not_started: {
      on: {
        'job.step_started': { target: 'ongoing.in_step', actions: 'apply' },
        'job.done': { target: 'done', actions: 'apply' },
        'job.failed': { target: 'failed', actions: 'apply' },
      },
    },
    ongoing: {
      initial: 'idle',
      on: { 'job.failed': { target: 'failed', actions: 'apply' }, 'job.port_skipped': { actions: 'apply' }, 'job.instance_task': { actions: 'apply' } },
      states: {
        idle: {
          on: {
            'job.step_started': { target: 'in_step', actions: 'apply' },
            'job.done': { target: '#job.done', actions: 'apply' },
          },
        },
        in_step: { on: { 'job.step_finished': { target: 'idle', actions: 'apply' }, 'job.step_progressed': { actions: 'apply' } } },
      },
    },
    // Final (a job ends exactly once), yet an ended job can still leave the world: pruned is where the
    // World drops it. Final states keep the persisted status 'done' that snapshots already hold.
    done: { type: 'final', on: { 'job.pruned': { target: 'pruned', actions: 'apply' } } },
    failed: { type: 'final', on: { 'job.pruned': { target: 'pruned', actions: 'apply' } } },
    pruned: { type: 'final' },
  },
});

export const jobLogic: AggregateLogic<JobCtx, JobEvent> = {
  kind: 'job',
  machine: jobMachine,
  init: initJob,
  reduce: reduceJob,
  disc: () => '',
  gone: (v: StateValue) => v === 'pruned',
};
