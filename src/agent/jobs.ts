// The jobs of POST /HttpService/Emit. The first six are node_mgr's (same names, same paras, same
// answers); kill_mysql is node_mgr's HA fence; list_instances and set_keepalive are this agent's own.
// Every job checks all its paras before it touches anything: a bad request changes nothing.
import { existsSync, rmSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { ephemeralPortRange, portBindable } from '../launcher/index.js';
import type { Account, AgentConfig } from './config.js';
import { installComputer, installStorage, killInstance, livePid, startExisting, stopInstance } from './instances.js';
import { procState } from './procfs.js';
import { confine, instanceDir, type InstanceKind } from './paths.js';
import { failed, firstLine, isAnswer, kindName, ok, target } from './job-answers.js';
import { COPY_JOBS } from './copy-jobs.js';
import { describeOldDatadirs } from './old-datadirs.js';
import type { JobContext, JobDef } from './job-def.js';
import type { Answer, Envelope } from './protocol.js';
import type { InstanceRecord } from './registry.js';
import {
  ParaError,
  accountName,
  commandName,
  flag01,
  hostAddr,
  intIn,
  oneOf,
  onOff,
  opt,
  parseParas,
  password,
  port,
  req,
  seedList,
  sparePort,
  uuidOrEmpty,
} from './validate.js';

const KINDS = ['storage', 'computer'] as const;

const INSTALL_MYSQL = {
  command_name: opt(commandName),
  port: req(port),
  exporter_port: opt(sparePort),
  mgr_port: opt(sparePort),
  xport: opt(sparePort),
  mgr_seed: opt(seedList),
  mgr_uuid: opt(uuidOrEmpty),
  innodb_buffer_size_M: opt(intIn(1, 1_048_576)),
  db_cfg: opt(intIn(0, 1_000)),
  is_master: opt(flag01),
  // This agent's additions: the admin account and the server id.
  user: opt(accountName),
  password: opt(password),
  server_id: opt(intIn(1, 4_294_967_295)),
};

const UNINSTALL_MYSQL = {
  command_name: opt(commandName),
  port: req(port),
  exporter_port: opt(sparePort),
  mgr_port: opt(sparePort),
  xport: opt(sparePort),
  innodb_buffer_size_M: opt(intIn(0, 1_048_576)),
};

const INSTALL_POSTGRES = {
  command_name: opt(commandName),
  pg_protocal_port: req(port),
  mysql_protocal_port: opt(sparePort),
  exporter_port: opt(sparePort),
  compute_node_id: opt(intIn(0, 2_147_483_647)),
  user: req(accountName),
  password: req(password),
  bind_address: req(hostAddr),
};

// The original sends the install keys again, with placeholder credentials; they are checked, not used.
const UNINSTALL_POSTGRES = {
  ...INSTALL_POSTGRES,
  user: opt(accountName),
  password: opt(password),
  bind_address: opt(hostAddr),
};

const CONTROL_INSTANCE = {
  type: req(oneOf(KINDS)),
  control: req(oneOf(['start', 'stop', 'restart'] as const)),
  ip: req(hostAddr),
  port: req(port),
};

const KILL_MYSQL = { port: req(port), keepalive: opt(onOff), as_replica: opt(onOff) };
const LIST_INSTANCES = { port: opt(port), type: opt(oneOf(KINDS)) };
const SET_KEEPALIVE = { port: req(port), keepalive: req(onOff), type: opt(oneOf(KINDS)) };

/** A `failed` answer with reason `port_in_use`: the manager installs the instance on another port. */
const portInUse = (info: string): Answer => failed(info, undefined, 'port_in_use');

/** Extra as node_mgr builds it: "<ip>_<port as sent>", shown only when the port is well formed. */
function extraOf(ip: unknown, p: unknown): string {
  const shownPort = typeof p === 'number' || (typeof p === 'string' && /^\d{1,5}$/.test(p)) ? String(p) : '';
  return `${typeof ip === 'string' && ip.length <= 253 ? ip : ''}_${shownPort}`;
}

/** Addresses of this machine: an instance may only be bound to, or controlled at, one of them. */
function isLocalAddress(cfg: AgentConfig, addr: string): boolean {
  if (addr === cfg.localIp) return true;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.address === addr) return true;
  }
  return false;
}

