// Errors the driver adds to the core's (NotLeaderError and friends are re-exported from the core).

import { NotLeaderError, RaftError } from '../core/errors.js';
import type { MemberId } from '../types.js';

/**
 * This member stopped being leader before the entry was committed. The entry may still be committed
 * by the next leader, so the outcome is unknown: a retry must tolerate a duplicate.
 */
export class LeadershipLostError extends NotLeaderError {
  override name = 'LeadershipLostError';
  readonly outcomeUnknown = true;
  constructor(leader: MemberId | null, index: number) {
    super(leader);
    this.message = `leadership lost before entry ${index} was committed (outcome unknown); the leader is now ${leader ?? 'unknown'}`;
  }
}

/** The node was stopped (or failed) while the request was pending. */
export class NodeStoppedError extends RaftError {
  override name = 'NodeStoppedError';
}

/** A linearizable read could not be confirmed in time (no quorum, or the leader changed). */
export class ReadIndexTimeoutError extends RaftError {
  override name = 'ReadIndexTimeoutError';
}
