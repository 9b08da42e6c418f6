// create_machine / update_machine / delete_machine (cluster_mgr-api.md §3.14–3.16): the machine rows
// are world facts (machine.* commands); create checks that the node agent answers first.
import { memberSecrets } from '../../config/member-secrets.js';
import type { MachineRole } from '../../events/vocab.js';
import type { Json } from '../../events/schema.js';
import { AgentClient, AgentError } from '../../agent/client.js';
import { rangeOverlap, type PortRange } from '../../launcher/ports.js';
import { JobError, type JobContext } from '../engine.js';
import { refuse } from '../../actors/commands/common.js';
import { INT_LIMITS as L } from '../../actors/commands/para-limits.js';
import { withoutSecrets } from '../../actors/commands/paras.js';
import type { AttachmentShape, JobTypeDefinition } from '../definition.js';
import { path, port, portRange as portRangeSpec, rackId } from './paras.js';
import { fail } from './world-checks.js';
import { optNum, req, str } from '../handlers/request.js';

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

// ---- definitions ----

const MACHINE_TYPES = ['storage', 'computer'] as const;
const machineType = { kind: 'enum', values: MACHINE_TYPES, required: true, missing: 70050, bad: 70051 } as const;
const dirs = {
  datadir: path(70054, false, 'storage data directory'),
  logdir: path(70055, false, 'storage log directory'),
  wal_log_dir: path(70056, false, 'storage WAL directory'),
  comp_datadir: path(70061, false, 'compute data directory'),
} as const;
const MACHINE_ATTACHMENT: AttachmentShape = { description: 'XPanel reads only the top-level status and error_info; the result names the machine', keys: {} };

export const createMachineJob: JobTypeDefinition = {
  kind: 'job',
  name: 'create_machine',
  role: 'operator',
  sync: false,
  internal: false,
  summary: 'register a server for the storage or computer role',
  missingParas: 70049,
  paras: {
    hostaddr: { kind: 'host', required: true, missing: 70052 },
    machine_type: machineType,
    rack_id: { ...rackId, def: '0' },
    ...dirs,
    port_range: portRangeSpec,
    total_mem: { kind: 'int', ...L.totalMem, required: true, missing: 70057, bad: 70057, help: 'MB' },
    total_cpu_cores: { kind: 'int', ...L.totalCpuCores, required: true, missing: 70058, bad: 70058 },
    nodemgr_port: { ...port, help: 'port of the node agent on that host (ours; default from its registration)' },
  },
  accept(world, p) {
    const host = p.host('hostaddr', 70052);
    const type = p.oneOf('machine_type', MACHINE_TYPES, { errno: 70050, rangeErrno: 70051 });
    const rack = p.str('rack_id', { errno: 70053 });
    if (world.machine(host)?.roles[type] !== undefined) {
      fail(refuse('already_exists', `${host} is already registered as ${type}`, 'paras.hostaddr', 70062));
    }
    // The directories of the role are required (the spec cannot say "required for storage").
    const dirsOf: Record<string, string> =
      type === 'storage'
        ? { datadir: p.str('datadir', { errno: 70054 }), logdir: p.str('logdir', { errno: 70055 }), wal_log_dir: p.str('wal_log_dir', { errno: 70056 }) }
        : { comp_datadir: p.str('comp_datadir', { errno: 70061 }) };
    const range = p.optStr('port_range', type === 'storage' ? '57000-58000' : '47000-48000');
    const [lo, hi] = range.split('-').map(Number) as [number, number];
    if (lo < L.port.min || hi > L.port.max || lo > hi) fail(refuse('invalid_argument', `must be lo-hi within ${L.port.min}..${L.port.max}`, 'paras.port_range'));
    return {
      request: {
        hostaddr: host,
        machine_type: type,
        rack_id: rack,
        ...dirsOf,
        port_range: range,
        total_mem: p.int('total_mem'),
        total_cpu_cores: p.int('total_cpu_cores'),
        ...(p.has('nodemgr_port') ? { nodemgr_port: p.int('nodemgr_port') } : {}),
      },
      cluster: null,
      lock: `machine/${host}`,
    };
  },
  steps: ['ping_agent', 'check_port_range', 'register'],
  run: createMachine,
  attachment: MACHINE_ATTACHMENT,
  writes: ['server_nodes', 'server_nodes_stats'],
};

export const updateMachineJob: JobTypeDefinition = {
  kind: 'job',
  name: 'update_machine',
  role: 'operator',
  sync: false,
  internal: false,
  summary: 'update a registered server',
  missingParas: 70049,
  paras: {
    hostaddr: { kind: 'host', required: true, missing: 70052 },
    machine_type: machineType,
    rack_id: rackId,
    ...dirs,
    port_range: portRangeSpec,
    total_mem: { kind: 'int', ...L.totalMem, bad: 70057, help: 'MB' },
    total_cpu_cores: { kind: 'int', ...L.totalCpuCores, bad: 70058 },
  },
  accept(world, p, _e, paras) {
    const host = p.host('hostaddr', 70052);
    const type = p.oneOf('machine_type', MACHINE_TYPES, { errno: 70050, rangeErrno: 70051 });
    if (world.machine(host)?.roles[type] === undefined) {
      fail(refuse('not_found', `${host} is not registered as ${type}`, 'paras.hostaddr', 70066));
    }
    return { request: withoutSecrets(paras), cluster: null, lock: `machine/${host}` };
  },
  steps: ['update'],
  run: updateMachine,
  attachment: MACHINE_ATTACHMENT,
  writes: ['server_nodes'],
};

export const deleteMachineJob: JobTypeDefinition = {
  kind: 'job',
  name: 'delete_machine',
  role: 'admin',
  sync: false,
  internal: false,
  summary: 'unregister a server (it must run no instance)',
  missingParas: 70049,
  paras: { hostaddr: { kind: 'host', required: true, missing: 70067 }, machine_type: machineType },
  accept(world, p) {
    const host = p.host('hostaddr', 70067);
    const type = p.oneOf('machine_type', MACHINE_TYPES, { errno: 70050, rangeErrno: 70051 });
    const role = world.machine(host)?.roles[type];
    if (role === undefined) fail(refuse('not_found', `${host} is not registered as ${type}`, 'paras.hostaddr', 70066));
    if (role.usedPorts.length > 0) {
      fail(refuse('invalid_state', `${host} still runs instances on ports ${role.usedPorts.join(',')}`, 'paras.hostaddr', 70064));
    }
    return { request: { hostaddr: host, machine_type: type }, cluster: null, lock: `machine/${host}` };
  },
  steps: ['unregister'],
  run: deleteMachine,
  attachment: MACHINE_ATTACHMENT,
  writes: ['server_nodes', 'server_nodes_stats'],
};
