// The metadata shard: schema, topology model, reader (adoption input), projection (exactly once),
// idempotent audit appends, per-cluster commit/DDL log tables.
export * from './topology.js';
export { createSchema, schemaVersion, SchemaError, type SchemaOptions, type SchemaResult } from './schema.js';
export { SCHEMA_VERSION, TABLES, type TableSpec, type ColumnSpec, type KeySpec } from './schema-spec.js';
export { readTopology, type ReadOptions, type ReadResult } from './read.js';
export {
  projectTopology,
  getProjectionState,
  StaleTermError,
  type ProjectionPosition,
  type ProjectionState,
  type ProjectionResult,
  type ProjectOptions,
  type TableChange,
} from './write-topology.js';
export { validateTopology, topologyProblems, TopologyError, type TopologyProblem } from './validate.js';
export { excludeDependants, type Exclusions, type FailedRow } from './exclude.js';
export { ENTITY_MAPS, entityMap } from './codec.js';
export { connectWritableMeta, metaConnectOptions, type MetaConnectOptions } from './connect.js';
export { appendFailoverRow, AppendError, type FailoverRow, type AppendResult, type AppendOptions } from './append.js';
export { newJob, updateJob, jobInfoText, jobMemoText, jobUserName, readJobRow, ANONYMOUS_REQUEST, INTERNAL_USER, JOB_INFO_MAX_BYTES, type JobRow, type NewJob } from './jobs.js';
export {
  ensureClusterLogTables,
  ensureCommitLogPartition,
  dropCommitLogPartition,
  dropClusterLogTables,
  commitLogPartitions,
  ensureLogTablesFor,
  type EnsureLogTablesResult,
  type LogTableOptions,
} from './log-tables.js';
export { DEFAULT_DATABASE, commitLogTable, ddlLogTable, partitionName, IdentifierError } from './ident.js';
export {
  readDecision,
  claimAbort,
  pruneCommitLog,
  ClaimRefusedError,
  type TxnDecision,
  type CommitLogKey,
  type ClaimResult,
  type PruneOptions,
} from './commit-log.js';
