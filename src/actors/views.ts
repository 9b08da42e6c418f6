// Read-only views of aggregates: statuses from the machine state, data from the context, secrets
// redacted. These are what the HTTP layer, reconcilers and the metadata projection read.
import type { Evidence } from '../events/catalog.js';
import { REDACTED } from '../events/redact.js';
import type { Json } from '../events/schema.js';
import type {
  Access,
  ClusterStatus,
  FenceMethod,
  HaMode,
  Health,
  InstanceStatus,
  JobStatus,
  MachineRole,
  MemberState,
  NodeStats,
  RejoinMethod,
  ShardStatus,
  SyncState,
} from '../events/vocab.js';
import { clusterStatus, compStatus, jobStatus, machineStats, nodeStates, shardStates } from './facts.js';
import { runnerOf } from './logics.js';
import type { BackupStorageCtx, BackupStorageSettings } from './machines/backup-storage.js';
import type { ClusterCtx } from './machines/cluster.js';
import type { CompCtx } from './machines/compute-node.js';
import type { JobCtx } from './machines/job.js';
import type { ManagerCtx } from './machines/manager.js';
import type { RoleSpec, ServerCtx } from './machines/server.js';
import type { FailoverOutcome, FailoverTask, ShardCtx } from './machines/shard.js';
import type { NodeCtx } from './machines/storage-node.js';
import type { Rec, WorldState } from './state.js';

const sorted = (s: Set<number> | undefined): number[] => (s === undefined ? [] : [...s].sort((a, b) => a - b));

export interface MachineView {
  host: string;
  roles: Partial<Record<MachineRole, RoleSpec & { usedPorts: number[] }>>;
  stats: NodeStats | 'unknown';
  statsAt: number | null;
  evidence: Evidence | null;
  changedAt: number;
}

export function machineView(w: WorldState, r: Rec<ServerCtx>): MachineView {
  const roles: MachineView['roles'] = {};
  for (const role of ['storage', 'computer'] as const) {
    const spec = r.c.roles[role];
    if (spec !== undefined) roles[role] = { ...spec, usedPorts: sorted(w.hostPorts.get(`${r.c.host}|${role}`)) };
  }
  return {
    host: r.c.host,
    roles,
    stats: machineStats(runnerOf('machine').value(r.s)) ?? 'unknown',
    statsAt: r.c.statsAt,
    evidence: r.c.evidence,
    changedAt: r.c.changedAt,
  };
}

export interface ClusterView {
  id: number;
  name: string;
  nickName: string;
  status: ClusterStatus;
  haMode: HaMode;
  owner: string;
  business: string;
  memo: Json;
  compUser: string | null;
  /** Always redacted here; see World.clusterSecret(). */
  compPassword: string | null;
  shards: number[];
  comps: number[];
  lockedBy: number | null;
  adopted: boolean;
  createdAt: number;
  changedAt: number;
}

export function clusterView(w: WorldState, r: Rec<ClusterCtx>): ClusterView {
  const c = r.c;
  return {
    id: c.id,
    name: c.name,
    nickName: c.nickName,
    status: clusterStatus(runnerOf('cluster').value(r.s)) as ClusterStatus,
    haMode: c.haMode,
    owner: c.owner,
    business: c.business,
    memo: c.memo,
    compUser: c.compUser,
    compPassword: c.compPassword === null ? null : REDACTED,
    shards: sorted(w.shardsOf.get(c.id)),
    comps: sorted(w.compsOf.get(c.id)),
    lockedBy: w.locks.get(`cluster/${c.id}`) ?? null,
    adopted: c.adopted,
    createdAt: c.createdAt,
    changedAt: c.changedAt,
  };
}

export interface ShardView {
  id: number;
  cluster: number;
  name: string;
  status: ShardStatus;
  ha: 'normal' | 'failing_over';
  syncNum: number;
  primary: number | null;
  primaryTerm: number;
  primaryAt: number | null;
  nodes: number[];
  /** Nodes of this shard that need a rebuild before they can replicate again. */
  needsRebuild: number[];
  task: FailoverTask | null;
  last: FailoverOutcome | null;
  noSwitch: { until: number; reason: string; at: number } | null;
  adopted: boolean;
  createdAt: number;
  changedAt: number;
}

export function shardView(w: WorldState, r: Rec<ShardCtx>): ShardView {
  const c = r.c;
  const st = shardStates(runnerOf('shard').value(r.s))!;
  const nodes = sorted(w.nodesOf.get(c.id));
  const nodeRunner = runnerOf('node');
  const needsRebuild = nodes.filter((id) => {
    const n = w.stores.node.get(id);
    return n !== undefined && nodeStates(nodeRunner.value(n.s))?.repair === 'needs_rebuild';
  });
  return {
    id: c.id,
    cluster: c.cluster,
    name: c.name,
    status: st.lifecycle,
    ha: st.ha,
    syncNum: c.syncNum,
    primary: c.primary,
    primaryTerm: c.primaryTerm,
    primaryAt: c.primaryAt,
    nodes,
    needsRebuild,
    task: c.task,
    last: c.last,
    noSwitch: c.noSwitch,
    adopted: c.adopted,
    createdAt: c.createdAt,
    changedAt: c.changedAt,
  };
}

