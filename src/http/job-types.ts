// Every job type the compatible Emit endpoint accepts, whether it answers synchronously, and its paras.
// Error numbers per field are the original's (see error-codes.ts); where the original had none, 70005.
import { INT_LIMITS, STR_LIMITS, USER_RE } from '../actors/commands/para-limits.js';
import type { ParasSpec } from './paras-spec.js';

export interface JobTypeDef {
  /** Sync jobs answer in the HTTP response; async ones answer "accept" + job_id. */
  sync: boolean;
  /** Error number when `paras` itself is missing. */
  missingParas: number;
  paras: ParasSpec;
  summary: string;
}

const L = INT_LIMITS;
const count = (missing: number, bad: number, help: string) => ({ kind: 'int', ...L.count, required: true, missing, bad, help }) as const;
const id = (missing: number, help: string, required = true) => ({ kind: 'int', ...L.id, required, missing, bad: missing, help }) as const;
// Cluster and shard ids of the metadata cluster are "-1" in XPanel requests.
const clusterRef = (missing: number, help: string) =>
  ({ kind: 'string', maxLen: 12, pattern: /^(-1|[0-9]{1,10})$/, patternHelp: 'a cluster id (digits) or -1 for the metadata shard', required: true, missing, bad: missing, help }) as const;
const user = { kind: 'string', maxLen: STR_LIMITS.computerUser, pattern: USER_RE, patternHelp: 'a user name of letters, digits and "_"' } as const;
const password = { kind: 'string', maxLen: STR_LIMITS.computerPassword, secret: true } as const;
const path = (missing: number, required: boolean, help: string) =>
  ({ kind: 'string', maxLen: STR_LIMITS.path, pattern: /^\/[A-Za-z0-9._/-]*$/, patternHelp: 'an absolute path of letters, digits, ".", "_", "-" and "/"', required, missing, bad: missing, help }) as const;
const nickName = { kind: 'string', maxLen: STR_LIMITS.nickName, help: 'display name' } as const;
const port = { kind: 'int', ...L.port } as const;
const rackId = { kind: 'string', maxLen: STR_LIMITS.rackId, pattern: /^[A-Za-z0-9_.-]*$/, patternHelp: 'letters, digits, ".", "_" and "-"', bad: 70053 } as const;

