// The tables of kunlun_metadata_db as data: names, column types, enum orders, keys and partitioning,
// taken from the original meta_inuse.sql (see docs/metadata.md for where we differ and why). The same
// specification renders the DDL and verifies an existing schema before we adopt it.
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
  SYNC_STATES,
} from './topology.js';
import { q, qt } from './ident.js';

/** Bump with a migration whenever a table of ours or a column we read or write changes. */
export const SCHEMA_VERSION = 1;

export interface ColumnSpec {
  name: string;
  /** Type and attributes as written in CREATE TABLE. */
  type: string;
  /** For enum columns: the values, in order (the order is part of the contract; 1.0 writes indexes). */
  enumValues?: readonly string[];
}

export type KeySpec =
  | { kind: 'primary'; cols: string[] }
  | { kind: 'unique' | 'index'; name: string; cols: string[] }
  | { kind: 'fk'; col: string; ref: string; refCol: string };

export interface TableSpec {
  name: string;
  columns: ColumnSpec[];
  keys: KeySpec[];
  charset: 'utf8' | 'latin1' | 'utf8mb4';
  /** Partitioning clause (constant text). */
  partition?: string;
  /** Tables of the original schema vs. tables only this manager uses. */
  origin: 'original' | 'ours';
}

const ENUM_VALUE = /^[A-Za-z0-9_]+$/;

function col(name: string, type: string): ColumnSpec {
  return { name, type };
}

function enumCol(name: string, values: readonly string[], rest: string): ColumnSpec {
  for (const v of values) if (!ENUM_VALUE.test(v)) throw new Error(`bad enum value ${v} for ${name}`);
  return { name, type: `enum(${values.map((v) => `'${v}'`).join(',')}) ${rest}`.trim(), enumValues: values };
}

const pk = (...cols: string[]): KeySpec => ({ kind: 'primary', cols });
const uniq = (name: string, ...cols: string[]): KeySpec => ({ kind: 'unique', name, cols });
const fk = (c: string, ref: string, refCol = 'id'): KeySpec => ({ kind: 'fk', col: c, ref, refCol });

const NOT_NULL_TS6_NOW = 'timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)';
const NULL_TS6 = 'timestamp(6) NULL DEFAULT NULL';

// The commit log's partitioning. The original hashes subpartitions on `(txn_id >> 32) DIV 86400`;
// MariaDB refuses `>>` in partition functions, and `DIV 4294967296` is the same value for unsigned ids.
export const COMMIT_LOG_PARTITIONING =
  'PARTITION BY LIST (`comp_node_id`) SUBPARTITION BY HASH ((`txn_id` DIV 4294967296) DIV 86400) SUBPARTITIONS 32 ' +
  '(PARTITION `pplaceholder` VALUES IN (NULL))';

