// Status vocabularies. Where a value is shown in kunlun_metadata_db the spelling is the original enum's
// (reference/cluster_mgr-api.md §8); the rest are what our HA needs (reference/cluster_mgr-ha.md §4.4).

/** mysql_pg_install_log.install_type: what an agent was asked to do with an instance. */
export const INSTALL_TASKS = ['mysql', 'uninstall_mysql', 'postgres', 'uninstall_postgres'] as const;
export type InstallTask = (typeof INSTALL_TASKS)[number];

export const HA_MODES = ['no_rep', 'mgr', 'rbr'] as const; // db_clusters.ha_mode
export type HaMode = (typeof HA_MODES)[number];

export const MACHINE_ROLES = ['storage', 'computer'] as const; // server_nodes.machine_type
export type MachineRole = (typeof MACHINE_ROLES)[number];

export const NODE_STATS = ['running', 'idle', 'dead'] as const; // server_nodes.node_stats

/** Kinds of backup storage: a directory (local or a mount), an S3 bucket, an HDFS namenode. */
export const BACKUP_STORAGE_TYPES = ['fs', 's3', 'HDFS'] as const;
export type BackupStorageType = (typeof BACKUP_STORAGE_TYPES)[number];
export type NodeStats = (typeof NODE_STATS)[number];

/** shard_nodes.status and comp_nodes.status; `deleted` is a removal event, not a status change. */
export const INSTANCE_STATUSES = ['creating', 'inactive', 'active', 'manual_stop'] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

export const MEMBER_STATES = ['source', 'replica'] as const; // shard_nodes.member_state
export type MemberState = (typeof MEMBER_STATES)[number];

export const SYNC_STATES = ['fsync', 'async'] as const; // shard_nodes.sync_state
export type SyncState = (typeof SYNC_STATES)[number];

export const JOB_STATUSES = ['not_started', 'ongoing', 'done', 'failed'] as const; // cluster_general_job_log.status
export type JobStatus = (typeof JOB_STATUSES)[number];

/** db_clusters.status is `inuse`/`deleted`; creating and deleting are the manager's in-between states. */
export const CLUSTER_STATUSES = ['creating', 'inuse', 'deleting'] as const;
export type ClusterStatus = (typeof CLUSTER_STATUSES)[number];

/** shards.status is `inuse`/`deleted`; as for clusters, plus the manager's in-between states. */
export const SHARD_STATUSES = ['creating', 'inuse', 'deleting'] as const;
export type ShardStatus = (typeof SHARD_STATUSES)[number];

/** A storage node as the leader's probes concluded; `busy` is alive but saturated (1040, lock waits). */
export const HEALTHS = ['alive', 'unreachable', 'dead', 'busy'] as const;
export type Health = (typeof HEALTHS)[number];

/** What the manager has set on the node: storage nodes start read-only; only the manager opens one. */
export const ACCESSES = ['read_only', 'writable'] as const;
export type Access = (typeof ACCESSES)[number];

export const FAILOVER_KINDS = ['failover', 'switchover'] as const;
export type FailoverKind = (typeof FAILOVER_KINDS)[number];

/** The failover steps of cluster_mgr-ha.md §4.4, one `shard.failover_step` each (rbr_consfailover rows). */
export const FAILOVER_STEPS = [
  'detect',
  'corroborate',
  'quorum',
  'freeze',
  'elect',
  'drain',
  'fence',
  'promote',
  'repoint',
  'metadata',
] as const;
export type FailoverStep = (typeof FAILOVER_STEPS)[number];

/** How an old primary was fenced (§4.4 step 6). */
export const FENCE_METHODS = ['super_read_only', 'kill', 'host_unreachable'] as const;
export type FenceMethod = (typeof FENCE_METHODS)[number];

/** How a fenced or diverged node came back as a replica (§4.4 step 10). */
export const REJOIN_METHODS = ['change_master', 'flashback', 'rebuild'] as const;
export type RejoinMethod = (typeof REJOIN_METHODS)[number];
