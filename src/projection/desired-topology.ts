// What kunlun_metadata_db must hold, derived from the world: the world decides which rows exist and
// the columns it knows (ids, names, hosts, ports, statuses, roles, the leader); every other column of
// an existing row is kept as the table has it, so columns the manager does not model survive. Rows
// with ids the manager never handed out belong to other tools and are kept untouched.
import type { WorldView, NodeView, ClusterView, ShardView, CompView, JobView, ManagerView, MachineView } from '../actors/index.js';
import type { Cluster, ComputeNode, Job, Machine, ManagerMember, ReplicaMaster, Shard, StorageNode, Topology } from '../metadata/index.js';
import { jobInfoText, jobMemoText, jobUserName } from '../metadata/index.js';
import { TABLE_MOVE_JOB_TYPE } from '../metadata/table-move-jobs.js';
import { skippedPortsShown } from '../actors/views.js';
import { installLogRows } from './install-log-rows.js';
import { backupStorageRows } from './backup-storage-rows.js';
import { coldBackupRows } from './coldbackup-rows.js';

export interface Secrets {
  /** The compute nodes' superuser of a cluster (comp_nodes.user_name/passwd). */
  comp(clusterId: number): { user: string | null; password: string | null } | null;
  /** The account written in shard_nodes.user_name/passwd (the manager's account on storage nodes). */
  storage: { user: string; password: string };
}

const NODE_STATUS_DB: Record<string, StorageNode['status']> = {
  creating: 'creating', inactive: 'inactive', active: 'active', deleted: 'deleted', manual_stop: 'manual_stop',
};

