// Every job type of the Emit API, each defined once (see src/jobs/definition.ts): the explicit list.
// HTTP validation and OpenAPI (src/http), the leader's command check (passed to checkCommand by the
// member), the job engine and docs/api.md's job list read it. Nothing registers itself on import.
import { JobDefinitions, type JobDefinition } from '../definition.js';
import { getClusterBackupsQuery, manualBackupClusterJob, shardColdBackupJob } from './backup.js';
import { createBackupStorageJob, deleteBackupStorageJob, getBackupStorageQuery, updateBackupStorageJob } from './backup-storage.js';
import { addNodesJob, addShardsJob, createClusterJob, deleteClusterJob, deleteNodeJob, deleteShardJob } from './clusters.js';
import { addCompsJob, deleteCompJob, internalAddCompsJob } from './comps.js';
import { controlInstanceJob } from './control-instance.js';
import { expandClusterJob, getExpandTableListQuery } from './expand.js';
import { createMachineJob, deleteMachineJob, updateMachineJob } from './machines.js';
import { manualSwitchJob } from './manual-switch.js';
import { QUERIES } from './queries.js';
import { raftMissionJob } from './raft-mission.js';
import { rbShardNodeJob, rebuildNodeJob } from './rebuild-node.js';
import { REFUSED } from './refused.js';
import { setVariableJob } from './set-variable.js';

const ALL: readonly JobDefinition[] = [
  createClusterJob,
  deleteClusterJob,
  addShardsJob,
  deleteShardJob,
  addCompsJob,
  internalAddCompsJob,
  deleteCompJob,
  addNodesJob,
  deleteNodeJob,
  createMachineJob,
  updateMachineJob,
  deleteMachineJob,
  controlInstanceJob,
  manualSwitchJob,
  rebuildNodeJob,
  rbShardNodeJob,
  raftMissionJob,
  setVariableJob,
  createBackupStorageJob,
  updateBackupStorageJob,
  deleteBackupStorageJob,
  getBackupStorageQuery,
  manualBackupClusterJob,
  shardColdBackupJob,
  getClusterBackupsQuery,
  expandClusterJob,
  getExpandTableListQuery,
  ...QUERIES,
  ...REFUSED,
];

export const JOB_DEFINITIONS = new JobDefinitions(ALL);
