// How each Topology field maps to its column, and how values cross between the two. One mapping serves
// the reader (decode), the projection (encode, compare) and validation, so they cannot drift apart.
import {
  CLUSTER_STATUSES,
  HA_MODES,
  JOB_STATUSES,
  MACHINE_TYPES,
  MEMBER_STATES,
  NODE_STATS,
  NODE_STATUSES,
  OFF_ON,
  ON_OFF,
  STORAGE_TYPES,
  SYNC_STATES,
  type EntityKind,
} from './topology.js';

export type SqlValue = string | number | null;

export type Codec =
  | { kind: 'int'; nullable: boolean; min: number; max: number }
  | { kind: 'str'; nullable: boolean; maxLen: number; nonEmpty?: boolean; latin1?: boolean }
  | { kind: 'enum'; nullable: boolean; values: readonly string[] }
  | { kind: 'ts'; nullable: boolean; precision: 0 | 6 }
  | { kind: 'ports' };

export interface FieldMap {
  field: string;
  column: string;
  codec: Codec;
}

/** Which rows a projection may delete when they are not in the desired topology. */
export type DeletePolicy =
  /** The manager is the only writer: rows not in the topology go. */
  | 'sync'
  /** Only rows with machine_type set; node_mgr registers bare rows on its own, and the pseudo row stays. */
  | 'typed-machines'
  /** Append/update only: history is never deleted. */
  | 'never';

export interface EntityMap {
  kind: EntityKind;
  table: string;
  fields: FieldMap[];
  deletePolicy: DeletePolicy;
}

const U16 = 65_535;
const I16 = 32_767;
const U32 = 4_294_967_295;
const I32 = 2_147_483_647;
const U64 = Number.MAX_SAFE_INTEGER;

const int = (min: number, max: number, nullable = false): Codec => ({ kind: 'int', nullable, min, max });
const str = (maxLen: number, nullable = false, nonEmpty = false): Codec => ({ kind: 'str', nullable, maxLen, nonEmpty });
/** server_nodes is a latin1 table in the original. */
const lat = (maxLen: number, nullable = false, nonEmpty = false): Codec => ({ kind: 'str', nullable, maxLen, nonEmpty, latin1: true });
const en = (values: readonly string[], nullable = false): Codec => ({ kind: 'enum', nullable, values });
const ts = (precision: 0 | 6, nullable = false): Codec => ({ kind: 'ts', nullable, precision });
const TEXT = 65_535;
const f = (field: string, column: string, codec: Codec): FieldMap => ({ field, column, codec });
const id = (max = U32): FieldMap => f('id', 'id', int(1, max));

