// control_instance (cluster_mgr-api.md §3.18): stop, start or restart one storage node or compute node
// through its machine's agent, with its status recorded in the world. Unlike the original (which sets
// `inactive` before the call and never reverts it), a stop is recorded as `manual_stop` before the
// agent stops it, so nothing mistakes it for a failure, and put back if the stop fails; a start or
// restart is recorded `active` only after the agent succeeded.
import type { InstanceStatus } from '../../events/vocab.js';
import type { Json } from '../../events/schema.js';
import { JobError, type JobContext } from '../engine.js';
import { refuse } from '../../actors/commands/common.js';
import type { JobTypeDefinition } from '../definition.js';
import { clusterRef, port } from './paras.js';
import { clusterLock, fail } from './world-checks.js';
import { num, req, str } from '../handlers/request.js';

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

export const controlInstanceJob: JobTypeDefinition = {
  kind: 'job',
  name: 'control_instance',
  role: 'operator',
  sync: false,
  internal: false,
  summary: 'stop, start or restart one storage or compute instance',
  missingParas: 70005,
  paras: {
    hostaddr: { kind: 'host', required: true },
    port: { ...port, required: true },
    control: { kind: 'enum', values: ['start', 'stop', 'restart'], required: true },
    machine_type: { kind: 'enum', values: ['storage', 'computer'] },
    cluster_id: clusterRef(70005, 'cluster id (not needed: the instance is found by address)', false),
    shard_id: clusterRef(70005, 'shard id (not needed)', false),
  },
  accept(world, p) {
    const host = p.host('hostaddr');
    const port = p.int('port');
    const control = p.oneOf('control', ['stop', 'start', 'restart'] as const);
    const at = world.nodeAt(host, port);
    if (at === null) fail(refuse('not_found', `instance ${host}_${port} not found`, 'paras.hostaddr'));
    const [kind, idText] = at.split('/') as ['node' | 'comp', string];
    const id = Number(idText);
    const cluster = kind === 'node' ? world.node(id)!.cluster : world.comp(id)!.cluster;
    return {
      request: { hostaddr: host, port, control, machine_type: kind === 'node' ? 'storage' : 'computer', instance: at },
      cluster,
      lock: clusterLock(cluster),
    };
  },
  steps: ['record_before', 'control', 'record_after'],
  run: controlInstance,
  // A stop that failed leaves the instance running: put its status back.
  rollback: async (ctx) => {
    const t = target(ctx);
    const rec = ctx.job.steps.find((s) => s.step === 'record_before' && s.ok);
    const before = rec === undefined ? null : (JSON.parse(rec.info) as InstanceStatus);
    if (t.control === 'stop' && before !== null && statusOf(ctx, t) === 'manual_stop' && before !== 'manual_stop') await setStatus(ctx, t, before);
  },
  attachment: { description: 'XPanel reads only the top-level status and error_info; the result names the instance and its previous status', keys: {} },
  writes: ['shard_nodes', 'comp_nodes'],
};
