// The topology the metadata shard holds, as plain JSON-serialisable data: what the manager projects
// into kunlun_metadata_db and what it reads back when adopting a metadata shard made by other tools.
// Field names follow the columns (camelCase); ids are the manager's and are written explicitly.
// Timestamps are epoch milliseconds (UTC); a column of second precision stores whole seconds.
import { redactSecrets, REDACTED } from '../log/redact.js';

export const HA_MODES = ['no_rep', 'mgr', 'rbr'] as const;
export const NODE_STATUSES = ['creating', 'inactive', 'active', 'deleted', 'manual_stop'] as const;
export const MEMBER_STATES = ['source', 'replica'] as const;
export const SYNC_STATES = ['fsync', 'async'] as const;
export const ON_OFF = ['ON', 'OFF'] as const;
/** backup_node lists OFF first in the original; the order of an enum is part of the contract. */
export const OFF_ON = ['OFF', 'ON'] as const;
export const JOB_STATUSES = ['not_started', 'ongoing', 'done', 'failed'] as const;
export const MACHINE_TYPES = ['storage', 'computer'] as const;
export const NODE_STATS = ['running', 'idle', 'dead'] as const;
export const CLUSTER_STATUSES = ['inuse', 'deleted'] as const;
/** backup_storage.stype: the original's enum (1.0 writes only HDFS); a directory is OTHER. */
export const STORAGE_TYPES = ['HDFS', 'S3', 'EBS', 'CEPH', 'OTHER'] as const;

export type HaMode = (typeof HA_MODES)[number];
export type NodeStatus = (typeof NODE_STATUSES)[number];
export type MemberState = (typeof MEMBER_STATES)[number];
export type SyncState = (typeof SYNC_STATES)[number];
export type OnOff = (typeof ON_OFF)[number];
export type JobStatus = (typeof JOB_STATUSES)[number];
export type MachineType = (typeof MACHINE_TYPES)[number];
export type NodeStats = (typeof NODE_STATS)[number];
export type ClusterStatus = (typeof CLUSTER_STATUSES)[number];
export type StorageType = (typeof STORAGE_TYPES)[number];

/** server_nodes. Id 1 is the schema's pseudo row and never part of a topology. */
export interface Machine {
  id: number;
  hostaddr: string;
  dcId: number | null;
  rackId: string | null;
  compDatadir: string | null;
  datadir: string | null;
  logdir: string | null;
  walLogDir: string | null;
  totalMemMb: number;
  totalCpuCores: number;
  svcSince: number;
  nodemgrPort: number | null;
  nodemgrBinPath: string | null;
  nodemgrTmpDataAbsPath: string | null;
  extraProps: string | null;
  nodeStats: NodeStats | null;
  nodemgrTcpPort: number | null;
  nodemgrPrometheusPort: number | null;
  /** NULL in node_mgr's own registration row: such a host is not a placement target. */
  machineType: MachineType | null;
  /** "begin-end". */
  portRange: string | null;
  usedPorts: number[];
  installingPorts: number[];
}

/** db_clusters. */
export interface Cluster {
  id: number;
  name: string;
  nickName: string | null;
  owner: string;
  /** ddl_ops_log_<name> for clusters made by cluster_mgr. */
  ddlLogTblname: string;
  whenCreated: number;
  business: string;
  /** The cluster memo (JSON text, API reference 4.3), kept verbatim. */
  memo: string | null;
  status: ClusterStatus;
  haMode: HaMode;
}

/** shards. */
export interface Shard {
  id: number;
  clusterId: number;
  name: string;
  whenCreated: number;
  numNodes: number;
  syncNum: number;
  extraProps: string | null;
  degradeConfState: OnOff;
  degradeRunState: OnOff;
  degradeConfTime: number;
  status: ClusterStatus;
  coldbackupPeriod: string | null;
}

