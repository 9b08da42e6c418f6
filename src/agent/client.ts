// The manager's side of the node agent protocol: one typed method per job, for this agent and for an
// original node_mgr alike (paras are sent the way the original cluster_mgr sends them: install ports
// as strings, control_instance's port as an integer). Calls are short HTTP connections held open until
// the job is done, with a timeout per job; every error names the agent's host:port and the job.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { CopyStatus } from './copy-target.js';
import { randomUUID } from 'node:crypto';
import { FAILURE_REASONS, type FailureReason } from './protocol.js';

export type AgentErrorKind = 'timeout' | 'network' | 'protocol' | 'failed';

export class AgentError extends Error {
  constructor(
    message: string,
    readonly kind: AgentErrorKind,
    readonly agent: string,
    readonly jobType: string,
    /** The agent's `info` for a `failed` answer. */
    readonly info?: unknown,
    /** This agent's machine-readable cause of a `failed` answer (an original node_mgr sends none). */
    readonly reason?: FailureReason,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}

export interface AgentAnswer {
  status: 'success' | 'failed';
  /** A message, or JSON data (list_instances). */
  info: unknown;
  /** node_mgr's `Extra` ("<ip>_<port>") when the job adds one. */
  extra?: string;
  /** The cause of a `failed` answer, when the agent names one it knows (this agent only). */
  reason?: FailureReason;
  requestId: string;
  taskSpecInfo: string;
}

export interface CallOptions {
  /** cluster_mgr_request_id: the manager's job id (default: a fresh UUID). */
  requestId?: string;
  taskSpecInfo?: string;
  timeoutMs?: number;
}

export interface AgentClientOptions {
  host: string;
  port: number;
  /** Overrides of the default timeout per job type, ms. */
  timeouts?: Partial<Record<string, number>>;
  /** Largest answer accepted, bytes. */
  maxAnswerBytes?: number;
  /** Sent as "Authorization: Bearer …" to an agent with api_token set (an original node_mgr ignores it). */
  token?: string;
  /** Call the agent over HTTPS, trusting these PEM CA certificates (an agent with tls_cert_file). */
  tlsCa?: Buffer;
}

/** Defaults: liveness answers fast; installs may wait for a slow disk (the original waits 83 min). */
const DEFAULT_TIMEOUTS: Record<string, number> = {
  ping_pong: 10_000,
  list_instances: 30_000,
  set_keepalive: 30_000,
  control_instance: 600_000,
  kill_mysql: 120_000,
  install_mysql: 3_600_000,
  uninstall_mysql: 600_000,
  install_postgres: 3_600_000,
  uninstall_postgres: 600_000,
  prepare_copy_source: 30_000,
  start_copy: 30_000,
  get_copy_status: 30_000,
  abort_copy: 120_000,
};
const FALLBACK_TIMEOUT_MS = 3_600_000;

export interface StartCopyRequest {
  /** The target instance on this agent's machine. */
  port: number;
  sourceHost: string;
  sourceAgentPort: number;
  /** From the source agent's prepareCopySource(). */
  ticket: string;
  copyId?: string;
  /** MB/s; 0 = no limit; default 10 (node_mgr's). */
  pvLimitMb?: number;
  needBackup?: boolean;
  /** The source's data_bytes from prepareCopy(): the target refuses up front when it would not fit. */
  sourceBytes?: number;
  /** The source serves HTTPS (prepareCopy()'s tls); absent: the target's own TLS setting decides. */
  sourceTls?: boolean;
}

/** What prepare_copy_source answers. */
export interface CopySourceOffer {
  /** One-time secret for start_copy; never log it. */
  ticket: string;
  port: number;
  expires_in_ms: number;
  /** Bytes of the instance's data files (what the stream carries, about). */
  data_bytes?: number;
  /** The source agent serves HTTPS. */
  tls?: boolean;
}

const copyKey = (w: { copyId: string } | { port: number }): Record<string, unknown> => ('copyId' in w ? { copy_id: w.copyId } : { port: w.port });

export interface Account {
  user: string;
  password: string;
}

export interface InstallMysqlRequest {
  port: number;
  /** MB; MariaDB uses at least 16. */
  innodbBufferSizeMb: number;
  isMaster?: boolean;
  dbCfg?: number;
  /** Default port+1, port+2, port+3, as the original manager assigns them. */
  exporterPort?: number;
  mgrPort?: number;
  xport?: number;
  mgrSeed?: string;
  mgrUuid?: string;
  commandName?: string;
  /** This agent only: the admin account to create (else its default_storage_accounts). */
  admin?: Account;
  /** This agent only: MariaDB server_id (else derived from ip and port). */
  serverId?: number;
}

export interface UninstallMysqlRequest {
  port: number;
  exporterPort?: number;
  mgrPort?: number;
  xport?: number;
  innodbBufferSizeMb?: number;
  commandName?: string;
}

export interface InstallPostgresRequest {
  pgPort: number;
  /** kunlun-server's MySQL protocol port; recorded by this agent, not served. Default pgPort+1. */
  mysqlPort?: number;
  exporterPort?: number;
  computeNodeId: number;
  user: string;
  password: string;
  bindAddress: string;
  commandName?: string;
}

export interface UninstallPostgresRequest {
  pgPort: number;
  bindAddress: string;
  mysqlPort?: number;
  exporterPort?: number;
  computeNodeId?: number;
  commandName?: string;
}

export type InstanceType = 'storage' | 'computer';

export interface ControlInstanceRequest {
  type: InstanceType;
  control: 'start' | 'stop' | 'restart';
  ip: string;
  port: number;
}

/** One instance as list_instances reports it. */
export interface AgentInstance {
  type: InstanceType;
  ip: string;
  port: number;
  /** running, stopped (on purpose), dead (should run but does not), installing, uninstalling. */
  status: 'running' | 'stopped' | 'dead' | 'installing' | 'uninstalling';
  /** A job or the keepalive is working on the instance right now. */
  busy: boolean;
  pid: number | null;
  /** The process's scheduler state: stopped (SIGSTOPped: hung), running, or null (no process). Absent from older agents. */
  proc_state?: 'stopped' | 'running' | null;
  desired: 'running' | 'stopped';
  keepalive: boolean;
  restarts: number;
  last_restart_at: string | null;
  installed_at: string;
  request_id: string;
  dir: string;
  server_id?: number;
  buffer_pool_mb?: number;
  accounts?: string[];
  user?: string;
  compute_node_id?: number;
  /** Storage: data dirs a physical copy with need_backup=1 kept aside, oldest first. */
  old_datadirs?: { path: string; bytes: number; kept_since: string }[];
}

export interface InstanceList {
  local_ip: string;
  keepalive_enabled: boolean;
  /** The host's ephemeral port range ("lo-hi", from /proc/sys/net/ipv4/ip_local_port_range), when known. */
  ephemeral_ports?: string;
  instances: AgentInstance[];
}

const spare = (p: number | undefined, base: number, off: number): string =>
  String(p ?? (base + off <= 65_535 ? base + off : 0));

export class AgentClient {
  readonly address: string;

