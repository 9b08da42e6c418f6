// Shared by the metadata tests: a MariaDB metadata server (lower_case_table_names=1) and builders for
// topology entities with plausible values, each overridable.
import { rmSync } from 'node:fs';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { MariaDbInstance, makeRunDir } from '../../src/launcher/index.js';
import type {
  Cluster,
  ComputeNode,
  Job,
  Machine,
  ManagerMember,
  MetaNode,
  ReplicaMaster,
  Shard,
  StorageNode,
  Topology,
} from '../../src/metadata/index.js';

export const ADMIN = { user: 'clustmgr', password: 'clustmgr-pw' };

export interface MetaServer {
  server: MariaDbInstance;
  dir: string;
  connect(database?: string): Promise<Connection>;
  /** One statement on a connection of its own. */
  query(sql: string, params?: unknown[], database?: string): Promise<RowDataPacket[]>;
  /** kill -9 and remove the directory. */
  destroy(): Promise<void>;
}

export async function startMetaServer(label: string, lowerCaseTableNames = true): Promise<MetaServer> {
  const dir = makeRunDir(label);
  const server = new MariaDbInstance({ dir, serverId: 1, admin: ADMIN, lowerCaseTableNames, bufferPoolMb: 64 });
  await server.start();
  const c = await server.connect();
  // The manager makes the metadata primary writable; servers start read-only.
  await c.query('SET GLOBAL read_only = OFF');
  await c.end();
  return {
    server,
    dir,
    connect: (database?: string) => server.connect(database ? { database } : {}),
    query: async (sql: string, params: unknown[] = [], database?: string) => {
      const c = await server.connect(database ? { database } : {});
      try {
        const [rows] = await c.query<RowDataPacket[]>(sql, params);
        return rows;
      } finally {
        await c.end();
      }
    },
    destroy: async () => {
      await server.kill9();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** 2023-06-01 10:00:00 UTC plus whole seconds: second-precision columns round-trip exactly. */
export const T0 = Date.UTC(2023, 5, 1, 10, 0, 0);
export const at = (sec: number): number => T0 + sec * 1000;

export function machine(id: number, o: Partial<Machine> = {}): Machine {
  return {
    id,
    hostaddr: `10.0.0.${id}`,
    dcId: null,
    rackId: null,
    compDatadir: '/kunlun/comp',
    datadir: '/kunlun/data',
    logdir: '/kunlun/log',
    walLogDir: '/kunlun/wal',
    totalMemMb: 16384,
    totalCpuCores: 8,
    svcSince: at(1) + 123,
    nodemgrPort: 58002,
    nodemgrBinPath: '/kunlun/node_mgr/bin',
    nodemgrTmpDataAbsPath: null,
    extraProps: null,
    nodeStats: 'running',
    nodemgrTcpPort: 58003,
    nodemgrPrometheusPort: 58010,
    machineType: 'storage',
    portRange: '57000-58000',
    usedPorts: [],
    installingPorts: [],
    ...o,
  };
}

export function cluster(id: number, o: Partial<Cluster> = {}): Cluster {
  const name = o.name ?? `cluster_1685613600_${String(id).padStart(6, '0')}`;
  return {
    id,
    name,
    nickName: `nick${id}`,
    owner: 'abc',
    ddlLogTblname: `ddl_ops_log_${name}`,
    whenCreated: at(10),
    business: 'kunlun',
    memo: JSON.stringify({ ha_mode: 'rbr', shards: '2', nodes: '3', comps: '2', innodb_size: '1', dbcfg: '0' }),
    status: 'inuse',
    haMode: 'rbr',
    ...o,
  };
}

export function shard(id: number, clusterId: number, o: Partial<Shard> = {}): Shard {
  return {
    id,
    clusterId,
    name: `shard_${id}`,
    whenCreated: at(20),
    numNodes: 3,
    syncNum: 1,
    extraProps: null,
    degradeConfState: 'OFF',
    degradeRunState: 'OFF',
    degradeConfTime: 0,
    status: 'inuse',
    coldbackupPeriod: '01:00:00-02:00:00',
    ...o,
  };
}

export function storageNode(id: number, shardId: number, clusterId: number, o: Partial<StorageNode> = {}): StorageNode {
  return {
    id,
    shardId,
    clusterId,
    machineId: 2,
    hostaddr: '10.0.0.2',
    port: 57000 + id * 4,
    userName: 'pgx',
    passwd: 'pgx_pwd',
    roWeight: 0,
    whenCreated: at(30),
    masterPriority: 1,
    status: 'active',
    cpuCores: 0,
    initialStorageGb: 0,
    maxStorageGb: 20,
    innodbBufferPoolMb: 1024,
    rocksdbBufferPoolMb: 0,
    extraProps: null,
    syncState: 'fsync',
    memberState: 'replica',
    replicaDelay: 0,
    backupNode: 'OFF',
    ...o,
  };
}

export function computeNode(id: number, clusterId: number, o: Partial<ComputeNode> = {}): ComputeNode {
  return {
    id,
    clusterId,
    name: `comp${id}`,
    hostaddr: '10.0.0.3',
    port: 47000 + id * 3,
    whenCreated: at(40),
    userName: 'abc',
    passwd: 'abc',
    status: 'active',
    machineId: 3,
    cpuCores: 8,
    maxMemMb: 4096,
    maxConns: 1000,
    extraProps: null,
    coldbackupPeriod: '01:00:00-02:00:00',
    ...o,
  };
}

export function manager(id: number, o: Partial<ManagerMember> = {}): ManagerMember {
  return { id, hostaddr: `10.0.1.${id}`, port: 58000, prometheusPort: 59010, memberState: 'replica', ...o };
}

export function metaNode(id: number, o: Partial<MetaNode> = {}): MetaNode {
  return {
    id,
    hostaddr: `10.0.2.${id}`,
    port: 57301,
    userName: 'pgx',
    passwd: 'pgx_pwd',
    masterPriority: 1,
    memberState: 'replica',
    syncState: 'fsync',
    degradeConfState: 'OFF',
    degradeRunState: 'OFF',
    replicaDelay: 0,
    degradeConfTime: 0,
    syncNum: 1,
    nodemgrBinPath: null,
    ...o,
  };
}

export function replicaMaster(id: number, o: Partial<ReplicaMaster> = {}): ReplicaMaster {
  return { id, clusterId: 1, nodeHost: `10.0.0.2_${57000 + id * 4}`, masterHost: '10.0.0.2_57004', masterUuid: 'aaaaaaaa-0000-0000-0000-000000000001', ...o };
}

export function job(id: number, o: Partial<Job> = {}): Job {
  return {
    id,
    jobId: null,
    relatedId: '0',
    jobType: 'create_cluster',
    status: 'done',
    memo: JSON.stringify({ error_code: '0', error_info: 'OK', cluster_id: '1' }),
    whenStarted: at(100) + 250,
    whenEnded: at(160) + 500,
    jobInfo: JSON.stringify({ version: '1.0', job_type: 'create_cluster', user_name: 'kunlun_test', paras: { shards: '2' } }),
    userName: 'kunlun_test',
    ...o,
  };
}

/** The topology "A" of the projection tests: one rbr cluster, 2 shards of 3 nodes, 2 compute nodes. */
export function topologyA(): Topology {
  return {
    metaHaMode: 'rbr',
    machines: [
      machine(2, { usedPorts: [57004, 57008, 57012, 57016, 57020, 57024], installingPorts: [] }),
      machine(3, { machineType: 'computer', usedPorts: [47003, 47006] }),
    ],
    clusters: [cluster(1)],
    shards: [shard(1, 1), shard(2, 1)],
    storageNodes: [
      storageNode(1, 1, 1, { memberState: 'source' }),
      storageNode(2, 1, 1),
      storageNode(3, 1, 1, { syncState: 'async', replicaDelay: 3 }),
      storageNode(4, 2, 1, { memberState: 'source' }),
      storageNode(5, 2, 1),
      storageNode(6, 2, 1, { status: 'manual_stop', backupNode: 'ON' }),
    ],
    computeNodes: [computeNode(1, 1), computeNode(2, 1)],
    managers: [manager(1, { memberState: 'source' }), manager(2), manager(3)],
    metaNodes: [metaNode(1, { memberState: 'source' }), metaNode(2), metaNode(3)],
    replicaMasters: [replicaMaster(1, { nodeHost: '10.0.0.2_57008' }), replicaMaster(2, { nodeHost: '10.0.0.2_57012' })],
    backupStorages: [],
    jobs: [
      job(1),
      job(2, { jobType: 'add_comps', status: 'ongoing', memo: JSON.stringify({ computer_state: 'dispatch' }), whenEnded: null }),
      job(3, { jobType: 'shard_coldbackup', status: 'not_started', memo: null, whenEnded: null, userName: 'internal_user' }),
    ],
  };
}