/** In the order the projection writes them (parents first); deletes run in the reverse order. */
export const ENTITY_MAPS: readonly EntityMap[] = [
  {
    kind: 'machines',
    table: 'server_nodes',
    deletePolicy: 'typed-machines',
    fields: [
      id(),
      f('hostaddr', 'hostaddr', lat(8192, false, true)),
      f('dcId', 'dc_id', int(0, U32, true)),
      f('rackId', 'rack_id', lat(256, true)),
      f('compDatadir', 'comp_datadir', lat(8192, true)),
      f('datadir', 'datadir', lat(8192, true)),
      f('logdir', 'logdir', lat(8192, true)),
      f('walLogDir', 'wal_log_dir', lat(8192, true)),
      f('totalMemMb', 'total_mem', int(0, U32)),
      f('totalCpuCores', 'total_cpu_cores', int(0, U32)),
      f('svcSince', 'svc_since', ts(6)),
      f('nodemgrPort', 'nodemgr_port', int(0, I32, true)),
      f('nodemgrBinPath', 'nodemgr_bin_path', lat(8192, true)),
      f('nodemgrTmpDataAbsPath', 'nodemgr_tmp_data_abs_path', lat(TEXT, true)),
      f('extraProps', 'extra_props', lat(TEXT, true)),
      f('nodeStats', 'node_stats', en(NODE_STATS, true)),
      f('nodemgrTcpPort', 'nodemgr_tcp_port', int(0, I32, true)),
      f('nodemgrPrometheusPort', 'nodemgr_prometheus_port', int(0, I32, true)),
      f('machineType', 'machine_type', en(MACHINE_TYPES, true)),
      f('portRange', 'port_range', lat(128, true)),
      f('usedPorts', 'used_port', { kind: 'ports' }),
      f('installingPorts', 'installing_port', { kind: 'ports' }),
    ],
  },
  {
    kind: 'clusters',
    table: 'db_clusters',
    deletePolicy: 'sync',
    fields: [
      id(),
      f('name', 'name', str(120, false, true)),
      f('nickName', 'nick_name', str(120, true)),
      f('owner', 'owner', str(120)),
      f('ddlLogTblname', 'ddl_log_tblname', str(120)),
      f('whenCreated', 'when_created', ts(0)),
      f('business', 'business', str(120)),
      f('memo', 'memo', str(TEXT, true)),
      f('status', 'status', en(CLUSTER_STATUSES)),
      f('haMode', 'ha_mode', en(HA_MODES)),
    ],
  },
  {
    kind: 'shards',
    table: 'shards',
    deletePolicy: 'sync',
    fields: [
      id(),
      f('clusterId', 'db_cluster_id', int(1, U32)),
      f('name', 'name', str(64, false, true)),
      f('whenCreated', 'when_created', ts(0)),
      f('numNodes', 'num_nodes', int(0, U16)),
      f('syncNum', 'sync_num', int(0, U16)),
      f('extraProps', 'extra_props', str(TEXT, true)),
      f('degradeConfState', 'degrade_conf_state', en(ON_OFF)),
      f('degradeRunState', 'degrade_run_state', en(ON_OFF)),
      f('degradeConfTime', 'degrade_conf_time', int(-I32 - 1, I32)),
      f('status', 'status', en(CLUSTER_STATUSES)),
      f('coldbackupPeriod', 'coldbackup_period', str(64, true)),
    ],
  },
  {
    kind: 'storageNodes',
    table: 'shard_nodes',
    deletePolicy: 'sync',
    fields: [
      id(),
      f('shardId', 'shard_id', int(1, U32)),
      f('clusterId', 'db_cluster_id', int(1, U32)),
      f('machineId', 'svr_node_id', int(1, U32)),
      f('hostaddr', 'hostaddr', str(8192, false, true)),
      f('port', 'port', int(0, U16)),
      f('userName', 'user_name', str(64)),
      f('passwd', 'passwd', str(120)),
      f('roWeight', 'ro_weight', int(-I16 - 1, I16)),
      f('whenCreated', 'when_created', ts(0, true)),
      f('masterPriority', 'master_priority', int(-I16 - 1, I16)),
      f('status', 'status', en(NODE_STATUSES)),
      f('cpuCores', 'cpu_cores', int(0, U16)),
      f('initialStorageGb', 'initial_storage_GB', int(0, U32)),
      f('maxStorageGb', 'max_storage_GB', int(0, U32)),
      f('innodbBufferPoolMb', 'innodb_buffer_pool_MB', int(0, U32)),
      f('rocksdbBufferPoolMb', 'rocksdb_buffer_pool_MB', int(0, U32)),
      f('extraProps', 'extra_props', str(TEXT, true)),
      f('syncState', 'sync_state', en(SYNC_STATES)),
      f('memberState', 'member_state', en(MEMBER_STATES)),
      f('replicaDelay', 'replica_delay', int(-I32 - 1, I32)),
      f('backupNode', 'backup_node', en(OFF_ON)),
    ],
  },
  {
    kind: 'computeNodes',
    table: 'comp_nodes',
    deletePolicy: 'sync',
    fields: [
      id(),
      f('clusterId', 'db_cluster_id', int(1, U32)),
      f('name', 'name', str(64, false, true)),
      f('hostaddr', 'hostaddr', str(8192, false, true)),
      f('port', 'port', int(0, U16)),
      f('whenCreated', 'when_created', ts(0, true)),
      f('userName', 'user_name', str(64)),
      f('passwd', 'passwd', str(16)),
      f('status', 'status', en(NODE_STATUSES)),
      f('machineId', 'svr_node_id', int(1, U32)),
      f('cpuCores', 'cpu_cores', int(0, U16)),
      f('maxMemMb', 'max_mem_MB', int(0, U32)),
      f('maxConns', 'max_conns', int(0, U32)),
      f('extraProps', 'extra_props', str(TEXT, true)),
      f('coldbackupPeriod', 'coldbackup_period', str(64, true)),
    ],
  },
  {
    kind: 'managers',
    table: 'cluster_mgr_nodes',
    deletePolicy: 'sync',
    fields: [
      id(),
      f('hostaddr', 'hostaddr', str(512, false, true)),
      f('port', 'port', int(0, I32)),
      f('prometheusPort', 'prometheus_port', int(0, I32, true)),
      f('memberState', 'member_state', en(MEMBER_STATES)),
    ],
  },
  {
    kind: 'metaNodes',
    table: 'meta_db_nodes',
    deletePolicy: 'sync',
    fields: [
      id(U64),
      f('hostaddr', 'hostaddr', str(8192, false, true)),
      f('port', 'port', int(0, U16)),
      f('userName', 'user_name', str(64)),
      f('passwd', 'passwd', str(120)),
      f('masterPriority', 'master_priority', int(-I16 - 1, I16)),
      f('memberState', 'member_state', en(MEMBER_STATES)),
      f('syncState', 'sync_state', en(SYNC_STATES)),
      f('degradeConfState', 'degrade_conf_state', en(ON_OFF)),
      f('degradeRunState', 'degrade_run_state', en(ON_OFF)),
      f('replicaDelay', 'replica_delay', int(-I32 - 1, I32)),
      f('degradeConfTime', 'degrade_conf_time', int(-I32 - 1, I32)),
      f('syncNum', 'sync_num', int(-I32 - 1, I32)),
      f('nodemgrBinPath', 'nodemgr_bin_path', str(8192, true)),
    ],
  },
  {
    kind: 'replicaMasters',
    table: 'node_map_master',
    deletePolicy: 'sync',
    fields: [
      id(),
      f('clusterId', 'cluster_id', int(-I32 - 1, I32)),
      f('nodeHost', 'node_host', str(512, false, true)),
      f('masterHost', 'master_host', str(512, false, true)),
      f('masterUuid', 'master_uuid', str(64, true)),
    ],
  },
  {
    kind: 'jobs',
    table: 'cluster_general_job_log',
    deletePolicy: 'never',
    fields: [
      id(U64),
      f('jobId', 'job_id', str(128, true)),
      f('relatedId', 'related_id', str(128, true)),
      f('jobType', 'job_type', str(128, true)),
      f('status', 'status', en(JOB_STATUSES)),
      f('memo', 'memo', str(TEXT, true)),
      f('whenStarted', 'when_started', ts(6)),
      f('whenEnded', 'when_ended', ts(6, true)),
      f('jobInfo', 'job_info', str(TEXT, true)),
      f('userName', 'user_name', str(128, true)),
    ],
  },
  {
    kind: 'backupStorages',
    table: 'backup_storage',
    deletePolicy: 'sync',
    fields: [
      id(),
      f('name', 'name', str(256, true)),
      f('stype', 'stype', en(STORAGE_TYPES, true)),
      f('connStr', 'conn_str', str(8192, true)),
      f('hostaddr', 'hostaddr', str(8192, true)),
      f('port', 'port', int(-I32 - 1, I32, true)),
      f('extra', 'extra', str(TEXT, true)),
    ],
  },
];