export function desiredTopology(v: WorldView, current: Topology, secrets: Secrets, now: number): Topology {
  const next: Record<string, number> = { ...v.next };
  const owned = (kind: string, id: number, live: Set<number>) => live.has(id) || id < (next[kind] ?? 1);

  // ---- machines: server_nodes rows are (host, machine_type); ids are the table's, new rows get new ids.
  // node_mgr registers its host itself: a bare row (no machine_type) with its nodemgr_* columns and a
  // zeroed server_nodes_stats row under the same id. The host's first role takes that row over (so
  // the stats row and node_mgr's columns stay with it) instead of a second row beside it.
  const machines: Machine[] = [];
  const byHostRole = new Map(current.machines.map((m) => [`${m.hostaddr}|${m.machineType ?? ''}`, m]));
  let nextMachineId = Math.max(1, ...current.machines.map((m) => m.id)) + 1;
  const taken = new Set<number>();
  for (const m of v.machines) {
    const hostRows = current.machines.filter((r) => r.hostaddr === m.host);
    for (const role of ['storage', 'computer'] as const) {
      const spec = m.roles[role];
      if (!spec) continue;
      const cur = byHostRole.get(`${m.host}|${role}`) ?? hostRows.find((r) => r.machineType === null && !taken.has(r.id));
      if (cur) taken.add(cur.id);
      // What node_mgr registered for the host holds for each of its rows (the original copies it too).
      const agent = hostRows.find((r) => r.nodemgrBinPath !== null || r.nodemgrTcpPort !== null || r.nodemgrPrometheusPort !== null);
      machines.push(machineRow(m, role, spec, cur, agent, cur?.id ?? nextMachineId++, now));
    }
  }
  // Rows node_mgr registers itself and no role took over, and hosts the world never had, stay as they
  // are; roles the world had and removed are deleted.
  for (const m of current.machines) {
    if (taken.has(m.id)) continue;
    if (m.machineType === null || !v.machines.some((w) => w.host === m.hostaddr)) machines.push(m);
  }
  const machineId = (host: string, role: 'storage' | 'computer'): number =>
    machines.find((m) => m.hostaddr === host && m.machineType === role)?.id ?? 1;

  // ---- clusters, shards, storage nodes, compute nodes
  const clusters = merge(current.clusters, v.clusters, 'cluster', owned, (c, cur) => clusterRow(c, cur, () => clusterMemo(c, v, secrets)));
  const shards = merge(current.shards, v.shards, 'shard', owned, (s, cur) => shardRow(s, cur));
  const storageNodes = merge(current.storageNodes, v.nodes, 'node', owned, (n, cur) =>
    nodeRow(n, cur, secrets.storage, machineId(n.hostaddr, 'storage')),
  );
  const computeNodes = merge(current.computeNodes, v.comps, 'comp', owned, (k, cur) =>
    compRow(k, cur, secrets.comp(k.cluster), machineId(k.hostaddr, 'computer')),
  );

  // ---- node_map_master: every replica of an rbr shard and its source, "ip_port".
  const nodes = new Map(v.nodes.map((n) => [n.id, n]));
  const rbrClusters = new Set(v.clusters.filter((c) => c.haMode === 'rbr').map((c) => c.id));
  const curMaps = new Map(current.replicaMasters.map((r) => [`${r.clusterId}|${r.nodeHost}`, r]));
  let nextMapId = Math.max(0, ...current.replicaMasters.map((r) => r.id)) + 1;
  const replicaMasters: ReplicaMaster[] = [];
  for (const s of v.shards) {
    if (!rbrClusters.has(s.cluster) || s.primary === null) continue;
    const p = nodes.get(s.primary);
    if (!p) continue;
    for (const id of s.nodes) {
      const n = nodes.get(id);
      if (!n || n.id === p.id) continue;
      const nodeHost = `${n.hostaddr}_${n.port}`;
      const cur = curMaps.get(`${s.cluster}|${nodeHost}`);
      replicaMasters.push({ id: cur?.id ?? nextMapId++, clusterId: s.cluster, nodeHost, masterHost: `${p.hostaddr}_${p.port}`, masterUuid: cur?.masterUuid ?? null });
    }
  }
  // The metadata shard's own map rows (cluster -1) are not the world's.
  for (const r of current.replicaMasters) if (!rbrClusters.has(r.clusterId) && !v.clusters.some((c) => c.id === r.clusterId)) replicaMasters.push(r);

  // ---- manager members (cluster_mgr_nodes): the leader is `source`.
  const curMgr = new Map(current.managers.map((m) => [`${m.hostaddr}:${m.port}`, m]));
  let nextMgrId = Math.max(0, ...current.managers.map((m) => m.id)) + 1;
  const managers: ManagerMember[] = v.managers.map((m: ManagerView) => {
    const cur = curMgr.get(`${m.host}:${m.httpPort}`);
    return { id: cur?.id ?? nextMgrId++, hostaddr: m.host, port: m.httpPort, prometheusPort: m.prometheusPort ?? m.httpPort, memberState: v.leader?.member === m.id ? 'source' : 'replica' };
  });

  // ---- jobs: rows are inserted and updated, never deleted (history).
  const curJobs = new Map(current.jobs.map((j) => [j.id, j]));
  const jobs: Job[] = v.jobs.map((j) => jobRow(j, curJobs.get(j.id)));

  const backupStorages = backupStorageRows(v.backupStorages, current.backupStorages);
  return {
    metaHaMode: current.metaHaMode, machines, clusters, shards, storageNodes, computeNodes, managers, metaNodes: current.metaNodes, replicaMasters, jobs,
    backupStorages,
    installLogs: installLogRows(v.jobs),
    coldBackups: coldBackupRows(v.jobs, v.backupStorages, backupStorages),
  };
}

function merge<R extends { id: number }, W extends { id: number }>(
  current: R[],
  world: W[],
  kind: string,
  owned: (kind: string, id: number, live: Set<number>) => boolean,
  row: (w: W, cur: R | undefined) => R,
): R[] {
  const cur = new Map(current.map((r) => [r.id, r]));
  const live = new Set(world.map((w) => w.id));
  const out = world.map((w) => row(w, cur.get(w.id)));
  for (const r of current) if (!owned(kind, r.id, live)) out.push(r);
  return out;
}

