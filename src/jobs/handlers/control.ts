// control_instance (cluster_mgr-api.md §3.18): stop, start or restart one storage node or compute node
// through its machine's agent, with its status recorded in the world. Unlike the original (which sets
// `inactive` before the call and never reverts it), a stop is recorded as `manual_stop` before the
// agent stops it, so nothing mistakes it for a failure, and put back if the stop fails; a start or
// restart is recorded `active` only after the agent succeeded.
import type { InstanceStatus } from '../../events/vocab.js';
import type { Json } from '../../events/schema.js';
import { JobError, registerJobHandler, type JobContext } from '../engine.js';
import { num, req, str } from './request.js';

export const E_CONTROL_INSTANCE = 70401;

type Control = 'start' | 'stop' | 'restart';

interface Target {
  kind: 'node' | 'comp';
  id: number;
  host: string;
  port: number;
  control: Control;
}

function target(ctx: JobContext): Target {
  const r = req(ctx);
  const [kind, id] = str(r, 'instance').split('/') as ['node' | 'comp', string];
  const control = str(r, 'control');
  if (control !== 'start' && control !== 'stop' && control !== 'restart') throw new JobError(E_CONTROL_INSTANCE, 'control type error');
  return { kind, id: Number(id), host: str(r, 'hostaddr'), port: num(r, 'port'), control };
}

function statusOf(ctx: JobContext, t: Target): InstanceStatus | null {
  const v = t.kind === 'node' ? ctx.world.node(t.id) : ctx.world.comp(t.id);
  // The instance must still be the one at host:port the request named.
  return v !== null && v.hostaddr === t.host && v.port === t.port ? v.status : null;
}

async function setStatus(ctx: JobContext, t: Target, status: InstanceStatus): Promise<void> {
  if (statusOf(ctx, t) === status) return;
  await ctx.exec(t.kind === 'node' ? { kind: 'node.set_status', node: t.id, status } : { kind: 'comp.set_status', comp: t.id, status });
}

async function controlInstance(ctx: JobContext): Promise<Json> {
  const t = target(ctx);
  const before = await ctx.step('record_before', 3, async () => {
    const s = statusOf(ctx, t);
    if (s === null) throw new JobError(E_CONTROL_INSTANCE, `instance ${t.host}_${t.port} no find`);
    if (t.control === 'stop') await setStatus(ctx, t, 'manual_stop');
    return s;
  });
  await ctx.step('control', 3, async () => {
    try {
      await ctx.agent(t.host).controlInstance({ type: t.kind === 'node' ? 'storage' : 'computer', control: t.control, ip: t.host, port: t.port });
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      throw new JobError(E_CONTROL_INSTANCE, `control_instance ${t.control} of ${t.host}_${t.port} failed: ${(e as Error).message}`, { cause: e });
    }
  });
  await ctx.step('record_after', 3, async () => {
    if (t.control !== 'stop') await setStatus(ctx, t, 'active');
  });
  return { hostaddr: t.host, port: t.port, control: t.control, previous_status: before };
}

registerJobHandler('control_instance', controlInstance, {
  // A stop that failed leaves the instance running: put its status back.
  rollback: async (ctx) => {
    const t = target(ctx);
    const rec = ctx.job.steps.find((s) => s.step === 'record_before' && s.ok);
    const before = rec === undefined ? null : (JSON.parse(rec.info) as InstanceStatus);
    if (t.control === 'stop' && before !== null && statusOf(ctx, t) === 'manual_stop' && before !== 'manual_stop') await setStatus(ctx, t, before);
  },
});