export function entityMap(kind: EntityKind): EntityMap {
  const m = ENTITY_MAPS.find((x) => x.kind === kind);
  if (!m) throw new Error(`no mapping for ${kind}`);
  return m;
}

/** The longest text the column of an entity's field holds: request limits derive from it (para-limits.ts). */
export function strMaxLen(kind: EntityKind, field: string): number {
  const c = entityMap(kind).fields.find((x) => x.field === field)?.codec;
  if (c?.kind !== 'str') throw new Error(`${kind}.${field} is not a text column`);
  return c.maxLen;
}

// ---- timestamps: epoch ms <-> 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC (sessions run with time_zone '+00:00')

const TS_TEXT = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

export function formatTimestamp(ms: number, precision: 0 | 6): string {
  // Truncate ourselves: MariaDB truncates extra fractional digits, MySQL rounds; neither must decide.
  const whole = precision === 0 ? Math.floor(ms / 1000) * 1000 : Math.floor(ms);
  const iso = new Date(whole).toISOString();
  const base = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  return precision === 0 ? base : `${base}.${iso.slice(20, 23)}000`;
}

/** ms, or null for a value that is not a real time (a zero date, garbage). */
export function parseTimestamp(text: string): number | null {
  const m = TS_TEXT.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (y === 0 || mo === 0 || d === 0) return null;
  const micros = m[7] ? Number(m[7].padEnd(6, '0')) : 0;
  return Date.UTC(y, mo - 1, d, h, mi, s) + Math.floor(micros / 1000);
}