/** shard_nodes. The password is in the model because compute nodes and XPanel read it from the table. */
export interface StorageNode {
  id: number;
  shardId: number;
  clusterId: number;
  /** svr_node_id; 1 (the pseudo row) is what cluster_mgr 1.0 writes. */
  machineId: number;
  hostaddr: string;
  port: number;
  userName: string;
  passwd: string;
  roWeight: number;
  whenCreated: number | null;
  masterPriority: number;
  status: NodeStatus;
  cpuCores: number;
  initialStorageGb: number;
  maxStorageGb: number;
  innodbBufferPoolMb: number;
  rocksdbBufferPoolMb: number;
  extraProps: string | null;
  syncState: SyncState;
  memberState: MemberState;
  replicaDelay: number;
  backupNode: OnOff;
}

/** comp_nodes. */
export interface ComputeNode {
  id: number;
  clusterId: number;
  name: string;
  hostaddr: string;
  port: number;
  whenCreated: number | null;
  userName: string;
  passwd: string;
  status: NodeStatus;
  machineId: number;
  cpuCores: number;
  maxMemMb: number;
  maxConns: number;
  extraProps: string | null;
  coldbackupPeriod: string | null;
}

/** cluster_mgr_nodes: `port` is the HTTP port; the leader is `source`. */
export interface ManagerMember {
  id: number;
  hostaddr: string;
  port: number;
  prometheusPort: number | null;
  memberState: MemberState;
}

/** meta_db_nodes. */
export interface MetaNode {
  id: number;
  hostaddr: string;
  port: number;
  userName: string;
  passwd: string;
  masterPriority: number;
  memberState: MemberState;
  syncState: SyncState;
  degradeConfState: OnOff;
  degradeRunState: OnOff;
  replicaDelay: number;
  degradeConfTime: number;
  syncNum: number;
  nodemgrBinPath: string | null;
}

/** node_map_master: an rbr replica and its master, both "ip_port"; clusterId -1 for the metadata shard. */
export interface ReplicaMaster {
  id: number;
  clusterId: number;
  nodeHost: string;
  masterHost: string;
  masterUuid: string | null;
}

/** cluster_general_job_log, as XPanel and get_status read it. */
export interface Job {
  id: number;
  jobId: string | null;
  relatedId: string | null;
  jobType: string | null;
  status: JobStatus;
  /** JSON text (error_code, error_info, progress); secrets are redacted when written. */
  memo: string | null;
  whenStarted: number;
  whenEnded: number | null;
  /** The request JSON, secrets redacted. */
  jobInfo: string | null;
  userName: string | null;
}

/**
 * backup_storage. XPanel reads id, name, stype, hostaddr and port (hostaddr:port is its rebuild
 * hdfs_host). `extra` is JSON; rows cluster_mgr writes carry `"managed_by":"cluster_mgr"` there, so
 * rows of other tools are told apart and left alone. user_name/passwd are not modelled (never written).
 */
export interface BackupStorage {
  id: number;
  name: string | null;
  stype: StorageType | null;
  connStr: string | null;
  hostaddr: string | null;
  port: number | null;
  extra: string | null;
}

/** mysql_pg_install_log: one row per job and install type (XPanel's install "details" dialog). */
export interface InstallLog {
  generalLogId: number;
  installType: 'mysql' | 'uninstall_mysql' | 'postgres' | 'uninstall_postgres';
  status: JobStatus;
  whenStarted: number;
  whenEnded: number | null;
  /** JSON text: [{piece: "ip_port", content: <the agent request>}], secrets redacted. */
  jobInfo: string;
  /** JSON text: {task_spec_info, response_array: [{piece, info: <the agent answer>}]}; null while none is in. */
  memo: string | null;
}

/** cluster_coldbackups: one row per shard backup (XPanel's backup list; cluster_restore is offered once one exists). */
export interface ColdBackup {
  /** The shard_coldbackup job: rows are matched by it (memo's job_id); the table's ids are its own. */
  jobId: number;
  /** Deleted by retention: its row is removed. */
  deleted: boolean;
  storageId: number | null;
  clusterId: number;
  shardId: number;
  backupType: 'storage' | 'compute';
  status: JobStatus;
  startTs: number;
  endTs: number | null;
  /** JSON text: job_id, node, why, sizes, sha256, GTID position, keys, error_info. */
  memo: string;
  /** Where the backup lies: the storage's conn_str and the backup's directory ('' until stored). */
  backupAddr: string;
}

