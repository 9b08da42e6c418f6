// Errors that stop a member from starting: the operator must see which file and where.

/** A record in the middle of the WAL (or a snapshot file) is damaged; refusing to guess. */
export class CorruptionError extends Error {
  override readonly name = 'CorruptionError';
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`corrupt raft storage: ${file} at offset ${offset}: ${reason}`);
  }
}

/** The storage failed an earlier write or fsync; its on-disk state is unknown until restart. */
export class StorageFailedError extends Error {
  override readonly name = 'StorageFailedError';
  constructor(cause: unknown) {
    super(`raft storage failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

// The core decides by class what to do when an index is gone (send a snapshot) or not there yet, so
// storage throws the core's own classes.
export { CompactedError, UnavailableError } from '../core/errors.js';
