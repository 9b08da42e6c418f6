// One limit for each request value, used by the job types' paras specs (src/jobs/types), which both
// the Emit edge and the leader's command check validate with, so a value accepted is one the metadata
// column it ends in can hold. Text lengths are taken from those columns (src/metadata/codec.ts).
import { strMaxLen } from '../../metadata/codec.js';

export interface IntRange {
  readonly min: number;
  readonly max: number;
}

const I32 = 2 ** 31 - 1;

/** Hostnames and IPv4/IPv6 literals; nothing that could carry shell or SQL syntax. */
export const HOST_RE = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^[0-9A-Fa-f:.]{2,45}$/;
/** A compute node superuser: a PostgreSQL role name we create without quoting trouble. */
export const USER_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * create_cluster's ha_mode values (the original's vocabulary) that this cluster_mgr refuses, and why:
 * its storage nodes are MariaDB, so a shard is built with binlog replication (rbr) only. A request
 * for another mode is refused rather than built as rbr behind the caller's back.
 */
export const UNSUPPORTED_HA_MODES: Readonly<Record<string, string>> = {
  mgr: 'MySQL group replication (mgr) does not exist in MariaDB, the storage nodes here; use rbr',
  no_rep: 'shards without replication (no_rep) are not built on the MariaDB storage nodes here; use rbr (nodes "1" gives a one-node shard)',
};

export const INT_LIMITS = {
  /** shards, nodes per shard, compute nodes of one request. */
  count: { min: 1, max: 256 },
  id: { min: 0, max: I32 },
  port: { min: 1, max: 65_535 },
  /** GB, recorded in the cluster memo. */
  maxStorageSize: { min: 0, max: I32 },
  maxConnections: { min: 0, max: I32 },
  cpuCores: { min: 0, max: 4096 },
  /** MB of InnoDB buffer pool (1 TB at most). */
  innodbSize: { min: 1, max: 1_048_576 },
  totalMem: { min: 1, max: I32 },
  totalCpuCores: { min: 1, max: 4096 },
} as const satisfies Record<string, IntRange>;

export const STR_LIMITS = {
  /** comp_nodes.passwd */
  computerPassword: strMaxLen('computeNodes', 'passwd'),
  /** comp_nodes.user_name */
  computerUser: strMaxLen('computeNodes', 'userName'),
  /** db_clusters.nick_name */
  nickName: strMaxLen('clusters', 'nickName'),
  /** db_clusters.name */
  clusterName: strMaxLen('clusters', 'name'),
  /** server_nodes.rack_id holds more; racks are short names. */
  rackId: Math.min(64, strMaxLen('machines', 'rackId')),
  /** server_nodes.datadir and the other directories. */
  path: Math.min(1024, strMaxLen('machines', 'datadir')),
  hostaddr: 253,
} as const;
