// Typed errors thrown by the core's request methods (propose, proposeConfChange, transferLeadership,
// readIndex) and by log storage. A request that throws changed nothing.
import type { MemberId } from '../types.js';

export class RaftError extends Error {
  override name = 'RaftError';
}

/** This member cannot take the request; `leader` is where to send it (null when no leader is known). */
export class NotLeaderError extends RaftError {
  override name = 'NotLeaderError';
  constructor(
    readonly leader: MemberId | null,
    /** `transferring`: this member is leader but hands leadership to `leader`, so it takes no proposals. */
    readonly reason: 'not-leader' | 'transferring' = 'not-leader',
  ) {
    super(
      reason === 'transferring'
        ? `leadership is being transferred to ${leader ?? '?'}; retry there`
        : leader === null
          ? 'not the leader, and no leader is known'
          : `not the leader; the leader is ${leader}`,
    );
  }
}

/** The leader refuses a proposal it could take in principle (e.g. too many uncommitted bytes). */
export class ProposalDroppedError extends RaftError {
  override name = 'ProposalDroppedError';
}

/** A membership change that is invalid now (another one pending, not a member, learner not caught up…). */
export class ConfChangeRejectedError extends RaftError {
  override name = 'ConfChangeRejectedError';
}

/** A leadership transfer to a member that cannot take it (not a voter). */
export class TransferRejectedError extends RaftError {
  override name = 'TransferRejectedError';
}

/** Storage: the requested index is before the first kept entry (it is in the snapshot). */
export class CompactedError extends RaftError {
  override name = 'CompactedError';
}

/** Storage: the requested index is after the last entry. */
export class UnavailableError extends RaftError {
  override name = 'UnavailableError';
}

/** Storage: the snapshot is being produced; the leader will retry later. */
export class SnapshotTemporarilyUnavailableError extends RaftError {
  override name = 'SnapshotTemporarilyUnavailableError';
}