export interface Topology {
  /** global_configuration meta_ha_mode; null leaves the row alone. */
  metaHaMode: HaMode | null;
  machines: Machine[];
  clusters: Cluster[];
  shards: Shard[];
  storageNodes: StorageNode[];
  computeNodes: ComputeNode[];
  managers: ManagerMember[];
  metaNodes: MetaNode[];
  replicaMasters: ReplicaMaster[];
  jobs: Job[];
  backupStorages: BackupStorage[];
  /** Written by the projection, never read back as a topology (history, matched by job and type). */
  installLogs?: InstallLog[];
  /** Written by the projection, never read back as a topology (history, matched by job). */
  coldBackups?: ColdBackup[];
}

export type EntityKind = Exclude<keyof Topology, 'metaHaMode' | 'installLogs' | 'coldBackups'>;

export const ENTITY_KINDS: readonly EntityKind[] = [
  'machines',
  'clusters',
  'shards',
  'storageNodes',
  'computeNodes',
  'managers',
  'metaNodes',
  'replicaMasters',
  'jobs',
  'backupStorages',
];

export const PSEUDO_SERVER_ID = 1;
export const PSEUDO_SERVER_HOST = 'pseudo_server_useless';

export function emptyTopology(): Topology {
  return {
    metaHaMode: null,
    machines: [],
    clusters: [],
    shards: [],
    storageNodes: [],
    computeNodes: [],
    managers: [],
    metaNodes: [],
    replicaMasters: [],
    jobs: [],
    backupStorages: [],
  };
}

/** A copy with every entity list sorted by id and port lists sorted: equal topologies compare equal. */
export function normalizeTopology(t: Topology): Topology {
  const byId = <T extends { id: number }>(xs: T[]): T[] => [...xs].sort((a, b) => a.id - b.id);
  return {
    metaHaMode: t.metaHaMode,
    machines: byId(t.machines).map((m) => ({
      ...m,
      usedPorts: [...m.usedPorts].sort((a, b) => a - b),
      installingPorts: [...m.installingPorts].sort((a, b) => a - b),
    })),
    clusters: byId(t.clusters),
    shards: byId(t.shards),
    storageNodes: byId(t.storageNodes),
    computeNodes: byId(t.computeNodes),
    managers: byId(t.managers),
    metaNodes: byId(t.metaNodes),
    replicaMasters: byId(t.replicaMasters),
    jobs: byId(t.jobs),
    backupStorages: byId(t.backupStorages),
  };
}

/** For logs and audit output: passwords replaced, secret keys inside memo/job JSON redacted. */
export function redactTopology(t: Topology): Topology {
  const hide = <T extends { passwd: string }>(x: T): T => ({ ...x, passwd: REDACTED });
  return {
    ...t,
    clusters: t.clusters.map((c) => ({ ...c, memo: redactJsonText(c.memo) })),
    storageNodes: t.storageNodes.map(hide),
    computeNodes: t.computeNodes.map(hide),
    metaNodes: t.metaNodes.map(hide),
    jobs: t.jobs.map((j) => ({ ...j, memo: redactJsonText(j.memo), jobInfo: redactJsonText(j.jobInfo) })),
  };
}

/** JSON text with secret keys redacted; text that is not JSON is returned as it is (after URL redaction). */
export function redactJsonText(text: string | null): string | null {
  if (text === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return redactSecrets(text);
  }
  if (parsed === null || typeof parsed !== 'object') return text;
  const redacted = redactSecrets(parsed);
  // Untouched text stays byte for byte as it was: a memo written twice must compare equal.
  return JSON.stringify(redacted) === JSON.stringify(parsed) ? text : JSON.stringify(redacted);
}