// ---- port lists: "57001,57005," with the literal string 'NULL' (or NULL, or '') meaning empty

export function formatPorts(ports: number[]): string {
  // The original writes a comma-terminated list and 'NULL' for an empty one; its readers expect that.
  if (ports.length === 0) return 'NULL';
  return [...ports].sort((a, b) => a - b).map((p) => `${p},`).join('');
}

export function parsePorts(text: string | null): { ports: number[]; bad: string[]; literalNull: boolean } {
  if (text === null) return { ports: [], bad: [], literalNull: false };
  const trimmed = text.trim();
  if (trimmed === 'NULL') return { ports: [], bad: [], literalNull: true };
  const ports: number[] = [];
  const bad: string[] = [];
  for (const tok of trimmed.split(',')) {
    const t = tok.trim();
    if (t === '' || t === 'NULL') continue;
    if (/^\d{1,5}$/.test(t) && Number(t) <= 65_535) ports.push(Number(t));
    else bad.push(t);
  }
  return { ports: [...new Set(ports)].sort((a, b) => a - b), bad, literalNull: false };
}

/** The value written for a model value (assumed valid). */
export function encodeValue(c: Codec, v: unknown): SqlValue {
  if (c.kind === 'ports') return formatPorts(v as number[]);
  if (v === null || v === undefined) return null;
  if (c.kind === 'ts') return formatTimestamp(v as number, c.precision);
  return v as string | number;
}

/** A result cell as text (null stays null); mysql2 gives strings, numbers or Buffers. */
export function cellText(raw: unknown): string | null {
  if (raw === null || raw === undefined) return null;
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'bigint' || typeof raw === 'boolean') return String(raw);
  if (Buffer.isBuffer(raw)) return raw.toString('utf8');
  if (raw instanceof Date) return raw.toISOString();
  return JSON.stringify(raw);
}

/** A value read with dateStrings, in the same form encodeValue produces, for comparison. */
export function canonicalDbValue(c: Codec, raw: unknown): SqlValue {
  const text = cellText(raw);
  if (c.kind === 'ports') return formatPorts(parsePorts(text).ports);
  if (text === null) return null;
  switch (c.kind) {
    case 'int':
      return Number(text);
    case 'ts': {
      const ms = parseTimestamp(text);
      return ms === null ? text : formatTimestamp(ms, c.precision);
    }
    default:
      return text;
  }
}

/** Why a model value does not fit its column, or null when it does. */
export function checkValue(c: Codec, v: unknown): string | null {
  if (c.kind === 'ports') {
    if (!Array.isArray(v)) return 'must be an array of ports';
    for (const p of v as unknown[]) {
      if (!Number.isInteger(p) || (p as number) < 1 || (p as number) > 65_535) return `port ${String(p)} is not in 1..65535`;
    }
    return null;
  }
  if (v === null || v === undefined) return c.nullable ? null : 'is required';
  switch (c.kind) {
    case 'int':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) return 'must be an integer';
      if (v < c.min || v > c.max) return `must be in ${c.min}..${c.max}`;
      return null;
    case 'str':
      if (typeof v !== 'string') return 'must be a string';
      if (c.nonEmpty && v.trim() === '') return 'must not be empty';
      // Column lengths are in characters; 3-byte utf8 is what the original tables use.
      if ([...v].length > c.maxLen) return `is longer than ${c.maxLen} characters`;
      if (c.latin1 && [...v].some((ch) => ch.codePointAt(0)! > 0xff)) return 'contains characters outside latin1 (server_nodes is latin1)';
      if (/[\u{10000}-\u{10FFFF}]/u.test(v)) return 'contains characters outside utf8mb3 (the tables are utf8)';
      return null;
    case 'enum':
      return typeof v === 'string' && c.values.includes(v) ? null : `must be one of ${c.values.join(', ')}`;
    case 'ts':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) return 'must be epoch milliseconds';
      // TIMESTAMP holds 1970-01-01 00:00:01 .. 2038-01-19 03:14:07 UTC.
      if (v < 1000 || v > 2_147_483_647_000) return 'is outside the TIMESTAMP range (1970..2038)';
      return null;
  }
}