function requireLocal(cfg: AgentConfig, field: string, addr: string): void {
  if (!isLocalAddress(cfg, addr)) {
    throw new ParaError(`paras.${field}: ${addr} is not an address of this machine (local_ip is ${cfg.localIp})`);
  }
}

/** A stable server id per host and port (FNV-1a), unless the manager gives one. */
function defaultServerId(ip: string, p: number): number {
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(`${ip}:${p}`)) {
    h ^= ch;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h % 4_294_967_294) + 1;
}

/** The admin from paras first, then the configured default accounts (the paras password wins). */
function storageAccounts(cfg: AgentConfig, user?: string, pw?: string): Account[] {
  const out: Account[] = [];
  if (user !== undefined && pw !== undefined) out.push({ user, password: pw });
  for (const a of cfg.defaultStorageAccounts) if (!out.some((o) => o.user === a.user)) out.push(a);
  return out;
}

const MIN_BUFFER_POOL_MB = 16;

/**
 * The checks before an install changes anything: the port, its dir and the record are all free, and
 * the port can be bound. A bind test, not a connect test: a port held by an outgoing connection (any
 * port of the ephemeral range can be) answers no connect but refuses the server's bind. Only the port
 * the server binds is tested: MariaDB and PostgreSQL here serve nothing on the spare ports (exporter,
 * mgr, xport, MySQL protocol), which are recorded only.
 */
async function checkFree(ctx: JobContext, kind: InstanceKind, p: number, host: string): Promise<Answer | null> {
  if (p === ctx.cfg.httpPort) return portInUse(`port ${p} is this agent's own HTTP port`);
  const rec = ctx.registry.get(p);
  if (rec) {
    return failed(`port ${p} already has a ${kindName(rec.kind)} instance (installed ${rec.installedAt}, ${rec.phase}); uninstall it first`);
  }
  const dir = instanceDir(ctx.cfg.baseDir, kind, p);
  if (existsSync(dir)) return failed(`directory ${dir} exists but no instance is registered on port ${p}; remove it first`);
  if (!(await portBindable(p, host))) return portInUse(`port ${p} on ${host} cannot be bound: it is in use by another program or connection`);
  return null;
}

/** The server could not bind its port: mariadbd's "Bind on TCP/IP port. Got error: 98: Address already
 *  in use", postgres' "could not bind IPv4 address … Address already in use" (the launcher's error
 *  carries the tail of the server's log). */
export function isBindFailure(e: unknown): boolean {
  const msg = e instanceof Error ? e.message : String(e);
  return /Address already in use|Got error: 98\b|could not bind/i.test(msg);
}

/** Kills whatever the failed install started and removes its dir and record. */
async function rollback(ctx: JobContext, rec: InstanceRecord): Promise<void> {
  try {
    await killInstance(rec);
    rmSync(confine(ctx.cfg.baseDir, rec.dir), { recursive: true, force: true });
    ctx.registry.remove(rec.port);
  } catch (e) {
    ctx.log.error({ port: rec.port, err: e }, 'rollback of a failed install failed; the record stays for a retry');
  }
}

export async function uninstall(ctx: JobContext, rec: InstanceRecord): Promise<void> {
  const cur = ctx.registry.update(rec.port, { phase: 'uninstalling' });
  await killInstance(cur);
  rmSync(confine(ctx.cfg.baseDir, cur.dir), { recursive: true, force: true });
  ctx.registry.remove(cur.port);
}

function newRecord(ctx: JobContext, env: Envelope, kind: InstanceKind, p: number, host: string): InstanceRecord {
  return {
    kind,
    port: p,
    host,
    dir: instanceDir(ctx.cfg.baseDir, kind, p),
    phase: 'installing',
    desired: 'running',
    keepalive: true,
    pid: null,
    installedAt: new Date().toISOString(),
    requestId: env.requestId,
    restarts: 0,
    lastRestartAt: null,
  };
}

