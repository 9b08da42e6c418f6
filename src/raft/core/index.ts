// The I/O-free Raft core: see docs/raft.md.
export { RaftCore } from './raft.js';
export type { RaftConfig } from './config.js';
export type { Ready, SoftState, Role, Status, ProgressStatus, ProposalId } from './ready.js';
export type { ProgressState } from './progress.js';
export { MemoryLogStorage, emptySnapshot, type LogStorage, type InitialState } from './storage.js';
export { SeededRandom, type RandomSource } from './random.js';
export { encodeConfChange, decodeConfChange, applyConfChange, validateConfChange } from './confchange.js';
export {
  RaftError,
  NotLeaderError,
  ProposalDroppedError,
  ConfChangeRejectedError,
  TransferRejectedError,
  CompactedError,
  UnavailableError,
  SnapshotTemporarilyUnavailableError,
} from './errors.js';
export type {
  MemberId,
  Entry,
  EntryKind,
  HardState,
  ConfState,
  Snapshot,
  SnapshotMeta,
  Message,
  MessageType,
  ReadState,
  ConfChange,
} from '../types.js';
