// create_machine / update_machine / delete_machine (cluster_mgr-api.md §3.14–3.16): the machine rows
// are world facts (machine.* commands); create checks that the node agent answers first.
import { memberSecrets } from '../../config/member-secrets.js';
import type { MachineRole } from '../../events/vocab.js';
import type { Json } from '../../events/schema.js';
import { AgentClient, AgentError } from '../../agent/client.js';
import { rangeOverlap, type PortRange } from '../../launcher/ports.js';
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
  await ctx.step('ping_agent', 3, async () => {
    if (agentPort === null) return 'no agent port given: not checked';
    try {
      await agentAt(ctx, host, agentPort).ping();
    } catch (e) {
      throw new JobError(E_PING, `node agent ${host}:${agentPort} does not answer ping_pong: ${(e as Error).message}`, { cause: e });
    }
    return 'agent answered';
  });
  const range = portRange(str(r, 'port_range'));
  const warning = await ctx.step('check_port_range', 3, async () =>
    agentPort === null ? 'no agent port given: not checked' : ephemeralWarning(ctx, host, agentPort, role, range),
  );
  await ctx.step('register', 3, async () => {
    if (ctx.world.machine(host)?.roles[role] !== undefined) return; // registered before a leader change
    await ctx.exec({
      kind: 'machine.create',
      hostaddr: host,
      role,
      rackId: str(r, 'rack_id'),
      ...(role === 'storage'
        ? { datadir: str(r, 'datadir'), logdir: str(r, 'logdir'), walLogDir: str(r, 'wal_log_dir') }
        : { compDatadir: str(r, 'comp_datadir') }),
      portRange: range,
      totalMemMB: optNum(r, 'total_mem') ?? 0,
      totalCpuCores: optNum(r, 'total_cpu_cores') ?? 0,
      ...(agentPort !== null ? { agentPort } : {}),
    });
  });
  return { hostaddr: host, machine_type: role, ...(warning.startsWith('warning') ? { warning } : {}) };
}

/**
 * The port range against the host's ephemeral range, which its agent reports in list_instances: any
 * outgoing connection may hold a port there, so installs may have to move on (they do, see
 * jobs/port-moves.ts), which an operator should know. An agent that does not report it (an original
 * node_mgr) is not a failure: no warning then.
 */
async function ephemeralWarning(ctx: JobContext, host: string, agentPort: number, role: MachineRole, range: PortRange): Promise<string> {
  let reported: string | undefined;
  try {
    reported = (await agentAt(ctx, host, agentPort).listInstances({ port: agentPort })).ephemeral_ports;
  } catch (e) {
    if (!(e instanceof AgentError)) throw e;
    return `the agent does not report its ephemeral port range (${e.kind}): not checked`;
  }
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(reported ?? '');
  if (m === null) return 'the agent does not report its ephemeral port range: not checked';
  const eph = { lo: Number(m[1]), hi: Number(m[2]) };
  const o = rangeOverlap(range, eph);
  if (o === null) return `port_range ${range.lo}-${range.hi} is clear of the ephemeral range ${eph.lo}-${eph.hi}`;
  const warning =
    `warning: ${role} port_range ${range.lo}-${range.hi} of ${host} overlaps its ephemeral port range ${eph.lo}-${eph.hi} ` +
    `(ports ${o.lo}-${o.hi}): outgoing connections may hold those ports, and installs there then move on to other ports; ` +
    `choose a range outside it, or narrow net.ipv4.ip_local_port_range`;
  ctx.log.warn({ host, role, portRange: range, ephemeral: eph }, warning);
  return warning;
}

/** The agent of a machine not registered yet (with the agents' token and CA when set). */
function agentAt(ctx: JobContext, host: string, port: number): AgentClient {
  return new AgentClient({ host, port, timeouts: { ping_pong: 10_000, list_instances: 10_000 }, ...memberSecrets(ctx.cfg).agent });
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

