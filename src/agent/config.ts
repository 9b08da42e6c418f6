// The node agent's configuration: its own file in the cnf format of node_mgr.cnf / cluster_mgr.cnf
// (`name = value` lines), then `--set key=value` options. node_mgr's own keys are accepted so an
// existing node_mgr.cnf loads; the ones that have no meaning here are listed as ignored, with why.
// The first problem stops start-up with one line naming the key, where it was set and what is allowed.
import { resolve } from 'node:path';
import { ConfigError } from '../config/cnf-file.js';
import { layerValues } from '../config/layers.js';
import type { KeyType } from '../config/keys.js';
import { isLoopbackHost, readSecretFile } from '../config/secret-file.js';

export { ConfigError } from '../config/cnf-file.js';


export interface AgentKeyDef {
  name: string;
  type: KeyType;
  default: string;
  help: string;
  secret?: boolean;
  /** node_mgr key that is accepted but has no effect here; says why. */
  ignored?: string;
  origin: 'node_mgr' | 'new';
}

const int = (min: number, max: number): KeyType => ({ kind: 'int', min, max });
const anyStr: KeyType = { kind: 'string' };
const host: KeyType = {
  kind: 'string',
  nonEmpty: true,
  pattern: /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$|^[0-9a-fA-F:]{2,39}$/,
  patternHelp: 'an IPv4/IPv6 address or a host name',
};
const accounts: KeyType = {
  kind: 'string',
  pattern: /^$|^[A-Za-z_][A-Za-z0-9_]{0,31}:[^,\s]{1,128}(,[A-Za-z_][A-Za-z0-9_]{0,31}:[^,\s]{1,128})*$/,
  patternHelp: 'a comma-separated list of user:password (user: letters, digits, "_"; password without "," or spaces)',
};
const NO_METADATA = 'the agent keeps its own registry and never reads or writes the metadata shard';
const NO_SCRIPTS = 'instances are started by the built-in launcher, not by install scripts from a package';