export const JOB_TYPES: Readonly<Record<string, JobTypeDef>> = {
  create_cluster: {
    sync: false, missingParas: 70070, summary: 'create a cluster: storage shards and compute nodes',
    paras: {
      ha_mode: { kind: 'enum', values: ['rbr', 'mgr', 'no_rep'], required: true, missing: 70071, bad: 70071, help: 'replication mode of the shards; only rbr is built on MariaDB storage nodes (mgr and no_rep are refused with the reason)' },
      shards: count(70072, 70073, 'number of shards'),
      nodes: count(70074, 70075, 'storage nodes per shard, primary included'),
      comps: count(70076, 70077, 'compute nodes'),
      max_storage_size: { kind: 'int', ...L.maxStorageSize, required: true, missing: 70078, bad: 70078, help: 'GB, recorded in the cluster memo' },
      max_connections: { kind: 'int', ...L.maxConnections, required: true, missing: 70079, bad: 70079, help: 'recorded in the cluster memo' },
      cpu_cores: { kind: 'int', ...L.cpuCores, required: true, missing: 70080, bad: 70080, help: 'recorded in the cluster memo' },
      innodb_size: { kind: 'int', ...L.innodbSize, required: true, missing: 70081, bad: 70082, help: 'InnoDB buffer pool, MB' },
      dbcfg: { kind: 'int', min: 0, max: 1, def: 0, help: '0 normal, 1 small-memory configuration template' },
      nick_name: nickName,
      computer_user: { ...user, def: 'abc', help: 'superuser created on every compute node' },
      computer_password: { ...password, def: 'abc', help: 'its password' },
      storage_iplists: { kind: 'hostList', bad: 70181, help: 'limit storage placement to these hosts' },
      computer_iplists: { kind: 'hostList', bad: 70182, help: 'limit compute placement to these hosts' },
      fullsync_level: { kind: 'int', min: 0, max: 255, help: 'replica acknowledgements a commit waits for' },
    },
  },
  delete_cluster: {
    sync: false, missingParas: 70095, summary: 'delete a cluster and everything it runs',
    paras: { cluster_id: id(70096, 'cluster id', false), cluster_name: { kind: 'string', maxLen: STR_LIMITS.clusterName, pattern: /^[A-Za-z0-9_]+$/, patternHelp: 'a cluster name', missing: 70096, bad: 70097 }, nick_name: nickName },
  },
  add_shards: {
    sync: false, missingParas: 70118, summary: 'add shards to a cluster',
    paras: { cluster_id: id(70119, 'cluster id'), shards: count(70120, 70121, 'number of new shards'), nodes: count(70122, 70123, 'nodes per shard'), storage_iplists: { kind: 'hostList', bad: 70184 }, nick_name: nickName },
  },
  delete_shard: {
    sync: false, missingParas: 70138, summary: 'delete a shard (a cluster keeps at least one)',
    paras: { cluster_id: id(70139, 'cluster id'), shard_id: id(70140, 'shard id'), nick_name: nickName },
  },
  add_comps: {
    sync: false, missingParas: 70107, summary: 'add compute nodes to a cluster',
    paras: { cluster_id: id(70109, 'cluster id'), comps: count(70108, 70110, 'number of new compute nodes'), computer_iplists: { kind: 'hostList', bad: 70185 }, nick_name: nickName },
  },
  delete_comp: {
    sync: false, missingParas: 70131, summary: 'delete a compute node (a cluster keeps at least one)',
    paras: { cluster_id: id(70132, 'cluster id'), comp_id: id(70133, 'compute node id'), nick_name: nickName },
  },
  add_nodes: {
    sync: false, missingParas: 70153, summary: 'add replicas to one shard or to every shard of a cluster',
    paras: { cluster_id: clusterRef(70154, 'cluster id'), shard_id: { kind: 'string', maxLen: 12, pattern: /^(-1|[0-9]{1,10})$/, patternHelp: 'a shard id', bad: 70161 }, nodes: count(70155, 70156, 'new nodes per shard'), storage_iplists: { kind: 'hostList', bad: 70183 }, nick_name: nickName },
  },
  delete_node: {
    sync: false, missingParas: 70167, summary: 'delete a replica from a shard',
    paras: { cluster_id: clusterRef(70168, 'cluster id'), shard_id: clusterRef(70169, 'shard id'), hostaddr: { kind: 'host', required: true, missing: 70170 }, port: { ...port, required: true, missing: 70171, bad: 70171 }, nick_name: nickName },
  },
  create_machine: {
    sync: false, missingParas: 70049, summary: 'register a server for the storage or computer role',
    paras: {
      hostaddr: { kind: 'host', required: true, missing: 70052 },
      machine_type: { kind: 'enum', values: ['storage', 'computer'], required: true, missing: 70050, bad: 70051 },
      rack_id: { ...rackId, def: '0' },
      datadir: path(70054, false, 'storage data directory'),
      logdir: path(70055, false, 'storage log directory'),
      wal_log_dir: path(70056, false, 'storage WAL directory'),
      comp_datadir: path(70061, false, 'compute data directory'),
      port_range: { kind: 'string', maxLen: 11, pattern: /^\d{1,5}-\d{1,5}$/, patternHelp: '"start-end", e.g. "57000-58000"' },
      total_mem: { kind: 'int', ...L.totalMem, required: true, missing: 70057, bad: 70057, help: 'MB' },
      total_cpu_cores: { kind: 'int', ...L.totalCpuCores, required: true, missing: 70058, bad: 70058 },
      nodemgr_port: { ...port, help: 'port of the node agent on that host (ours; default from its registration)' },
    },
  },
  update_machine: {
    sync: false, missingParas: 70049, summary: 'update a registered server',
    paras: {
      hostaddr: { kind: 'host', required: true, missing: 70052 },
      machine_type: { kind: 'enum', values: ['storage', 'computer'], required: true, missing: 70050, bad: 70051 },
      rack_id: rackId,
      datadir: path(70054, false, 'storage data directory'),
      logdir: path(70055, false, 'storage log directory'),
      wal_log_dir: path(70056, false, 'storage WAL directory'),
      comp_datadir: path(70061, false, 'compute data directory'),
      port_range: { kind: 'string', maxLen: 11, pattern: /^\d{1,5}-\d{1,5}$/, patternHelp: '"start-end", e.g. "57000-58000"' },
      total_mem: { kind: 'int', ...L.totalMem, bad: 70057, help: 'MB' },
      total_cpu_cores: { kind: 'int', ...L.totalCpuCores, bad: 70058 },
    },
  },
  delete_machine: {
    sync: false, missingParas: 70049, summary: 'unregister a server (it must run no instance)',
    paras: { hostaddr: { kind: 'host', required: true, missing: 70067 }, machine_type: { kind: 'enum', values: ['storage', 'computer'], required: true, missing: 70050, bad: 70051 } },
  },
  control_instance: {
    sync: false, missingParas: 70005, summary: 'stop, start or restart one storage or compute instance',
    paras: {
      hostaddr: { kind: 'host', required: true },
      port: { ...port, required: true },
      control: { kind: 'enum', values: ['start', 'stop', 'restart'], required: true },
      machine_type: { kind: 'enum', values: ['storage', 'computer'] },
      cluster_id: { kind: 'string', maxLen: 12, pattern: /^(-1|[0-9]{1,10})$/, patternHelp: 'a cluster id' },
      shard_id: { kind: 'string', maxLen: 12, pattern: /^(-1|[0-9]{1,10})$/, patternHelp: 'a shard id' },
    },
  },
  manual_switch: {
    sync: false, missingParas: 70005, summary: 'planned switchover of a shard primary',
    paras: {
      cluster_id: clusterRef(70025, 'cluster id'),
      shard_id: clusterRef(70024, 'shard id'),
      master_hostaddr: { kind: 'ipPort', required: true, missing: 70026, help: 'current primary, "host_port"' },
      assign_hostaddr: { kind: 'ipPort', help: 'target replica, "host_port"; the most advanced healthy replica when absent' },
    },
  },
  raft_mission: {
    sync: false, missingParas: 70189, summary: 'manager group: transfer leadership, add or remove a member',
    paras: {
      task_type: { kind: 'enum', values: ['transfer_leader', 'add_peer', 'remove_peer'], required: true, missing: 70190, bad: 70191 },
      target_leader: { kind: 'string', maxLen: 300, pattern: /^[A-Za-z0-9.:-]+:\d{1,5}$/, patternHelp: '"host:port" (Raft or HTTP port of a member)', missing: 70192, bad: 70192, help: 'transfer_leader: the member to lead; 70193 when it is not a member' },
      peer: { kind: 'string', maxLen: 300, pattern: /^[A-Za-z0-9.:-]+:\d{1,5}$/, patternHelp: '"host:raft_port"', missing: 70194, bad: 70194, help: 'add_peer: the new member (70197 when already one); remove_peer: the member to remove (70198 when not one)' },
      http_port: { ...port, bad: 70194, help: 'add_peer: HTTP port of the new member; this member\'s brpc_http_port when absent' },
    },
  },
  get_status: { sync: true, missingParas: 70001, summary: 'status and progress of a job', paras: {} },
  get_meta_mode: { sync: true, missingParas: 70001, summary: 'replication mode of the metadata shard', paras: {} },
  get_meta_summary: { sync: true, missingParas: 70001, summary: 'metadata shard nodes', paras: {} },
  get_cluster_summary: { sync: true, missingParas: 70001, summary: 'every cluster, its shards and compute nodes', paras: {} },
  get_cluster_detail: {
    sync: true, missingParas: 70001, summary: 'work mode, or one cluster in detail',
    paras: { cluster_id: id(70005, 'cluster id', false) },
  },
  get_variable: {
    sync: true, missingParas: 70005, summary: 'read a server variable of an instance',
    paras: { hostaddr: { kind: 'host', required: true }, port: { ...port, required: true }, variable: { kind: 'string', maxLen: 64, pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, patternHelp: 'a variable name', required: true } },
  },
  set_variable: {
    sync: true, missingParas: 70005, summary: 'set a server variable of an instance',
    paras: {
      hostaddr: { kind: 'host', required: true },
      port: { ...port, required: true },
      variable: { kind: 'string', maxLen: 64, pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, patternHelp: 'a variable name', required: true },
      type: { kind: 'enum', values: ['int', 'string'], required: true },
      value: { kind: 'string', maxLen: 1024, required: true },
    },
  },
  set_noswitch: {
    sync: true, missingParas: 70005, summary: 'suppress automatic failover of a cluster or shard for a while',
    paras: { type: { kind: 'enum', values: ['1'], def: '1' }, timeout: { kind: 'int', min: 1, max: 31_536_000, required: true, help: 'seconds' }, cluster_id: { kind: 'idOrAll', required: true, missing: 70025 }, shard_id: id(70024, 'shard id', false) },
  },
  list_noswitch: { sync: true, missingParas: 70005, summary: 'active no-switch windows', paras: { cluster_id: { kind: 'idOrAll' } } },
  del_noswitch: {
    sync: true, missingParas: 70005, summary: 'end a no-switch window',
    paras: { cluster_id: { kind: 'idOrAll', required: true, missing: 70025 }, shard_id: id(70024, 'shard id', false) },
  },
};

/** The definition of a job type, or undefined: an own-property lookup, so `constructor` or `__proto__` is no job. */
export function jobTypeDef(jobType: string): JobTypeDef | undefined {
  return Object.hasOwn(JOB_TYPES, jobType) ? JOB_TYPES[jobType] : undefined;
}

/** Recognised by the original but without a handler there: answered as the original does. */
export const DEAD_JOB_TYPES = new Set(['rename_cluster', 'backup_cluster', 'update_prometheus', 'postgres_exporter', 'mysqld_exporter', 'example_mission']);