  constructor(private readonly opts: AgentClientOptions) {
    this.address = `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
  }

  /** Sends one job and returns the answer, `failed` included; throws on timeout, network or protocol errors. */
  async call(jobType: string, paras: Record<string, unknown>, o: CallOptions = {}): Promise<AgentAnswer> {
    const requestId = o.requestId ?? randomUUID();
    const taskSpecInfo = o.taskSpecInfo ?? jobType;
    const body = JSON.stringify({ cluster_mgr_request_id: requestId, task_spec_info: taskSpecInfo, job_type: jobType, paras });
    const timeoutMs = o.timeoutMs ?? this.opts.timeouts?.[jobType] ?? DEFAULT_TIMEOUTS[jobType] ?? FALLBACK_TIMEOUT_MS;
    const { status, text } = await this.post(jobType, body, timeoutMs);
    const bad = (why: string): AgentError =>
      new AgentError(`agent ${this.address}: ${jobType}: bad answer (HTTP ${status}): ${why}`, 'protocol', this.address, jobType);
    let root: unknown;
    try {
      root = JSON.parse(text);
    } catch {
      throw bad(`not JSON: ${text.slice(0, 200)}`);
    }
    if (root === null || typeof root !== 'object' || Array.isArray(root)) throw bad('not a JSON object');
    const r = root as Record<string, unknown>;
    if (r.status !== 'success' && r.status !== 'failed') throw bad(`status is ${JSON.stringify(r.status)}`);
    // node_mgr echoes the id; the original manager relies on it to find the job an answer belongs to.
    if (r.status === 'success' && r.cluster_mgr_request_id !== requestId) {
      throw bad(`cluster_mgr_request_id ${JSON.stringify(r.cluster_mgr_request_id)} is not ours (${requestId})`);
    }
    return {
      status: r.status,
      info: r.info,
      extra: typeof r.Extra === 'string' ? r.Extra : undefined,
      reason: FAILURE_REASONS.find((x) => x === r.reason),
      requestId: typeof r.cluster_mgr_request_id === 'string' ? r.cluster_mgr_request_id : '',
      taskSpecInfo: typeof r.task_spec_info === 'string' ? r.task_spec_info : '',
    };
  }

  /** Like call(), and a `failed` answer throws an AgentError of kind 'failed' carrying the agent's info. */
  async run(jobType: string, paras: Record<string, unknown>, o: CallOptions = {}): Promise<AgentAnswer> {
    const a = await this.call(jobType, paras, o);
    if (a.status === 'failed') {
      const info = typeof a.info === 'string' ? a.info : JSON.stringify(a.info);
      throw new AgentError(`agent ${this.address}: ${jobType} failed: ${info}`, 'failed', this.address, jobType, a.info, a.reason);
    }
    return a;
  }

  async ping(o: CallOptions = {}): Promise<void> {
    await this.run('ping_pong', {}, { requestId: 'ping_pong', taskSpecInfo: 'ping_pong', ...o });
  }

  installMysql(p: InstallMysqlRequest, o: CallOptions = {}): Promise<AgentAnswer> {
    const paras: Record<string, unknown> = {
      command_name: p.commandName ?? 'install-mysql-mgr.py',
      port: String(p.port),
      exporter_port: spare(p.exporterPort, p.port, 1),
      mgr_port: spare(p.mgrPort, p.port, 2),
      xport: spare(p.xport, p.port, 3),
      mgr_seed: p.mgrSeed ?? '',
      mgr_uuid: p.mgrUuid ?? '',
      innodb_buffer_size_M: String(p.innodbBufferSizeMb),
      db_cfg: String(p.dbCfg ?? 0),
      is_master: p.isMaster ? '1' : '0',
    };
    if (p.admin) Object.assign(paras, { user: p.admin.user, password: p.admin.password });
    if (p.serverId !== undefined) paras.server_id = String(p.serverId);
    return this.run('install_mysql', paras, o);
  }

  uninstallMysql(p: UninstallMysqlRequest, o: CallOptions = {}): Promise<AgentAnswer> {
    return this.run(
      'uninstall_mysql',
      {
        command_name: p.commandName ?? 'uninstall-mysql-mgr.py',
        port: String(p.port),
        exporter_port: spare(p.exporterPort, p.port, 1),
        mgr_port: spare(p.mgrPort, p.port, 2),
        xport: spare(p.xport, p.port, 3),
        innodb_buffer_size_M: String(p.innodbBufferSizeMb ?? 1),
      },
      o,
    );
  }

  installPostgres(p: InstallPostgresRequest, o: CallOptions = {}): Promise<AgentAnswer> {
    return this.run(
      'install_postgres',
      {
        command_name: p.commandName ?? 'install-pg-rbr.py',
        pg_protocal_port: String(p.pgPort),
        mysql_protocal_port: spare(p.mysqlPort, p.pgPort, 1),
        exporter_port: spare(p.exporterPort, p.pgPort, 2),
        compute_node_id: String(p.computeNodeId),
        user: p.user,
        password: p.password,
        bind_address: p.bindAddress,
      },
      o,
    );
  }

  uninstallPostgres(p: UninstallPostgresRequest, o: CallOptions = {}): Promise<AgentAnswer> {
    return this.run(
      'uninstall_postgres',
      {
        command_name: p.commandName ?? 'uninstall-pg-rbr.py',
        pg_protocal_port: String(p.pgPort),
        mysql_protocal_port: spare(p.mysqlPort, p.pgPort, 1),
        exporter_port: spare(p.exporterPort, p.pgPort, 2),
        compute_node_id: String(p.computeNodeId ?? 0),
        bind_address: p.bindAddress,
      },
      o,
    );
  }

  controlInstance(p: ControlInstanceRequest, o: CallOptions = {}): Promise<AgentAnswer> {
    // node_mgr reads this port with asInt(): it must be a JSON integer.
    return this.run('control_instance', { type: p.type, control: p.control, ip: p.ip, port: p.port }, o);
  }

  /**
   * The HA fence: kill -9 of a storage instance; this agent also switches its keepalive off unless
   * `keepalive: true`, which has it restarted after the restart delay (node_mgr's keepalive always does).
   */
  killMysql(p: { port: number; keepalive?: boolean; asReplica?: boolean }, o: CallOptions = {}): Promise<AgentAnswer> {
    const paras: Record<string, unknown> = { port: String(p.port) };
    if (p.keepalive !== undefined) paras.keepalive = p.keepalive ? 'on' : 'off';
    // This agent only: `off` kills without marking the next start as a replica's (default on).
    if (p.asReplica !== undefined) paras.as_replica = p.asReplica ? 'on' : 'off';
    return this.run('kill_mysql', paras, o);
  }

  /** This agent only (an original node_mgr answers "job_type no support"). */
  async listInstances(filter: { port?: number; type?: InstanceType } = {}, o: CallOptions = {}): Promise<InstanceList> {
    const paras: Record<string, unknown> = {};
    if (filter.port !== undefined) paras.port = filter.port;
    if (filter.type !== undefined) paras.type = filter.type;
    const a = await this.run('list_instances', paras, o);
    const info = a.info as Partial<InstanceList> | null;
    if (!info || typeof info !== 'object' || !Array.isArray(info.instances)) {
      throw new AgentError(`agent ${this.address}: list_instances: bad answer: info has no instances list`, 'protocol', this.address, 'list_instances');
    }
    return info as InstanceList;
  }

  /** This agent only: switch the keepalive of one instance on or off. */
  setKeepalive(p: { port: number; keepalive: boolean; type?: InstanceType }, o: CallOptions = {}): Promise<AgentAnswer> {
    const paras: Record<string, unknown> = { port: p.port, keepalive: p.keepalive ? 'on' : 'off' };
    if (p.type) paras.type = p.type;
    return this.run('set_keepalive', paras, o);
  }

  /** This agent only: a one-time ticket for the stream of a running storage instance (the copy's source). */
  async prepareCopySource(p: { port: number; account?: Account }, o: CallOptions = {}): Promise<string> {
    return (await this.prepareCopy(p, o)).ticket;
  }

  /** prepareCopySource() with the rest of the answer: the data's size and whether the source serves HTTPS. */
  async prepareCopy(p: { port: number; account?: Account }, o: CallOptions = {}): Promise<CopySourceOffer> {
    const paras: Record<string, unknown> = { port: p.port };
    if (p.account) Object.assign(paras, { user: p.account.user, password: p.account.password });
    const a = await this.run('prepare_copy_source', paras, o);
    const info = a.info as Partial<CopySourceOffer> | null;
    if (typeof info?.ticket !== 'string') throw new AgentError(`agent ${this.address}: prepare_copy_source: bad answer: no ticket`, 'protocol', this.address, 'prepare_copy_source');
    return info as CopySourceOffer;
  }

  /** This agent only: copy a storage instance from the source agent into `port`; answers at once. */
  async startCopy(p: StartCopyRequest, o: CallOptions = {}): Promise<CopyStatus> {
    const paras: Record<string, unknown> = { port: p.port, source_host: p.sourceHost, source_agent_port: p.sourceAgentPort, ticket: p.ticket };
    if (p.copyId !== undefined) paras.copy_id = p.copyId;
    if (p.pvLimitMb !== undefined) paras.pv_limit = p.pvLimitMb;
    if (p.needBackup !== undefined) paras.need_backup = p.needBackup ? 1 : 0;
    if (p.sourceBytes !== undefined) paras.source_bytes = p.sourceBytes;
    if (p.sourceTls !== undefined) paras.source_tls = p.sourceTls ? 1 : 0;
    return (await this.run('start_copy', paras, o)).info as CopyStatus;
  }

  /** This agent only: step, bytes and rate of a copy (by id, or the last one on a port). */
  async copyStatus(which: { copyId: string } | { port: number }, o: CallOptions = {}): Promise<CopyStatus> {
    return (await this.run('get_copy_status', copyKey(which), o)).info as CopyStatus;
  }

  /** This agent only: stop a copy before its swap; the old data dir stays. */
  async abortCopy(which: { copyId: string } | { port: number }, o: CallOptions = {}): Promise<CopyStatus> {
    return (await this.run('abort_copy', copyKey(which), o)).info as CopyStatus;
  }

  private post(jobType: string, body: string, timeoutMs: number): Promise<{ status: number; text: string }> {
    const max = this.opts.maxAnswerBytes ?? 16 * 1024 * 1024;
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (err: AgentError | null, v?: { status: number; text: string }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(v!);
      };
      const request = this.opts.tlsCa ? httpsRequest : httpRequest;
      const req = request(
        {
          ...(this.opts.tlsCa ? { ca: this.opts.tlsCa } : {}),
          host: this.opts.host,
          port: this.opts.port,
          method: 'POST',
          path: '/HttpService/Emit',
          // Short connections, as the original manager uses with node_mgr.
          agent: false,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            connection: 'close',
            ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > max) {
              req.destroy();
              done(new AgentError(`agent ${this.address}: ${jobType}: answer larger than ${max} bytes`, 'protocol', this.address, jobType));
            } else chunks.push(c);
          });
          res.on('end', () => done(null, { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (e) =>
            done(new AgentError(`agent ${this.address}: ${jobType}: connection broke: ${e.message}`, 'network', this.address, jobType)),
          );
        },
      );
      const timer = setTimeout(() => {
        done(new AgentError(`agent ${this.address}: ${jobType} timed out after ${timeoutMs} ms`, 'timeout', this.address, jobType));
        req.destroy();
      }, timeoutMs);
      req.on('error', (e: NodeJS.ErrnoException) =>
        done(
          new AgentError(`agent ${this.address}: ${jobType}: cannot reach the agent: ${e.code ?? e.message}`, 'network', this.address, jobType),
        ),
      );
      req.end(body);
    });
  }
}
