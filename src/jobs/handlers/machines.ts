// create_machine / update_machine / delete_machine (cluster_mgr-api.md §3.14–3.16): the machine rows
// are world facts (machine.* commands); create checks that the node agent answers first.
import type { MachineRole } from '../../events/vocab.js';
import type { Json } from '../../events/schema.js';
import { AgentClient } from '../../agent/client.js';
import { JobError, registerJobHandler, type JobContext } from '../engine.js';
import { optNum, req, str } from './request.js';

/** The original's "node_mgr unreachable" answer to create_machine's ping. */
const E_PING = 70158;

function portRange(s: string): { lo: number; hi: number } {
  const [lo, hi] = s.split('-').map(Number) as [number, number];
  return { lo, hi };
}

async function createMachine(ctx: JobContext): Promise<Json> {
  const r = req(ctx);
  const host = str(r, 'hostaddr');
  const role = str(r, 'machine_type') as MachineRole;
  const agentPort = optNum(r, 'nodemgr_port') ?? otherRolePort(ctx, host, role);
  await ctx.step('ping_agent', 2, async () => {
    if (agentPort === null) return 'no agent port given: not checked';
    try {
      await new AgentClient({ host, port: agentPort, timeouts: { ping_pong: 10_000 } }).ping();
    } catch (e) {
      throw new JobError(E_PING, `node agent ${host}:${agentPort} does not answer ping_pong: ${(e as Error).message}`, { cause: e });
    }
    return 'agent answered';
  });
  await ctx.step('register', 2, async () => {
    if (ctx.world.machine(host)?.roles[role] !== undefined) return; // registered before a leader change
    await ctx.exec({
      kind: 'machine.create',
      hostaddr: host,
      role,
      rackId: str(r, 'rack_id'),
      ...(role === 'storage'
        ? { datadir: str(r, 'datadir'), logdir: str(r, 'logdir'), walLogDir: str(r, 'wal_log_dir') }
        : { compDatadir: str(r, 'comp_datadir') }),
      portRange: portRange(str(r, 'port_range')),
      totalMemMB: optNum(r, 'total_mem') ?? 0,
      totalCpuCores: optNum(r, 'total_cpu_cores') ?? 0,
      ...(agentPort !== null ? { agentPort } : {}),
    });
  });
  return { hostaddr: host, machine_type: role };
}

/** A host registered for its other role already says where its agent listens. */
function otherRolePort(ctx: JobContext, host: string, role: MachineRole): number | null {
  const m = ctx.world.machine(host);
  return m?.roles[role === 'storage' ? 'computer' : 'storage']?.agentPort ?? null;
}

async function updateMachine(ctx: JobContext): Promise<Json> {
  const r = req(ctx);
  const host = str(r, 'hostaddr');
  const role = str(r, 'machine_type') as MachineRole;
  await ctx.step('update', 1, async () => {
    const cur = ctx.world.machine(host)?.roles[role];
    if (cur === undefined) throw new JobError(70066, `${host} is not registered as ${role}`);
    const changes: Record<string, unknown> = {};
    const s = (k: string): string | undefined => (typeof r[k] === 'string' && r[k] !== '' ? r[k] : undefined);
    const n = (k: string): number | undefined => {
      const v = r[k];
      const x = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
      return Number.isSafeInteger(x) ? x : undefined;
    };
    const put = (k: string, v: unknown, now: unknown): void => {
      if (v !== undefined && v !== now) changes[k] = v;
    };
    put('rackId', s('rack_id'), cur.rackId);
    if (role === 'storage') {
      put('datadir', s('datadir'), cur.datadir);
      put('logdir', s('logdir'), cur.logdir);
      put('walLogDir', s('wal_log_dir'), cur.walLogDir);
    } else put('compDatadir', s('comp_datadir'), cur.compDatadir);
    put('totalMemMB', n('total_mem'), cur.totalMemMB);
    put('totalCpuCores', n('total_cpu_cores'), cur.totalCpuCores);
    const range = s('port_range');
    if (range !== undefined) {
      if (!/^\d{1,5}-\d{1,5}$/.test(range)) throw new JobError(70005, 'paras.port_range: must be lo-hi');
      const pr = portRange(range);
      if (pr.lo < 1 || pr.hi > 65535 || pr.lo > pr.hi) throw new JobError(70005, 'paras.port_range: lo-hi within 1..65535');
      if (pr.lo !== cur.portRange.lo || pr.hi !== cur.portRange.hi) changes.portRange = pr;
    }
    put('agentPort', n('nodemgr_port'), cur.agentPort);
    if (Object.keys(changes).length === 0) return 'nothing to change';
    await ctx.exec({ kind: 'machine.update', hostaddr: host, role, changes });
    return Object.keys(changes);
  });
  return { hostaddr: host, machine_type: role };
}

async function deleteMachine(ctx: JobContext): Promise<Json> {
  const r = req(ctx);
  const host = str(r, 'hostaddr');
  const role = str(r, 'machine_type') as MachineRole;
  await ctx.step('unregister', 1, async () => {
    if (ctx.world.machine(host)?.roles[role] === undefined) return; // removed before a leader change
    await ctx.exec({ kind: 'machine.delete', hostaddr: host, role });
  });
  return { hostaddr: host, machine_type: role };
}

registerJobHandler('create_machine', createMachine);
registerJobHandler('update_machine', updateMachine);
registerJobHandler('delete_machine', deleteMachine);