export const AGENT_KEYS: readonly AgentKeyDef[] = [
  // --- node_mgr.cnf keys that work here ---------------------------------------------------------------
  { name: 'brpc_http_port', type: int(1, 65_535), default: '5011', origin: 'node_mgr',
    help: 'port of POST /HttpService/Emit (the manager finds it in server_nodes.nodemgr_port)' },
  { name: 'local_ip', type: host, default: '127.0.0.1', origin: 'node_mgr',
    help: 'this machine\'s address: storage instances bind to it; it is the ip in answers ("Extra")' },
  { name: 'log_file', type: { kind: 'string', nonEmpty: true }, default: '-', origin: 'node_mgr',
    help: 'log file path prefix (<prefix>.N.log, rotated); "-" logs to standard output' },
  { name: 'max_log_file_size', type: int(10, 10_000), default: '100', origin: 'node_mgr',
    help: 'log file size before it is rotated, MB' },
  // --- node_mgr.cnf keys accepted so an existing file loads, without effect ---------------------------
  { name: 'meta_group_seeds', type: anyStr, default: '', origin: 'node_mgr', help: 'metadata shard seeds',
    ignored: NO_METADATA },
  { name: 'meta_user', type: anyStr, default: '', origin: 'node_mgr', help: 'metadata account', ignored: NO_METADATA },
  { name: 'meta_pwd', type: anyStr, default: '', origin: 'node_mgr', secret: true, help: 'metadata password',
    ignored: NO_METADATA },
  { name: 'nodemgr_tcp_port', type: int(0, 65_535), default: '5012', origin: 'node_mgr',
    help: 'raw TCP port for streaming backups', ignored: 'the physical copy streams over brpc_http_port (start_copy)' },
  { name: 'program_binaries_path', type: anyStr, default: '', origin: 'node_mgr', help: 'package dir',
    ignored: NO_SCRIPTS },
  { name: 'instance_binaries_path', type: anyStr, default: '', origin: 'node_mgr',
    help: 'per-instance package copies', ignored: `${NO_SCRIPTS}; see instance_base_dir` },
  { name: 'storage_prog_package_name', type: anyStr, default: '', origin: 'node_mgr', help: 'storage package',
    ignored: NO_SCRIPTS },
  { name: 'computer_prog_package_name', type: anyStr, default: '', origin: 'node_mgr', help: 'compute package',
    ignored: NO_SCRIPTS },
  { name: 'node_mgr_util_path', type: anyStr, default: '', origin: 'node_mgr', help: 'utility programs',
    ignored: 'execute_command (which runs them) is not supported' },
  { name: 'node_mgr_tmp_data_path', type: anyStr, default: '', origin: 'node_mgr', help: 'file service root',
    ignored: '/FileService is not served' },
  { name: 'prometheus_path', type: anyStr, default: '', origin: 'node_mgr', help: 'exporters',
    ignored: 'exporters are not installed' },
  { name: 'prometheus_port_start', type: int(0, 65_535), default: '57010', origin: 'node_mgr',
    help: 'node_exporter port', ignored: 'exporters are not installed' },
  { name: 'kl_server_file', type: anyStr, default: '', origin: 'node_mgr', help: 'kl_server config',
    ignored: 'rebuild_node is not supported' },
  { name: 'thread_work_interval', type: int(1, 100), default: '3', origin: 'node_mgr',
    help: 'auto pull-up period, seconds', ignored: 'keepalive_interval_ms sets the period' },
  { name: 'num_worker_threads', type: int(1, 100), default: '3', origin: 'node_mgr', help: 'worker threads',
    ignored: 'jobs run concurrently on one event loop, serialized per port' },
  { name: 'statement_retries', type: int(1, 10_000), default: '3', origin: 'node_mgr', help: 'SQL retries',
    ignored: NO_METADATA },
  { name: 'statement_retry_interval_ms', type: int(1, 1_000_000), default: '500', origin: 'node_mgr',
    help: 'pause between SQL retries', ignored: NO_METADATA },
  { name: 'mysql_connect_timeout', type: int(1, 1_000_000), default: '10', origin: 'node_mgr',
    help: 'MySQL connect timeout', ignored: NO_METADATA },
  { name: 'mysql_read_timeout', type: int(1, 1_000_000), default: '20', origin: 'node_mgr',
    help: 'MySQL read timeout', ignored: NO_METADATA },
  { name: 'mysql_write_timeout', type: int(1, 1_000_000), default: '20', origin: 'node_mgr',
    help: 'MySQL write timeout', ignored: NO_METADATA },
  { name: 'mysql_max_packet_size', type: int(1, 1_073_741_824), default: '1073741824', origin: 'node_mgr',
    help: 'MySQL packet size', ignored: NO_METADATA },
  // --- keys of this agent ---------------------------------------------------------------------------
  { name: 'instance_base_dir', type: { kind: 'string', nonEmpty: true }, default: './instances', origin: 'new',
    help: 'every instance lives under <dir>/storage/<port> or <dir>/computer/<port>, with the registry ' +
      'file; the agent never touches a path outside it (relative to the config file)' },
  { name: 'http_bind', type: anyStr, default: '', origin: 'new',
    help: 'address the HTTP server listens on; empty means local_ip' },
  { name: 'allowed_clients', type: { kind: 'string', pattern: /^$|^[0-9A-Fa-f.:]{2,45}(,[0-9A-Fa-f.:]{2,45})*$/,
      patternHelp: 'empty, or a comma-separated list of IP addresses' },
    default: '', origin: 'new',
    help: 'when set, only these addresses (the managers) may call the agent; works with an original cluster_mgr' },
  { name: 'api_token', type: anyStr, default: '', secret: true, origin: 'new',
    help: 'when set, every Emit call needs "Authorization: Bearer <token>" (our manager sends its ' +
      'agent_token_file; an original cluster_mgr cannot, so use allowed_clients with it); from the config file ' +
      'or the environment (CLUSTER_MGR_AGENT_API_TOKEN), never --set' },
  { name: 'api_token_file', type: anyStr, default: '', origin: 'new',
    help: 'file (0600) holding api_token (relative to the config file); preferred over api_token' },
  { name: 'tls_cert_file', type: anyStr, default: '', origin: 'new',
    help: 'PEM certificate: serve HTTPS instead of HTTP (with tls_key_file); the manager then needs agent_tls' },
  { name: 'tls_key_file', type: anyStr, default: '', origin: 'new', help: 'PEM private key of tls_cert_file (0600)' },
  { name: 'tls_ca_file', type: anyStr, default: '', origin: 'new',
    help: 'PEM CA that signed the other agents\' certificates: a physical copy from an agent that serves HTTPS ' +
      'is fetched over HTTPS and the source verified against it (empty: the system\'s CAs)' },
  { name: 'copy_stall_timeout_s', type: int(1, 86_400), default: '60', origin: 'new',
    help: 'a physical copy fails when no byte has arrived from the source for this long; the source gives up ' +
      'a stream its reader has stopped reading for this long' },
  { name: 'copy_keep_old_datadirs', type: int(1, 1_000), default: '2', origin: 'new',
    help: 'after a successful copy, the data dirs kept aside (need_backup=1) beyond the newest N of the ' +
      'instance are removed; the one just made always stays' },
  { name: 'copy_keep_old_days', type: int(0, 36_500), default: '0', origin: 'new',
    help: 'after a successful copy, kept data dirs older than this many days are removed too (0: no age limit)' },
  { name: 'copy_disk_margin_pct', type: int(0, 1_000), default: '10', origin: 'new',
    help: 'start_copy refuses when the source\'s data size plus this margin does not fit in the free space of the instance\'s file system' },
  { name: 'keepalive', type: { kind: 'bool' }, default: 'true', origin: 'new',
    help: 'restart instances that died (node_mgr\'s auto pull-up); also switchable per instance' },
  { name: 'keepalive_interval_ms', type: int(100, 600_000), default: '3000', origin: 'new',
    help: 'how often the keepalive checks every instance' },
  { name: 'keepalive_restart_delay_ms', type: int(0, 3_600_000), default: '9000', origin: 'new',
    help: 'how long an instance must have been seen down before the keepalive restarts it (node_mgr: about ' +
      '9 s); it leaves the manager time to fail a dead primary over before the old one comes back' },
  { name: 'keepalive_backoff_ms', type: int(0, 3_600_000), default: '9000', origin: 'new',
    help: 'least time between two restarts of the same instance (node_mgr waits 9 s)' },
  { name: 'default_storage_accounts', type: accounts, default: '', secret: true, origin: 'new',
    help: 'accounts created on every storage instance (user:password,…), so a manager that sends no ' +
      'account (the original cluster_mgr expects e.g. pgx and clustmgr) can log in; the first is the admin ' +
      'when install_mysql carries no user/password' },
  { name: 'postgres_os_user', type: { kind: 'string', nonEmpty: true, pattern: /^[a-z_][a-z0-9_-]{0,31}$/,
      patternHelp: 'an OS account name' },
    default: 'postgres', origin: 'new', help: 'OS account PostgreSQL runs as when the agent runs as root' },
  { name: 'instance_start_timeout_ms', type: int(1_000, 3_600_000), default: '120000', origin: 'new',
    help: 'how long an instance may take to accept connections after a start' },
  { name: 'max_body_bytes', type: int(1_024, 64 * 1024 * 1024), default: '1048576', origin: 'new',
    help: 'largest request body accepted' },
  { name: 'log_level', type: { kind: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] },
    default: 'info', origin: 'new', help: 'lowest level logged' },
  { name: 'log_format', type: { kind: 'enum', values: ['auto', 'json', 'pretty'] }, default: 'auto',
    origin: 'new', help: 'json, pretty, or auto: pretty on a terminal, json otherwise' },
];

