// The instance launcher: real MariaDB, PostgreSQL and NATS servers in directories of their own.
export { MariaDbInstance, ensureTemplate, NO_ASYNC_FALLBACK_TIMEOUT_MS, type MariaDbOptions } from './mariadb.js';
export { PostgresInstance, type PostgresOptions } from './postgres.js';
export { NatsInstance, type NatsOptions } from './nats.js';
export { startShard, wireShard, type LaunchedShard, type ShardOptions } from './shard.js';
export { ManagedProcess, killAllTied, stopAllTied, waitUntil } from './managed-process.js';
export { ephemeralPortRange, freePort, freePorts, portBindable, portOpen, rangeOverlap, type PortRange } from './ports.js';
export { claimPortBlock, PORT_BLOCK_DIR, releaseStalePortBlocks, type PortBlock } from './port-block.js';
export { makeRunDir } from './run-dir.js';
export { ServerInstance } from './server-instance.js';
