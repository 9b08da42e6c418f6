// Loads the configuration: defaults, then the cnf file, then CLUSTER_MGR_<KEY> environment variables,
// then `--set key=value` options. Every value is validated against the key table; the first problem
// stops start-up with one line naming the key, where it was set, the value and what is allowed.
import { resolve } from 'node:path';
import { ConfigError } from './cnf-file.js';
import { layerValues } from './layers.js';
import { KEY_BY_NAME, KEYS } from './keys.js';

export { ConfigError } from './cnf-file.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface RaftPeer extends HostPort {
  /** Member id: "host:raft_port", stable and the same on every member. */
  id: string;
  /** The member's HTTP port: the 4th field of its entry, or this member's brpc_http_port. */
  httpPort: number;
}

/** Typed values of every key, plus what is derived from them. */
export interface Config {
  values: Readonly<Record<string, string | number | boolean>>;
  /** Where each value came from, for messages ("deploy/cluster_mgr.cnf:12", "env CLUSTER_MGR_X", …). */
  sources: Readonly<Record<string, string>>;
  configFile: string | null;
  metaSeeds: HostPort[];
  peers: RaftPeer[];
  selfId: string;
  dataDir: string;
  /** Log file path prefix (rotated files are <prefix>.N.log), or null for standard output. */
  logFile: string | null;
  int(name: string): number;
  str(name: string): string;
}

export interface LoadOptions {
  file?: string | null;
  env?: NodeJS.ProcessEnv;
  /** `key=value` pairs from the command line. */
  sets?: string[];
  /** Directory that relative paths are resolved against when there is no file. */
  cwd?: string;
}

export const ENV_PREFIX = 'CLUSTER_MGR_';

export function loadConfig(opts: LoadOptions = {}): Config {
  const file = opts.file ?? null;
  const { values, sources, at } = layerValues(KEYS, {
    file,
    fileLabel: 'config file',
    env: opts.env,
    envPrefix: ENV_PREFIX,
    sets: opts.sets,
    cwd: opts.cwd,
    requireKnown,
  });

  const str = (n: string): string => String(values[n]);
  const int = (n: string): number => values[n] as number;
  const metaSeeds = parseHostPorts(str('meta_group_seeds'), 'meta_group_seeds', sources);
  const peers = parsePeers(str('raft_group_member_init_config'), sources, int('brpc_http_port'));
  const selfId = `${str('local_ip')}:${int('brpc_raft_port')}`;
  if (!peers.some((p) => p.id === selfId)) {
    throw new ConfigError(
      `key raft_group_member_init_config (${sources.raft_group_member_init_config}): this member ` +
        `(local_ip:brpc_raft_port = ${selfId}) is not among the members ${peers.map((p) => p.id).join(', ')}`,
    );
  }
  const logFile = str('log_file') === '-' ? null : at(str('log_file'));
  const cfg: Config = {
    values,
    sources,
    configFile: file ? resolve(file) : null,
    metaSeeds,
    peers,
    selfId,
    dataDir: at(str('cluster_mgr_tmp_data_path')),
    logFile,
    int,
    str,
  };
  raftElectionTicks(cfg);
  return cfg;
}

/**
 * Election ticks: raft_election_ticks, or the original's brpc_raft_election_timeout_ms (a cloudnative
 * cnf sets it) in ticks of raft_tick_ms. Both set is ambiguous and refused.
 */
export function raftElectionTicks(cfg: Pick<Config, 'int' | 'sources'>): number {
  const ms = cfg.int('brpc_raft_election_timeout_ms');
  if (ms === 0) return cfg.int('raft_election_ticks');
  const src = cfg.sources;
  if (src.raft_election_ticks !== undefined && src.raft_election_ticks !== 'default') {
    throw new ConfigError(
      `keys brpc_raft_election_timeout_ms (${src.brpc_raft_election_timeout_ms}) and raft_election_ticks ` +
        `(${src.raft_election_ticks}) both set the election timeout: keep one`,
    );
  }
  const ticks = Math.max(3, Math.ceil(ms / cfg.int('raft_tick_ms')));
  if (ticks > 1000) {
    throw new ConfigError(
      `key brpc_raft_election_timeout_ms (${src.brpc_raft_election_timeout_ms}): ${ms} ms is ${ticks} ticks of ` +
        `raft_tick_ms ${cfg.int('raft_tick_ms')}, more than 1000: raise raft_tick_ms or lower the timeout`,
    );
  }
  return ticks;
}

/** The effective configuration with secrets hidden, for `cluster-mgr config` and the start-up log. */
export function describeConfig(cfg: Config): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const k of KEYS) {
    const v = cfg.values[k.name]!;
    out[k.name] = k.secret && v !== '' ? '<redacted>' : v;
  }
  return out;
}

function requireKnown(name: string, where: string): void {
  if (KEY_BY_NAME.has(name)) return;
  const near = nearest(name);
  throw new ConfigError(
    `${where}: unknown key ${JSON.stringify(name)}${near ? ` (did you mean ${near}?)` : ''}; ` +
      'see deploy/cluster_mgr.cnf for every key',
  );
}

function parseHostPorts(v: string, key: string, sources: Record<string, string>): HostPort[] {
  if (v === '') return [];
  return v
    .split(',')
    .filter((s) => s !== '')
    .map((s) => {
      const i = s.lastIndexOf(':');
      const port = Number(s.slice(i + 1));
      if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65_535) {
        throw new ConfigError(`${sources[key]}: key ${key}: ${JSON.stringify(s)} is not host:port with a port 1..65535`);
      }
      return { host: s.slice(0, i), port };
    });
}

function parsePeers(v: string, sources: Record<string, string>, defaultHttpPort: number): RaftPeer[] {
  const bad = (s: string) =>
    new ConfigError(
      `${sources.raft_group_member_init_config}: key raft_group_member_init_config: ${JSON.stringify(s)} ` +
        'is not host:raft_port[:index[:http_port]]',
    );
  const isPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65_535;
  const peers = v
    .split(',')
    .filter((s) => s !== '')
    .map((s) => {
      // The original's entries are host:raft_port:index; a 4th field gives the member's HTTP port
      // when it differs from ours (several members on one host).
      const [host = '', portText = '', index = '0', httpText] = s.split(':');
      const port = Number(portText);
      const httpPort = httpText === undefined ? defaultHttpPort : Number(httpText);
      if (!host || !isPort(port) || !/^\d+$/.test(index) || !isPort(httpPort)) throw bad(s);
      return { host, port, id: `${host}:${port}`, httpPort };
    });
  const ids = new Set<string>();
  for (const p of peers) {
    if (ids.has(p.id)) {
      throw new ConfigError(
        `${sources.raft_group_member_init_config}: key raft_group_member_init_config: member ${p.id} is listed twice`,
      );
    }
    ids.add(p.id);
  }
  return peers;
}

function nearest(name: string): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of KEYS) {
    const d = distance(name, k.name);
    if (d < bestD) {
      bestD = d;
      best = k.name;
    }
  }
  return bestD <= Math.max(2, Math.floor(name.length / 4)) ? best : null;
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}