const KEY_BY_NAME: ReadonlyMap<string, AgentKeyDef> = new Map(AGENT_KEYS.map((k) => [k.name, k]));

export interface Account {
  user: string;
  password: string;
}

export interface AgentConfig {
  configFile: string | null;
  values: Readonly<Record<string, string | number | boolean>>;
  sources: Readonly<Record<string, string>>;
  httpPort: number;
  httpHost: string;
  localIp: string;
  baseDir: string;
  logFile: string | null;
  keepalive: boolean;
  keepaliveIntervalMs: number;
  keepaliveRestartDelayMs: number;
  keepaliveBackoffMs: number;
  defaultStorageAccounts: Account[];
  /** Empty: anyone who can reach the port. */
  allowedClients: string[];
  /** Empty: no token needed (only allowed on loopback or with allowedClients). */
  apiToken: string;
  /** PEM files of the HTTPS server, or null for plain HTTP. */
  tls: { certFile: string; keyFile: string } | null;
  /** CA to verify source agents by when fetching a copy over HTTPS; null: the system's CAs. */
  tlsCaFile: string | null;
  copyStallTimeoutMs: number;
  copyKeepOldDatadirs: number;
  copyKeepOldDays: number;
  copyDiskMarginPct: number;
  postgresOsUser: string;
  startTimeoutMs: number;
  maxBodyBytes: number;
  logLevel: string;
  logFormat: 'auto' | 'json' | 'pretty';
  maxLogFileMb: number;
}

