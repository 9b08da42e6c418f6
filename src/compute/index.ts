// Compute-node control (kunlun-server; PostgreSQL stands in): connections, the cluster's user, and the
// shard topology each node routes by, kept in sync by a leader-only reconciler.
export { connectComp, withComp, CompConnectError, type CompEndpoint, type WithCompOptions } from './connect.js';
export { ensureClusterUser, type UserChange } from './user.js';
export { scramVerifier, scramMatches } from './scram.js';
export {
  compTopology,
  readCompTopology,
  syncCompTopology,
  type CompMeta,
  type CompShard,
  type CompShardNode,
  type CompTopology,
  type SyncFence,
  type SyncResult,
} from './topology.js';
export { ComputeTopologyReconciler, type ComputeRuntime } from './reconciler.js';
export { placeComps, COMP_PORTS, type Slot } from './placement.js';
export { ensureCompInstalled, ensureCompUninstalled, instanceOn, CompInstallError, type CompInstall } from './install.js';