function machineRow(
  m: MachineView,
  role: 'storage' | 'computer',
  spec: NonNullable<MachineView['roles']['storage']>,
  cur: Machine | undefined,
  agent: Machine | undefined,
  id: number,
  now: number,
): Machine {
  return {
    id,
    hostaddr: m.host,
    dcId: cur?.dcId ?? null,
    rackId: spec.rackId,
    compDatadir: spec.compDatadir,
    datadir: spec.datadir,
    logdir: spec.logdir,
    walLogDir: spec.walLogDir,
    totalMemMb: spec.totalMemMB,
    totalCpuCores: spec.totalCpuCores,
    svcSince: cur?.svcSince ?? now,
    nodemgrPort: spec.agentPort ?? cur?.nodemgrPort ?? agent?.nodemgrPort ?? null,
    nodemgrBinPath: cur?.nodemgrBinPath ?? agent?.nodemgrBinPath ?? null,
    nodemgrTmpDataAbsPath: cur?.nodemgrTmpDataAbsPath ?? agent?.nodemgrTmpDataAbsPath ?? null,
    extraProps: cur?.extraProps ?? null,
    nodeStats: m.stats === 'unknown' ? (cur?.nodeStats ?? 'running') : m.stats,
    nodemgrTcpPort: cur?.nodemgrTcpPort ?? agent?.nodemgrTcpPort ?? null,
    nodemgrPrometheusPort: cur?.nodemgrPrometheusPort ?? agent?.nodemgrPrometheusPort ?? null,
    machineType: role,
    portRange: `${spec.portRange.lo}-${spec.portRange.hi}`,
    usedPorts: spec.usedPorts,
    installingPorts: cur?.installingPorts ?? [],
  };
}

function clusterRow(c: ClusterView, cur: Cluster | undefined, memo: () => string | null): Cluster {
  return {
    id: c.id,
    name: c.name,
    nickName: c.nickName || (cur?.nickName ?? null),
    owner: c.owner || (cur?.owner ?? 'abc'),
    ddlLogTblname: cur?.ddlLogTblname ?? `ddl_ops_log_${c.name}`,
    whenCreated: cur?.whenCreated ?? c.createdAt,
    business: c.business || (cur?.business ?? 'kunlun'),
    // The memo is written once, as the original's create_cluster does when the cluster is complete,
    // and then kept as the table has it (tools and XPanel read it). An adopted cluster's stays as found.
    memo: c.adopted ? (cur?.memo ?? (c.memo === null ? null : JSON.stringify(c.memo))) : originalMemo(cur?.memo) ?? memo(),
    // The table knows inuse and deleted; the original inserts the row as inuse when creation starts
    // and deletes it with the cluster, so a cluster being created or deleted is inuse.
    status: 'inuse',
    haMode: c.haMode,
  };
}

/** A memo with the original's keys, or null (none yet, or one in another shape, to be written again). */
function originalMemo(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  try {
    const m = JSON.parse(text) as unknown;
    return m !== null && typeof m === 'object' && 'ha_mode' in m ? text : null;
  } catch {
    return null;
  }
}

/**
 * db_clusters.memo as the original's create_cluster writes it once the cluster is complete
 * (cluster_mgr-api.md §4.3): the request's sizing, every value a string. Null while the cluster is
 * being created: XPanel lists a cluster without a memo as not (yet) normal, as with the original.
 * fullsync_level (read by XPanel, sent by newer installers) is the shards' sync_num.
 */
function clusterMemo(c: ClusterView, v: WorldView, secrets: Secrets): string | null {
  if (c.status === 'creating') return null;
  const sizing = typeof c.memo === 'object' && c.memo !== null && !Array.isArray(c.memo) ? c.memo : {};
  const num = (k: string): string => String(typeof sizing[k] === 'number' ? sizing[k] : 0);
  const shards = v.shards.filter((s) => s.cluster === c.id);
  const cred = secrets.comp(c.id);
  return JSON.stringify({
    ha_mode: c.haMode,
    shards: String(shards.length),
    nodes: String(shards[0]?.nodes.length ?? 0),
    comps: String(v.comps.filter((k) => k.cluster === c.id).length),
    max_storage_size: num('maxStorageSizeGB'),
    max_connections: num('maxConnections'),
    cpu_cores: num('cpuCores'),
    computer_user: cred?.user ?? c.compUser ?? 'abc',
    computer_passwd: cred?.password ?? '',
    innodb_size: num('innodbSizeMB'),
    dbcfg: num('dbcfg'),
    fullsync_level: String(shards[0]?.syncNum ?? 1),
  });
}