async function install(ctx: JobContext, rec: InstanceRecord, work: () => Promise<number>, job: string): Promise<Answer | null> {
  // Recorded before anything is created, so an agent killed half-way removes the remains on its next start.
  ctx.registry.put(rec);
  try {
    const pid = await work();
    ctx.registry.update(rec.port, { phase: 'installed', pid });
    ctx.log.info({ port: rec.port, type: rec.kind, pid, dir: rec.dir }, 'instance installed');
    return null;
  } catch (e) {
    ctx.log.error({ port: rec.port, type: rec.kind, err: e }, `${job} failed; rolling back`);
    await rollback(ctx, rec);
    if (isBindFailure(e)) return portInUse(`${job} on port ${rec.port} failed: the server cannot bind port ${rec.port}: Address already in use`);
    return failed(`${job} on port ${rec.port} failed: ${firstLine(e)}`);
  }
}

const installMysql: JobDef = {
  extra: (ctx, p) => extraOf(ctx.cfg.localIp, p.port),
  async run(ctx, env) {
    const p = parseParas('install_mysql', env.paras, INSTALL_MYSQL);
    if ((p.user === undefined) !== (p.password === undefined)) {
      throw new ParaError('paras.user, paras.password: give both or neither');
    }
    const accounts = storageAccounts(ctx.cfg, p.user, p.password);
    if (accounts.length === 0) {
      throw new ParaError('paras.user: missing, and the agent has no default_storage_accounts to create instead');
    }
    const host = ctx.cfg.localIp;
    return ctx.locks.run(p.port, async () => {
      const busy = await checkFree(ctx, 'storage', p.port, host);
      if (busy) return busy;
      const requested = p.innodb_buffer_size_M ?? 32;
      const rec: InstanceRecord = {
        ...newRecord(ctx, env, 'storage', p.port, host),
        storage: {
          serverId: p.server_id ?? defaultServerId(host, p.port),
          requestedBufferMb: requested,
          bufferPoolMb: Math.max(requested, MIN_BUFFER_POOL_MB),
          accounts: accounts.map((a) => a.user),
          isMaster: p.is_master ?? false,
          dbCfg: p.db_cfg ?? 0,
          exporterPort: p.exporter_port ?? 0,
          mgrPort: p.mgr_port ?? 0,
          xport: p.xport ?? 0,
        },
      };
      const err = await install(ctx, rec, () => installStorage(rec, accounts, ctx.cfg.startTimeoutMs), 'install_mysql');
      return err ?? ok();
    });
  },
};

const installPostgres: JobDef = {
  extra: (_ctx, p) => extraOf(p.bind_address, p.pg_protocal_port),
  async run(ctx, env) {
    const p = parseParas('install_postgres', env.paras, INSTALL_POSTGRES);
    requireLocal(ctx.cfg, 'bind_address', p.bind_address);
    const admin = { user: p.user, password: p.password };
    return ctx.locks.run(p.pg_protocal_port, async () => {
      const busy = await checkFree(ctx, 'computer', p.pg_protocal_port, p.bind_address);
      if (busy) return busy;
      const rec: InstanceRecord = {
        ...newRecord(ctx, env, 'computer', p.pg_protocal_port, p.bind_address),
        computer: {
          user: p.user,
          computeNodeId: p.compute_node_id ?? 0,
          mysqlPort: p.mysql_protocal_port ?? 0,
          exporterPort: p.exporter_port ?? 0,
        },
      };
      const work = () => installComputer(rec, admin, ctx.cfg.postgresOsUser, ctx.cfg.startTimeoutMs);
      return (await install(ctx, rec, work, 'install_postgres')) ?? ok();
    });
  },
};

function uninstallJob(job: string, kind: InstanceKind, portOf: (p: Record<string, unknown>) => number): JobDef['run'] {
  return async (ctx, env) => {
    const p = parseParas(job, env.paras, kind === 'storage' ? UNINSTALL_MYSQL : UNINSTALL_POSTGRES);
    const at = portOf(p);
    return ctx.locks.run(at, async () => {
      const rec = ctx.registry.get(at);
      // Uninstalling what is not there is done already: the manager's rollbacks may send it twice.
      if (!rec) return ok(`no instance on port ${at}; nothing to uninstall`);
      if (rec.kind !== kind) return failed(`port ${at} holds a ${kindName(rec.kind)} instance, not a ${kindName(kind)} one`);
      try {
        await uninstall(ctx, rec);
        ctx.log.info({ port: at, type: kind }, 'instance uninstalled');
        return ok();
      } catch (e) {
        ctx.log.error({ port: at, type: kind, err: e }, `${job} failed`);
        return failed(`${job} on port ${at} failed: ${firstLine(e)}`);
      }
    });
  };
}

