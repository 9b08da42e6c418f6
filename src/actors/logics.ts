// The aggregate kinds, their machines and contexts, and one Runner each (a pure cache, shared).
import type { AggKind } from '../events/envelope.js';
import { backupStorageLogic, type BackupStorageCtx } from './machines/backup-storage.js';
import { clusterLogic, type ClusterCtx } from './machines/cluster.js';
import { computeNodeLogic, type CompCtx } from './machines/compute-node.js';
import { jobLogic, type JobCtx } from './machines/job.js';
import { managerLogic, type ManagerCtx } from './machines/manager.js';
import { serverLogic, type ServerCtx } from './machines/server.js';
import { shardLogic, type ShardCtx } from './machines/shard.js';
import { storageNodeLogic, type NodeCtx } from './machines/storage-node.js';
import { Runner, type AggregateLogic } from './runner.js';

export interface Ctxs {
  machine: ServerCtx;
  cluster: ClusterCtx;
  shard: ShardCtx;
  node: NodeCtx;
  comp: CompCtx;
  job: JobCtx;
  manager: ManagerCtx;
  backup_storage: BackupStorageCtx;
}

/** Hosts, member and storage names are strings; everything the leader numbers is a number. */
export type KeyOf<K extends AggKind> = K extends 'machine' | 'manager' | 'backup_storage' ? string : number;

export const LOGICS = {
  machine: serverLogic,
  cluster: clusterLogic,
  shard: shardLogic,
  node: storageNodeLogic,
  comp: computeNodeLogic,
  job: jobLogic,
  manager: managerLogic,
  backup_storage: backupStorageLogic,
} as const;

type AnyRunner = Runner<unknown, { type: string }>;
let runners: Record<AggKind, AnyRunner> | null = null;

/** Runners memoize pure transitions, so one set serves every World in the process. */
export function runnerOf<K extends AggKind>(kind: K): Runner<Ctxs[K], { type: string }> {
  if (runners === null) {
    const make = (l: AggregateLogic<never, never>): AnyRunner =>
      new Runner(l);
    runners = {
      machine: make(LOGICS.machine as never),
      cluster: make(LOGICS.cluster as never),
      shard: make(LOGICS.shard as never),
      node: make(LOGICS.node as never),
      comp: make(LOGICS.comp as never),
      job: make(LOGICS.job as never),
      manager: make(LOGICS.manager as never),
      backup_storage: make(LOGICS.backup_storage as never),
    };
  }
  return runners[kind] as unknown as Runner<Ctxs[K], { type: string }>;
}
