// src/actors: the XState machines of every aggregate, the World that applies the log to them, its
// snapshots, and command checking.
export { World, type ApplyResult, type CheckResult, type Committed } from './world.js';
export { checkCommand } from './commands/index.js';
export * from './commands/index.js';
export type * from './views.js';
export { recordsOf, retentionVictims, RETENTION_STEP, SHARD_BACKUP_JOB, type BackupRecord } from './backups.js';
export type { Counters, Leader, ProjectionFailure } from './state.js';
export { SnapshotError, SNAPSHOT_FORMAT } from './snapshot.js';
export { LOGICS } from './logics.js';
export type { PersistedSnapshot, AggregateLogic } from './runner.js';
export { serverMachine } from './machines/server.js';
export { clusterMachine } from './machines/cluster.js';
export { shardMachine } from './machines/shard.js';
export { storageNodeMachine } from './machines/storage-node.js';
export { computeNodeMachine } from './machines/compute-node.js';
export { jobMachine } from './machines/job.js';
export { managerMachine } from './machines/manager.js';