export const TABLES: readonly TableSpec[] = [
  {
    name: 'global_configuration',
    origin: 'original',
    charset: 'utf8',
    columns: [col('name', 'varchar(128) NOT NULL'), col('value', 'varchar(128) DEFAULT NULL')],
    keys: [pk('name')],
  },
  {
    name: 'data_centers',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'int unsigned NOT NULL AUTO_INCREMENT'),
      col('name', 'varchar(128) NOT NULL'),
      col('dc_type', 'varchar(32) DEFAULT NULL'),
      col('owner', 'varchar(64) DEFAULT NULL'),
      col('province', 'varchar(128) DEFAULT NULL'),
      col('city', 'varchar(128) DEFAULT NULL'),
      col('district', 'varchar(128) DEFAULT NULL'),
      col('location', 'text'),
      col('memo', 'text'),
    ],
    keys: [pk('id'), uniq('name', 'name')],
  },
  {
    name: 'server_nodes',
    origin: 'original',
    charset: 'latin1',
    columns: [
      col('id', 'int unsigned NOT NULL AUTO_INCREMENT'),
      col('hostaddr', 'varchar(8192) NOT NULL'),
      col('dc_id', 'int unsigned DEFAULT NULL'),
      col('rack_id', 'varchar(256) DEFAULT NULL'),
      col('comp_datadir', 'varchar(8192) DEFAULT NULL'),
      col('datadir', 'varchar(8192) DEFAULT NULL'),
      col('logdir', 'varchar(8192) DEFAULT NULL'),
      col('wal_log_dir', 'varchar(8192) DEFAULT NULL'),
      col('total_mem', 'int unsigned NOT NULL'),
      col('total_cpu_cores', 'int unsigned NOT NULL'),
      col('svc_since', NOT_NULL_TS6_NOW),
      col('nodemgr_port', 'int DEFAULT NULL'),
      col('nodemgr_bin_path', 'varchar(8192) DEFAULT NULL'),
      col('nodemgr_tmp_data_abs_path', 'text'),
      col('extra_props', 'text'),
      enumCol('node_stats', NODE_STATS, "DEFAULT 'running'"),
      col('nodemgr_tcp_port', 'int DEFAULT NULL'),
      col('nodemgr_prometheus_port', 'int DEFAULT NULL'),
      col('current_port_pos', 'int DEFAULT NULL'),
      enumCol('machine_type', MACHINE_TYPES, 'DEFAULT NULL'),
      col('port_range', 'varchar(128) DEFAULT NULL'),
      col('used_port', 'text'),
      col('installing_port', 'text'),
    ],
    keys: [pk('id'), uniq('hostaddr_dcid_uniq', 'hostaddr(512)', 'dc_id'), fk('dc_id', 'data_centers')],
  },
  {
    name: 'server_nodes_stats',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'int unsigned NOT NULL'),
      col('comp_datadir_used', 'int NOT NULL DEFAULT 0'),
      col('comp_datadir_avail', 'int NOT NULL'),
      col('datadir_used', 'int NOT NULL DEFAULT 0'),
      col('datadir_avail', 'int NOT NULL'),
      col('wal_log_dir_used', 'int NOT NULL DEFAULT 0'),
      col('wal_log_dir_avail', 'int NOT NULL'),
      col('log_dir_used', 'int NOT NULL DEFAULT 0'),
      col('log_dir_avail', 'int NOT NULL'),
      col('avg_network_usage_pct', 'int NOT NULL DEFAULT 0'),
    ],
    keys: [pk('id'), fk('id', 'server_nodes')],
  },
  {
    name: 'server_nodes_conn_stats',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id1', 'int unsigned NOT NULL'),
      col('id2', 'int unsigned NOT NULL'),
      col('rtt_us', 'int unsigned NOT NULL'),
      col('time_diff_us', 'bigint unsigned NOT NULL'),
    ],
    keys: [pk('id1', 'id2')],
  },
  {
    name: 'db_clusters',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'int unsigned NOT NULL AUTO_INCREMENT'),
      col('name', 'varchar(120) NOT NULL'),
      col('nick_name', 'varchar(120) DEFAULT NULL'),
      col('owner', 'varchar(120) NOT NULL'),
      col('ddl_log_tblname', 'varchar(120) NOT NULL'),
      col('when_created', 'timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP'),
      col('business', 'varchar(120) NOT NULL'),
      col('memo', 'text'),
      enumCol('status', CLUSTER_STATUSES, "NOT NULL DEFAULT 'inuse'"),
      enumCol('ha_mode', HA_MODES, 'NOT NULL'),
    ],
    keys: [pk('id'), uniq('name', 'name')],
  },
  {
    name: 'comp_nodes_id_seq',
    origin: 'original',
    charset: 'utf8',
    columns: [col('id', 'int NOT NULL AUTO_INCREMENT')],
    keys: [pk('id')],
  },
  {
    name: 'comp_nodes',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'int unsigned NOT NULL'),
      col('name', 'varchar(64) NOT NULL'),
      col('hostaddr', 'varchar(8192) NOT NULL'),
      col('port', 'smallint unsigned NOT NULL'),
      col('db_cluster_id', 'int unsigned NOT NULL'),
      col('when_created', 'timestamp NULL DEFAULT CURRENT_TIMESTAMP'),
      col('user_name', 'varchar(64) NOT NULL'),
      col('passwd', 'varchar(16) NOT NULL'),
      enumCol('status', NODE_STATUSES, "DEFAULT 'creating'"),
      col('svr_node_id', 'int unsigned NOT NULL'),
      col('cpu_cores', 'smallint unsigned NOT NULL DEFAULT 0'),
      col('max_mem_MB', 'int unsigned NOT NULL DEFAULT 0'),
      col('max_conns', 'int unsigned NOT NULL DEFAULT 0'),
      col('extra_props', 'text'),
      col('coldbackup_period', "varchar(64) DEFAULT '01:00:00-02:00:00'"),
    ],
    keys: [
      pk('db_cluster_id', 'id'),
      uniq('cluster_id_name', 'db_cluster_id', 'name'),
      fk('db_cluster_id', 'db_clusters'),
      fk('svr_node_id', 'server_nodes'),
    ],
  },
  {
    name: 'commit_log_template_table',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'int unsigned NOT NULL AUTO_INCREMENT'),
      col('comp_node_id', 'int unsigned NOT NULL'),
      col('txn_id', 'bigint unsigned NOT NULL'),
      enumCol('next_txn_cmd', ['commit', 'abort'], 'NOT NULL'),
      col('prepare_ts', 'timestamp(6) NULL DEFAULT CURRENT_TIMESTAMP(6)'),
      col('written_shards', 'json DEFAULT NULL'),
    ],
    // The unique key is what XA resolution relies on: one decision per (compute node, transaction).
    keys: [pk('id', 'comp_node_id', 'txn_id'), uniq('comp_node_txn', 'comp_node_id', 'txn_id')],
    partition: COMMIT_LOG_PARTITIONING,
  },
  {
    name: 'ddl_ops_log_template_table',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'bigint unsigned NOT NULL AUTO_INCREMENT'),
      col('objname', 'varchar(64) NOT NULL'),
      col('db_name', 'varchar(64) NOT NULL'),
      col('schema_name', 'varchar(64) NOT NULL'),
      col('user_name', 'varchar(64) NOT NULL'),
      col('role_name', 'varchar(64) NOT NULL'),
      col('search_path', 'text NOT NULL'),
      enumCol('optype', ['create', 'drop', 'rename', 'alter', 'replace', 'remap_shardid', 'others'], 'NOT NULL'),
      enumCol(
        'objtype',
        ['db', 'index', 'matview', 'partition', 'schema', 'seq', 'table', 'func', 'role_or_group', 'proc', 'stats', 'user', 'view', 'others'],
        'NOT NULL',
      ),
      col('when_logged', 'timestamp(6) NULL DEFAULT CURRENT_TIMESTAMP(6)'),
      col('sql_src', 'text NOT NULL'),
      col('sql_storage_node', 'text NOT NULL'),
      col('target_shard_id', 'int unsigned NOT NULL'),
      col('initiator', 'int unsigned NOT NULL'),
      col('txn_id', 'bigint unsigned NOT NULL'),
    ],
    keys: [pk('id')],
  },
  {
    name: 'meta_db_nodes',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'bigint unsigned NOT NULL AUTO_INCREMENT'),
      col('hostaddr', 'varchar(8192) NOT NULL'),
      col('port', 'smallint unsigned NOT NULL'),
      col('user_name', 'varchar(64) NOT NULL'),
      col('passwd', 'varchar(120) NOT NULL'),
      col('master_priority', 'smallint NOT NULL DEFAULT 1'),
      enumCol('member_state', MEMBER_STATES, "NOT NULL DEFAULT 'replica'"),
      enumCol('sync_state', SYNC_STATES, "NOT NULL DEFAULT 'fsync'"),
      enumCol('degrade_conf_state', ON_OFF, "NOT NULL DEFAULT 'OFF'"),
      enumCol('degrade_run_state', ON_OFF, "NOT NULL DEFAULT 'OFF'"),
      col('replica_delay', 'int NOT NULL DEFAULT 0'),
      col('degrade_conf_time', 'int NOT NULL DEFAULT 0'),
      col('sync_num', 'int NOT NULL DEFAULT 1'),
      col('nodemgr_bin_path', 'varchar(8192) DEFAULT NULL'),
    ],
    // The original has a unique key named `id` and no primary key; kept as is.
    keys: [uniq('id', 'id')],
  },
  {
    name: 'shards',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'int unsigned NOT NULL AUTO_INCREMENT'),
      col('name', 'varchar(64) NOT NULL'),
      col('when_created', 'timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP'),
      col('num_nodes', 'smallint unsigned NOT NULL'),
      col('space_volumn', 'bigint unsigned NOT NULL DEFAULT 0'),
      col('num_tablets', 'int unsigned NOT NULL DEFAULT 0'),
      col('db_cluster_id', 'int unsigned NOT NULL'),
      col('sync_num', 'smallint unsigned NOT NULL DEFAULT 1'),
      col('extra_props', 'text'),
      enumCol('degrade_conf_state', ON_OFF, "NOT NULL DEFAULT 'OFF'"),
      enumCol('degrade_run_state', ON_OFF, "NOT NULL DEFAULT 'OFF'"),
      col('degrade_conf_time', 'int NOT NULL DEFAULT 0'),
      enumCol('status', CLUSTER_STATUSES, "NOT NULL DEFAULT 'inuse'"),
      col('coldbackup_period', "varchar(64) DEFAULT '01:00:00-02:00:00'"),
    ],
    keys: [pk('id'), uniq('name', 'db_cluster_id', 'name'), fk('db_cluster_id', 'db_clusters')],
  },
  {
    name: 'shard_nodes',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'int unsigned NOT NULL AUTO_INCREMENT'),
      col('ro_weight', 'smallint DEFAULT 0'),
      col('hostaddr', 'varchar(8192) NOT NULL'),
      col('port', 'smallint unsigned NOT NULL'),
      col('user_name', 'varchar(64) NOT NULL'),
      col('passwd', 'varchar(120) NOT NULL'),
      col('shard_id', 'int unsigned NOT NULL'),
      col('db_cluster_id', 'int unsigned NOT NULL'),
      col('svr_node_id', 'int unsigned NOT NULL'),
      col('when_created', 'timestamp NULL DEFAULT CURRENT_TIMESTAMP'),
      col('master_priority', 'smallint NOT NULL DEFAULT 1'),
      enumCol('status', NODE_STATUSES, "DEFAULT 'creating'"),
      col('cpu_cores', 'smallint unsigned NOT NULL DEFAULT 0'),
      col('initial_storage_GB', 'int unsigned NOT NULL DEFAULT 0'),
      col('max_storage_GB', 'int unsigned NOT NULL DEFAULT 0'),
      col('innodb_buffer_pool_MB', 'int unsigned NOT NULL DEFAULT 0'),
      col('rocksdb_buffer_pool_MB', 'int unsigned NOT NULL DEFAULT 0'),
      col('extra_props', 'text'),
      enumCol('sync_state', SYNC_STATES, "NOT NULL DEFAULT 'fsync'"),
      enumCol('member_state', MEMBER_STATES, "NOT NULL DEFAULT 'replica'"),
      col('replica_delay', 'int NOT NULL DEFAULT 0'),
      enumCol('backup_node', OFF_ON, "NOT NULL DEFAULT 'OFF'"),
    ],
    keys: [
      pk('id'),
      uniq('hostaddr_port_svrnodeid_uniq', 'hostaddr(512)', 'port', 'svr_node_id'),
      fk('db_cluster_id', 'db_clusters'),
      fk('svr_node_id', 'server_nodes'),
      fk('shard_id', 'shards'),
    ],
  },
  {
    name: 'backup_storage',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'int unsigned NOT NULL AUTO_INCREMENT'),
      col('name', 'varchar(256) DEFAULT NULL'),
      enumCol('stype', ['HDFS', 'S3', 'EBS', 'CEPH', 'OTHER'], 'DEFAULT NULL'),
      col('conn_str', 'varchar(8192) DEFAULT NULL'),
      col('hostaddr', 'varchar(8192) DEFAULT NULL'),
      col('port', 'int DEFAULT NULL'),
      col('user_name', 'varchar(128) DEFAULT NULL'),
      col('passwd', 'varchar(32) DEFAULT NULL'),
      col('extra', 'text'),
    ],
    keys: [pk('id')],
  },
  {
    name: 'cluster_coldbackups',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'bigint unsigned NOT NULL AUTO_INCREMENT'),
      col('storage_id', 'int unsigned DEFAULT NULL'),
      col('cluster_id', 'int unsigned DEFAULT NULL'),
      col('shard_id', 'int unsigned DEFAULT NULL'),
      col('comp_id', 'int unsigned DEFAULT NULL'),
      enumCol('backup_type', ['storage', 'compute'], 'DEFAULT NULL'),
      enumCol('status', JOB_STATUSES, "NOT NULL DEFAULT 'not_started'"),
      col('start_ts', NULL_TS6),
      col('end_ts', NULL_TS6),
      col('memo', 'text'),
      col('backup_addr', 'varchar(1024) DEFAULT NULL'),
    ],
    keys: [pk('id')],
  },
  {
    name: 'cluster_shard_backup_restore_log',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'bigint unsigned NOT NULL AUTO_INCREMENT'),
      col('storage_id', 'int unsigned NOT NULL'),
      col('cluster_id', 'int unsigned NOT NULL'),
      col('shard_id', 'int unsigned NOT NULL'),
      col('shard_node_id', 'int unsigned NOT NULL'),
      enumCol('optype', ['backup', 'restore'], 'NOT NULL'),
      col('shard_backup_path', 'varchar(8192) CHARACTER SET latin1 DEFAULT NULL'),
      enumCol('status', JOB_STATUSES, "NOT NULL DEFAULT 'not_started'"),
      col('memo', 'text'),
      col('when_started', NOT_NULL_TS6_NOW),
      col('when_ended', NULL_TS6),
    ],
    keys: [
      pk('id'),
      fk('storage_id', 'backup_storage'),
      fk('cluster_id', 'db_clusters'),
      fk('shard_id', 'shards'),
      fk('shard_node_id', 'shard_nodes'),
    ],
  },
  {
    name: 'cluster_general_job_log',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'bigint unsigned NOT NULL AUTO_INCREMENT'),
      col('job_id', 'varchar(128) DEFAULT NULL'),
      col('related_id', 'varchar(128) DEFAULT NULL'),
      col('job_type', 'varchar(128) DEFAULT NULL'),
      enumCol('status', JOB_STATUSES, "NOT NULL DEFAULT 'not_started'"),
      col('memo', 'text'),
      col('when_started', NOT_NULL_TS6_NOW),
      col('when_ended', NULL_TS6),
      col('job_info', 'text'),
      col('user_name', 'varchar(128) DEFAULT NULL'),
    ],
    keys: [pk('id')],
  },
  {
    name: 'cluster_roll_back_record',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'bigint unsigned NOT NULL AUTO_INCREMENT'),
      col('job_id', 'varchar(128) NOT NULL'),
      col('roll_info', 'varchar(512) NOT NULL'),
    ],
    keys: [pk('id')],
  },
  {
    name: 'table_move_jobs',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'bigint unsigned NOT NULL AUTO_INCREMENT'),
      col('table_list', 'text'),
      col('src_shard', 'int unsigned DEFAULT NULL'),
      col('src_shard_node', 'int unsigned DEFAULT NULL'),
      col('dest_shard', 'int unsigned DEFAULT NULL'),
      col('dest_shard_node', 'int unsigned DEFAULT NULL'),
      col('snapshot_binlog_file_idx', 'varchar(256) DEFAULT NULL'),
      col('snapshot_binlog_file_offset', 'bigint unsigned DEFAULT NULL'),
      enumCol('tab_file_format', ['logical', 'physical', 'dyn_clone'], 'NOT NULL'),
      col('when_started', NOT_NULL_TS6_NOW),
      col('when_ended', NULL_TS6),
      col('status', "varchar(64) NOT NULL DEFAULT 'not_started'"),
      col('stage', 'varchar(64) DEFAULT NULL'),
      col('memo', 'text'),
    ],
    keys: [
      pk('id'),
      fk('src_shard', 'shards'),
      fk('src_shard_node', 'shard_nodes'),
      fk('dest_shard', 'shards'),
      fk('dest_shard_node', 'shard_nodes'),
    ],
  },
  {
    name: 'rbr_consfailover',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'bigint unsigned NOT NULL AUTO_INCREMENT'),
      col('host', 'varchar(512) DEFAULT NULL'),
      col('shard_id', 'int unsigned DEFAULT NULL'),
      col('cluster_id', 'int unsigned DEFAULT NULL'),
      col('taskid', 'varchar(128) DEFAULT NULL'),
      col('step', 'varchar(128) DEFAULT NULL'),
      col('new_master_host', 'varchar(512) DEFAULT NULL'),
      col('description', 'text'),
      col('consfailover_msg', 'text'),
      col('timestamp', 'timestamp(6) NULL DEFAULT CURRENT_TIMESTAMP(6)'),
      col('err_code', 'int NOT NULL DEFAULT 0'),
      col('err_msg', 'text'),
    ],
    keys: [pk('id')],
  },
  {
    name: 'node_mgr_mysqlerr',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('hostaddr', 'varchar(512) NOT NULL'),
      col('port', 'int NOT NULL'),
      col('err_file', 'varchar(1024) DEFAULT NULL'),
      col('scan_timestamp', 'bigint DEFAULT NULL'),
      col('scan_filesize', 'bigint DEFAULT NULL'),
    ],
    keys: [pk('hostaddr', 'port')],
  },
  {
    name: 'cluster_mgr_nodes',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'int unsigned NOT NULL AUTO_INCREMENT'),
      col('hostaddr', 'varchar(512) NOT NULL'),
      col('port', 'int NOT NULL'),
      col('prometheus_port', 'int DEFAULT NULL'),
      enumCol('member_state', MEMBER_STATES, "NOT NULL DEFAULT 'replica'"),
    ],
    keys: [pk('id')],
  },
  {
    name: 'node_map_master',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'int unsigned NOT NULL AUTO_INCREMENT'),
      col('cluster_id', 'int NOT NULL'),
      col('node_host', 'varchar(512) NOT NULL'),
      col('master_host', 'varchar(512) NOT NULL'),
      col('master_uuid', 'varchar(64) DEFAULT NULL'),
    ],
    keys: [pk('id')],
  },
  {
    name: 'mysql_pg_install_log',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'bigint unsigned NOT NULL AUTO_INCREMENT'),
      col('general_log_id', 'bigint unsigned DEFAULT NULL'),
      enumCol('install_type', ['mysql', 'uninstall_mysql', 'postgres', 'uninstall_postgres'], 'DEFAULT NULL'),
      col('when_started', NOT_NULL_TS6_NOW),
      col('when_ended', NULL_TS6),
      enumCol('status', JOB_STATUSES, "NOT NULL DEFAULT 'not_started'"),
      col('job_info', 'text'),
      col('memo', 'text'),
    ],
    keys: [pk('id')],
  },
  {
    name: 'restore_log',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'bigint unsigned NOT NULL AUTO_INCREMENT'),
      col('general_log_id', 'bigint unsigned DEFAULT NULL'),
      enumCol('restore_type', ['shard', 'compute'], 'DEFAULT NULL'),
      col('when_started', NOT_NULL_TS6_NOW),
      col('when_ended', NULL_TS6),
      enumCol('status', JOB_STATUSES, "NOT NULL DEFAULT 'not_started'"),
      col('job_info', 'text'),
      col('memo', 'text'),
    ],
    keys: [pk('id')],
  },
  {
    name: 'cluster_shard_topology',
    origin: 'original',
    charset: 'utf8',
    columns: [
      col('id', 'bigint unsigned NOT NULL AUTO_INCREMENT'),
      col('cluster_id', 'int unsigned NOT NULL'),
      col('shard_id', 'text'),
      col('max_commit_log_id', 'bigint unsigned DEFAULT NULL'),
      col('max_ddl_log_id', 'bigint unsigned DEFAULT NULL'),
      col('timestamp', NOT_NULL_TS6_NOW),
    ],
    keys: [pk('id')],
  },
  // Ours. Names start with cluster_mgr_ and sort apart from the original's tables.
  {
    name: 'cluster_mgr_schema',
    origin: 'ours',
    charset: 'utf8mb4',
    columns: [
      col('id', 'tinyint unsigned NOT NULL'),
      col('version', 'int unsigned NOT NULL'),
      col('adopted_from', 'varchar(32) NOT NULL'),
      col('updated_at', NOT_NULL_TS6_NOW),
    ],
    keys: [pk('id')],
  },
  {
    name: 'cluster_mgr_projection',
    origin: 'ours',
    charset: 'utf8mb4',
    columns: [
      col('id', 'tinyint unsigned NOT NULL'),
      col('applied_index', 'bigint unsigned NOT NULL'),
      col('term', 'bigint unsigned NOT NULL'),
      col('updated_at', NOT_NULL_TS6_NOW),
    ],
    keys: [pk('id')],
  },
  {
    name: 'cluster_mgr_appends',
    origin: 'ours',
    charset: 'utf8mb4',
    columns: [
      col('idem_key', 'varchar(191) NOT NULL'),
      col('table_name', 'varchar(64) NOT NULL'),
      col('row_id', 'bigint unsigned DEFAULT NULL'),
      col('created_at', NOT_NULL_TS6_NOW),
    ],
    keys: [pk('idem_key')],
  },
];

