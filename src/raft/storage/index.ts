// Durable Raft storage: WAL segments, snapshot files, and the in-memory view the core reads.
export { WalStorage, type WalStorageOptions } from './wal-storage.js';
export { Wal, DEFAULT_SEGMENT_BYTES, type SyncMode, type WalOptions, type WalReplay, type WalStats } from './wal.js';
export { CorruptionError, StorageFailedError, CompactedError, UnavailableError } from './errors.js';
export { silentLogger, type RaftLogger, type LogFn } from './logger.js';
export { crc32c } from './crc32c.js';