export interface AgentLoadOptions {
  file?: string | null;
  sets?: string[];
  cwd?: string;
  /** CLUSTER_MGR_AGENT_<KEY> variables (api_token, …). */
  env?: NodeJS.ProcessEnv;
  /** Told about a token file others may read. */
  warn?: (msg: string) => void;
}

export const AGENT_ENV_PREFIX = 'CLUSTER_MGR_AGENT_';

export function loadAgentConfig(opts: AgentLoadOptions = {}): AgentConfig {
  const file = opts.file ?? null;
  const { values, sources, at } = layerValues(AGENT_KEYS, {
    file,
    fileLabel: 'agent config file',
    env: opts.env,
    envPrefix: AGENT_ENV_PREFIX,
    sets: opts.sets,
    cwd: opts.cwd,
    requireKnown,
  });
  const s = (n: string): string => String(values[n]);
  const n = (k: string): number => values[k] as number;
  const httpHost = s('http_bind') === '' ? s('local_ip') : s('http_bind');
  const apiToken = s('api_token_file') !== '' ? readSecretFile(at(s('api_token_file')), 'api_token_file', opts.warn) : s('api_token');
  const allowedClients = s('allowed_clients') === '' ? [] : s('allowed_clients').split(',');
  // install, uninstall and kill_mysql for anyone who reaches the port: only on this machine's loopback.
  if (apiToken === '' && allowedClients.length === 0 && !isLoopbackHost(httpHost)) {
    throw new ConfigError(
      `the agent would serve every caller on ${httpHost}: set api_token_file (or CLUSTER_MGR_AGENT_API_TOKEN), ` +
        'or allowed_clients with the managers\' addresses (an original cluster_mgr sends no token)',
    );
  }
  if ((s('tls_cert_file') === '') !== (s('tls_key_file') === '')) {
    throw new ConfigError('keys tls_cert_file and tls_key_file: set both (HTTPS) or neither (HTTP)');
  }
  return {
    configFile: file ? resolve(file) : null,
    values,
    sources,
    httpPort: n('brpc_http_port'),
    httpHost,
    localIp: s('local_ip'),
    baseDir: at(s('instance_base_dir')),
    logFile: s('log_file') === '-' ? null : at(s('log_file')),
    keepalive: values.keepalive as boolean,
    keepaliveIntervalMs: n('keepalive_interval_ms'),
    keepaliveRestartDelayMs: n('keepalive_restart_delay_ms'),
    keepaliveBackoffMs: n('keepalive_backoff_ms'),
    defaultStorageAccounts: parseAccounts(s('default_storage_accounts')),
    allowedClients,
    apiToken,
    tls: s('tls_cert_file') === '' ? null : { certFile: at(s('tls_cert_file')), keyFile: at(s('tls_key_file')) },
    tlsCaFile: s('tls_ca_file') === '' ? null : at(s('tls_ca_file')),
    copyStallTimeoutMs: n('copy_stall_timeout_s') * 1_000,
    copyKeepOldDatadirs: n('copy_keep_old_datadirs'),
    copyKeepOldDays: n('copy_keep_old_days'),
    copyDiskMarginPct: n('copy_disk_margin_pct'),
    postgresOsUser: s('postgres_os_user'),
    startTimeoutMs: n('instance_start_timeout_ms'),
    maxBodyBytes: n('max_body_bytes'),
    logLevel: s('log_level'),
    logFormat: s('log_format') as 'auto' | 'json' | 'pretty',
    maxLogFileMb: n('max_log_file_size'),
  };
}

/** The effective values with secrets hidden, for the start-up log. */
export function describeAgentConfig(cfg: AgentConfig): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const k of AGENT_KEYS) {
    if (k.ignored && cfg.sources[k.name] === 'default') continue;
    const v = cfg.values[k.name]!;
    out[k.name] = k.secret && v !== '' ? '<redacted>' : v;
  }
  return out;
}

function parseAccounts(v: string): Account[] {
  if (v === '') return [];
  return v.split(',').map((pair) => {
    const i = pair.indexOf(':');
    return { user: pair.slice(0, i), password: pair.slice(i + 1) };
  });
}

function requireKnown(name: string, where: string): void {
  if (KEY_BY_NAME.has(name)) return;
  throw new ConfigError(`${where}: unknown agent key ${JSON.stringify(name)}; see docs/agent.md for every key`);
}