const uninstallMysql: JobDef = {
  extra: (ctx, p) => extraOf(ctx.cfg.localIp, p.port),
  run: uninstallJob('uninstall_mysql', 'storage', (p) => p.port as number),
};

const uninstallPostgres: JobDef = {
  extra: (_ctx, p) => extraOf(p.bind_address, p.pg_protocal_port),
  run: uninstallJob('uninstall_postgres', 'computer', (p) => p.pg_protocal_port as number),
};

const controlInstance: JobDef = {
  async run(ctx, env) {
    const p = parseParas('control_instance', env.paras, CONTROL_INSTANCE);
    requireLocal(ctx.cfg, 'ip', p.ip);
    return ctx.locks.run(p.port, async () => {
      const rec = target(ctx, p.port, p.type);
      if (isAnswer(rec)) return rec;
      const osUser = ctx.cfg.postgresOsUser;
      try {
        if (p.control === 'stop') {
          // Desired state first, so the keepalive never brings it back, even if the agent dies right here.
          const cur = ctx.registry.update(p.port, { desired: 'stopped' });
          await stopInstance(cur);
          ctx.registry.update(p.port, { pid: null });
        } else {
          const cur = ctx.registry.update(p.port, { desired: 'running' });
          if (p.control === 'restart') await stopInstance(cur);
          if (p.control === 'restart' || livePid(cur) === null) {
            const pid = await startExisting(cur, osUser, ctx.cfg.startTimeoutMs);
            ctx.registry.update(p.port, { pid, recoverAsReplica: false });
          }
        }
        ctx.log.info({ port: p.port, type: p.type, control: p.control }, 'control_instance done');
        return ok('control instance succeed');
      } catch (e) {
        ctx.log.error({ port: p.port, type: p.type, control: p.control, err: e }, 'control_instance failed');
        return failed(`control instance error: ${firstLine(e)}`);
      }
    });
  },
};

/**
 * node_mgr's HA fence. Unlike node_mgr, it also switches the keepalive off, so the kill lasts, unless
 * the caller asks `keepalive: on`: the manager's failover does, to have a hung old primary killed now
 * (SIGKILL ends a SIGSTOPped server too) and started again, read-only, after the restart delay.
 */
const killMysql: JobDef = {
  async run(ctx, env) {
    const p = parseParas('kill_mysql', env.paras, KILL_MYSQL);
    return ctx.locks.run(p.port, async () => {
      const rec = target(ctx, p.port, 'storage');
      if (isAnswer(rec)) return rec;
      const keep = p.keepalive === true;
      // Whoever starts it next starts it as a replica (see InstanceRecord.recoverAsReplica), unless
      // the caller says `as_replica: off`: the failover kills a hung primary that early, before it
      // knows whether it will promote another node (an aborted failover keeps this one as primary).
      // A mark set by an earlier kill stays.
      const cur = ctx.registry.update(p.port, { keepalive: keep, ...(p.as_replica === false ? {} : { recoverAsReplica: true }) });
      try {
        await killInstance(cur);
        ctx.registry.update(p.port, { pid: null });
        ctx.log.warn({ port: p.port }, `kill_mysql: storage instance killed; its keepalive is ${keep ? 'on: it restarts after the restart delay' : 'off'}`);
        return ok();
      } catch (e) {
        return failed(`kill_mysql on port ${p.port} failed: ${firstLine(e)}`);
      }
    });
  },
};

const setKeepalive: JobDef = {
  async run(ctx, env) {
    const p = parseParas('set_keepalive', env.paras, SET_KEEPALIVE);
    const apply = (): Answer => {
      const rec = target(ctx, p.port, p.type);
      if (isAnswer(rec)) return rec;
      ctx.registry.update(p.port, { keepalive: p.keepalive });
      ctx.log.info({ port: p.port, keepalive: p.keepalive }, 'set_keepalive');
      return ok(`keepalive ${p.keepalive ? 'on' : 'off'} for the ${kindName(rec.kind)} instance on port ${p.port}`);
    };
    // Under the port's lock, so it never lands in the middle of a restart by the keepalive.
    return ctx.locks.run(p.port, () => Promise.resolve(apply()));
  },
};

function statusOf(rec: InstanceRecord, pid: number | null): string {
  if (rec.phase !== 'installed') return rec.phase;
  if (pid !== null) return 'running';
  return rec.desired === 'stopped' ? 'stopped' : 'dead';
}

