// What the core hands to its driver, and what it reports about itself.
import type { ConfState, Entry, HardState, MemberId, Message, ReadState, Snapshot } from '../types.js';
import type { ProgressState } from './progress.js';

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface SoftState {
  leader: MemberId | null;
  role: Role;
}

/**
 * One batch of work for the driver. Do it in this order, then call advance(ready):
 *  1. send `messages` (may overlap with step 2: a leader may send appends before its own write);
 *  2. write `snapshot` (if any), then append `entries` (replacing any stored entries from
 *     entries[0].index on), then `hardState`; fsync when `mustSync`;
 *  3. send `messagesAfterPersist` (votes and append acknowledgements: they promise durable state);
 *  4. apply `snapshot` to the state machine, then `committedEntries` in order (conf entries too: the
 *     core applies membership changes itself at advance());
 *  5. serve reads in `readStates` once the state machine has applied their index.
 * Only one Ready is out at a time; step()/tick()/propose() may be called while it is being handled.
 */
export interface Ready {
  /** Present when leader or role changed since the last Ready. */
  softState?: SoftState;
  /** Present when term, vote or commit changed since the last Ready. */
  hardState?: HardState;
  snapshot?: Snapshot;
  entries: Entry[];
  committedEntries: Entry[];
  messages: Message[];
  messagesAfterPersist: Message[];
  readStates: ReadState[];
  /** The write must be fsynced: entries, or a term or vote change (a commit-only change need not). */
  mustSync: boolean;
}

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  recentActive: boolean;
  isLearner: boolean;
  inflight: number;
}

export interface Status {
  id: MemberId;
  term: number;
  vote: MemberId | null;
  role: Role;
  leader: MemberId | null;
  commit: number;
  applied: number;
  firstIndex: number;
  lastIndex: number;
  conf: ConfState;
  leadTransferee: MemberId | null;
  /** Leader only: every member's replication progress. */
  progress?: Record<MemberId, ProgressStatus>;
}

/** Where a proposal landed: it is committed when the entry at `index` with this `term` is applied;
 *  if another term's entry is applied at `index`, the proposal was lost. */
export interface ProposalId {
  index: number;
  term: number;
}