function shardRow(s: ShardView, cur: Shard | undefined): Shard {
  return {
    id: s.id,
    clusterId: s.cluster,
    name: s.name,
    whenCreated: cur?.whenCreated ?? s.createdAt,
    numNodes: s.nodes.length,
    syncNum: s.syncNum,
    extraProps: cur?.extraProps ?? null,
    degradeConfState: cur?.degradeConfState ?? 'OFF',
    degradeRunState: cur?.degradeRunState ?? 'OFF',
    degradeConfTime: cur?.degradeConfTime ?? 0,
    status: 'inuse',
    coldbackupPeriod: cur?.coldbackupPeriod ?? null,
  };
}

function nodeRow(n: NodeView, cur: StorageNode | undefined, acct: { user: string; password: string }, machineId: number): StorageNode {
  return {
    id: n.id,
    shardId: n.shard,
    clusterId: n.cluster,
    machineId: cur?.machineId ?? machineId,
    hostaddr: n.hostaddr,
    port: n.port,
    userName: cur?.userName ?? acct.user,
    passwd: cur?.passwd ?? acct.password,
    roWeight: cur?.roWeight ?? 0,
    whenCreated: cur?.whenCreated ?? n.createdAt,
    masterPriority: n.masterPriority,
    status: NODE_STATUS_DB[n.status] ?? 'active',
    cpuCores: cur?.cpuCores ?? 0,
    initialStorageGb: cur?.initialStorageGb ?? 0,
    maxStorageGb: cur?.maxStorageGb ?? 0,
    innodbBufferPoolMb: n.innodbBufferPoolMB || (cur?.innodbBufferPoolMb ?? 0),
    rocksdbBufferPoolMb: cur?.rocksdbBufferPoolMb ?? 0,
    extraProps: cur?.extraProps ?? null,
    syncState: n.syncState,
    memberState: n.memberState,
    replicaDelay: cur?.replicaDelay ?? 0,
    backupNode: cur?.backupNode ?? 'OFF',
  };
}

function compRow(k: CompView, cur: ComputeNode | undefined, cred: { user: string | null; password: string | null } | null, machineId: number): ComputeNode {
  return {
    id: k.id,
    clusterId: k.cluster,
    name: k.name,
    hostaddr: k.hostaddr,
    port: k.port,
    whenCreated: cur?.whenCreated ?? k.createdAt,
    userName: cur?.userName ?? cred?.user ?? 'abc',
    passwd: cur?.passwd ?? cred?.password ?? '',
    status: NODE_STATUS_DB[k.status] ?? 'active',
    machineId: cur?.machineId ?? machineId,
    cpuCores: cur?.cpuCores ?? 0,
    maxMemMb: cur?.maxMemMb ?? 0,
    maxConns: cur?.maxConns ?? 0,
    extraProps: cur?.extraProps ?? null,
    coldbackupPeriod: cur?.coldbackupPeriod ?? null,
  };
}

function jobRow(j: JobView, cur: Job | undefined): Job {
  const memo: Record<string, unknown> = {
    ...(typeof j.result === 'object' && j.result !== null && !Array.isArray(j.result) ? (j.result) : {}),
    error_code: j.errorCode,
    error_info: j.errorInfo,
  };
  if (j.step) memo.step = j.step.name;
  if (j.skippedPorts.length > 0) memo.skipped_ports = skippedPortsShown(j);
  return {
    id: j.id,
    jobId: cur?.jobId ?? null,
    // An expand_cluster's table_move_jobs row has the job's id (src/metadata/table-move-jobs.ts).
    relatedId: j.jobType === TABLE_MOVE_JOB_TYPE ? String(j.id) : (cur?.relatedId ?? '0'),
    jobType: j.jobType,
    status: j.status,
    memo: jobMemoText(memo),
    whenStarted: j.startedAt ?? j.createdAt,
    whenEnded: j.endedAt ?? (j.step ? j.step.startedAt : null),
    jobInfo: cur?.jobInfo ?? jobInfoText(j.envelope ?? j.request),
    userName: jobUserName(j),
  };
}