export interface NodeView {
  id: number;
  cluster: number;
  shard: number;
  hostaddr: string;
  port: number;
  /** shard_nodes.status */
  status: InstanceStatus;
  /** shard_nodes.member_state */
  memberState: MemberState;
  access: Access;
  health: Health | 'unknown';
  repair: 'ok' | 'fenced' | 'needs_rebuild';
  source: number | null;
  syncState: SyncState;
  masterPriority: number;
  innodbBufferPoolMB: number;
  healthAt: number | null;
  evidence: Evidence | null;
  fence: { method: FenceMethod; task: number | null; at: number; evidence: Evidence } | null;
  rebuild: { reason: string; at: number; evidence: Evidence } | null;
  rejoin: { source: number; method: RejoinMethod; at: number } | null;
  adopted: boolean;
  createdAt: number;
  changedAt: number;
}

export function nodeView(_w: WorldState, r: Rec<NodeCtx>): NodeView {
  const c = r.c;
  const st = nodeStates(runnerOf('node').value(r.s))!;
  return {
    id: c.id,
    cluster: c.cluster,
    shard: c.shard,
    hostaddr: c.hostaddr,
    port: c.port,
    status: st.lifecycle,
    memberState: st.role,
    access: st.access,
    health: st.health,
    repair: st.repair,
    source: c.source,
    syncState: c.syncState,
    masterPriority: c.masterPriority,
    innodbBufferPoolMB: c.innodbBufferPoolMB,
    healthAt: c.healthAt,
    evidence: c.evidence,
    fence: c.fence,
    rebuild: c.rebuild,
    rejoin: c.rejoin,
    adopted: c.adopted,
    createdAt: c.createdAt,
    changedAt: c.changedAt,
  };
}

export interface CompView {
  id: number;
  cluster: number;
  name: string;
  hostaddr: string;
  port: number;
  status: InstanceStatus;
  adopted: boolean;
  createdAt: number;
  changedAt: number;
}

export function compView(_w: WorldState, r: Rec<CompCtx>): CompView {
  const c = r.c;
  return {
    id: c.id,
    cluster: c.cluster,
    name: c.name,
    hostaddr: c.hostaddr,
    port: c.port,
    status: compStatus(runnerOf('comp').value(r.s)) as InstanceStatus,
    adopted: c.adopted,
    createdAt: c.createdAt,
    changedAt: c.changedAt,
  };
}

/** A job's context as the API shows it: its status, and the error under the names clients read. */
export type JobView = Omit<JobCtx, 'code' | 'info'> & { status: JobStatus; errorCode: number; errorInfo: string };

export function jobView(_w: WorldState, r: Rec<JobCtx>): JobView {
  const c = r.c;
  return {
    id: c.id,
    jobType: c.jobType,
    status: jobStatus(runnerOf('job').value(r.s)),
    request: c.request,
    // A job restored from a snapshot taken before envelopes were kept has none.
    envelope: c.envelope ?? null,
    cluster: c.cluster,
    parent: c.parent,
    lock: c.lock,
    user: c.user,
    system: c.system,
    createdAt: c.createdAt,
    startedAt: c.startedAt,
    endedAt: c.endedAt,
    step: c.step,
    progress: c.progress,
    steps: c.steps,
    // A job restored from a snapshot taken before ports could be skipped has no list.
    skippedPorts: c.skippedPorts ?? [],
    instanceTasks: c.instanceTasks ?? [],
    errorCode: c.code,
    errorInfo: c.info,
    result: c.result,
  };
}

/** The ports a job's instances could not use, as get_status and the job's metadata row show them. */
export function skippedPortsShown(j: JobView): { instance: string; hostaddr: string; port: number; reason: string }[] {
  return j.skippedPorts.map((s) => ({ instance: s.instance, hostaddr: s.hostaddr, port: s.port, reason: s.reason }));
}

export interface ManagerView {
  id: string;
  host: string;
  raftPort: number;
  httpPort: number;
  prometheusPort: number | null;
  /** cluster_mgr_nodes.member_state: the current leader is `source`. */
  memberState: MemberState;
  electedTerm: number | null;
  electedAt: number | null;
  joinedAt: number;
}

export function managerView(w: WorldState, r: Rec<ManagerCtx>): ManagerView {
  const c = r.c;
  return {
    id: c.id,
    host: c.host,
    raftPort: c.raftPort,
    httpPort: c.httpPort,
    prometheusPort: c.prometheusPort,
    memberState: w.leader?.member === c.id ? 'source' : 'replica',
    electedTerm: c.electedTerm,
    electedAt: c.electedAt,
    joinedAt: c.joinedAt,
  };
}

/** A backup storage: its kind and settings (S3 credentials only as where to find them). */
export interface BackupStorageView extends BackupStorageSettings {
  name: string;
  createdAt: number;
  changedAt: number;
}

export function backupStorageView(_w: WorldState, r: Rec<BackupStorageCtx>): BackupStorageView {
  return { ...r.c };
}

export interface WorldView {
  applied: number;
  seq: number;
  head: string;
  next: WorldState['next'];
  leader: WorldState['leader'];
  /** The metadata projection: rows of kunlun_metadata_db the leader cannot write (left as they are). */
  projection: { failedRows: WorldState['projectionFailures'] };
  machines: MachineView[];
  clusters: ClusterView[];
  shards: ShardView[];
  nodes: NodeView[];
  comps: CompView[];
  jobs: JobView[];
  managers: ManagerView[];
  backupStorages: BackupStorageView[];
}