export function tableSpec(name: string): TableSpec {
  const t = TABLES.find((x) => x.name === name);
  if (!t) throw new Error(`no table ${name} in the metadata schema`);
  return t;
}

function keyCols(cols: string[]): string {
  return cols
    .map((c) => {
      const m = /^([A-Za-z0-9_]+)(?:\((\d+)\))?$/.exec(c);
      if (!m) throw new Error(`bad key column ${c}`);
      return m[2] ? `${q(m[1]!)}(${m[2]})` : q(m[1]!);
    })
    .join(', ');
}

function renderKey(database: string, k: KeySpec): string {
  switch (k.kind) {
    case 'primary':
      return `PRIMARY KEY (${keyCols(k.cols)})`;
    case 'unique':
      return `UNIQUE KEY ${q(k.name)} (${keyCols(k.cols)})`;
    case 'index':
      return `KEY ${q(k.name)} (${keyCols(k.cols)})`;
    case 'fk':
      return `FOREIGN KEY (${q(k.col)}) REFERENCES ${qt(database, k.ref)} (${q(k.refCol)})`;
  }
}

/** CREATE TABLE IF NOT EXISTS for one table, optionally under another name (per-cluster logs). */
export function renderCreateTable(database: string, t: TableSpec, as: string = t.name): string {
  const lines = [...t.columns.map((c) => `  ${q(c.name)} ${c.type}`), ...t.keys.map((k) => `  ${renderKey(database, k)}`)];
  const partition = t.partition ? `\n${t.partition}` : '';
  return `CREATE TABLE IF NOT EXISTS ${qt(database, as)} (\n${lines.join(',\n')}\n) ENGINE=InnoDB DEFAULT CHARSET=${t.charset}${partition}`;
}