const listInstances: JobDef = {
  async run(ctx, env) {
    const p = parseParas('list_instances', env.paras, LIST_INSTANCES);
    await Promise.resolve();
    const instances = ctx.registry
      .all()
      .filter((r) => (p.port === undefined || r.port === p.port) && (p.type === undefined || r.kind === p.type))
      .map((r) => {
        const pid = livePid(r);
        return {
          type: r.kind,
          ip: r.host,
          port: r.port,
          status: statusOf(r, pid),
          // A job or the keepalive is working on it: status and pid may be about to change.
          busy: ctx.locks.busy(r.port),
          pid,
          // stopped: SIGSTOPped (hung, never answering); the manager's hang detection asks for it.
          proc_state: pid === null ? null : procState(pid),
          desired: r.desired,
          keepalive: r.keepalive,
          restarts: r.restarts,
          last_restart_at: r.lastRestartAt,
          installed_at: r.installedAt,
          request_id: r.requestId,
          dir: r.dir,
          ...(r.storage ? { server_id: r.storage.serverId, buffer_pool_mb: r.storage.bufferPoolMb, accounts: r.storage.accounts } : {}),
          // Data dirs a copy with need_backup=1 kept aside, for the operator (and the retention).
          ...(r.kind === 'storage' && r.phase === 'installed' ? { old_datadirs: describeOldDatadirs(r.dir) } : {}),
          ...(r.computer ? { user: r.computer.user, compute_node_id: r.computer.computeNodeId } : {}),
        };
      });
    // The host's ephemeral range: the manager warns when a machine's port range overlaps it.
    const eph = ephemeralPortRange();
    return ok({ local_ip: ctx.cfg.localIp, keepalive_enabled: ctx.cfg.keepalive, ...(eph ? { ephemeral_ports: `${eph.lo}-${eph.hi}` } : {}), instances });
  },
};

const pingPong: JobDef = {
  async run(_ctx, env) {
    parseParas('ping_pong', env.paras, {});
    await Promise.resolve();
    return ok();
  },
};

export const JOBS: Readonly<Record<string, JobDef>> = {
  ping_pong: pingPong,
  install_mysql: installMysql,
  uninstall_mysql: uninstallMysql,
  install_postgres: installPostgres,
  uninstall_postgres: uninstallPostgres,
  control_instance: controlInstance,
  kill_mysql: killMysql,
  list_instances: listInstances,
  set_keepalive: setKeepalive,
  ...COPY_JOBS,
};

/** The job named by a request, or undefined: own properties only, so `constructor` is no job. */
export function jobOf(jobType: string): JobDef | undefined {
  return Object.hasOwn(JOBS, jobType) ? JOBS[jobType] : undefined;
}

/** Why a node_mgr job is not done here, or undefined when it is not a node_mgr job at all. */
export function unsupportedReason(jobType: string): string | undefined {
  return Object.hasOwn(UNSUPPORTED, jobType) ? UNSUPPORTED[jobType] : undefined;
}

/** node_mgr jobs this agent knows but does not do, with the reason given to the caller. */
export const UNSUPPORTED: Readonly<Record<string, string>> = {
  execute_command: 'it runs shell command strings, which this agent never does',
  rebuild_node: 'rebuilding a replica from a streamed xtrabackup is not implemented',
  backup_shard: 'cold backup to HDFS is not implemented',
  backup_compute: 'cold backup to HDFS is not implemented',
  restore_mysql: 'restore from HDFS is not implemented',
  restore_postgres: 'restore from HDFS is not implemented',
  install_node_exporter: 'Prometheus exporters are not installed by this agent',
  uninstall_node_exporter: 'Prometheus exporters are not installed by this agent',
  get_paths_space: 'a legacy (0.9) job',
  check_port_idle: 'a legacy (0.9) job',
  update_instance: 'a legacy (0.9) job; the agent keeps its own registry',
  install_storage: 'a legacy (0.9) job; use install_mysql',
  install_computer: 'a legacy (0.9) job; use install_postgres',
  delete_storage: 'a legacy (0.9) job; use uninstall_mysql',
  delete_computer: 'a legacy (0.9) job; use uninstall_postgres',
  node_debug: 'fault injection of debug builds',
};
