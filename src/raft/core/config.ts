// Settings of one core. Times are in ticks: the driver decides how long a tick is.
import type { MemberId } from '../types.js';
import type { RandomSource } from './random.js';
import type { LogStorage } from './storage.js';

export interface RaftConfig {
  id: MemberId;
  storage: LogStorage;
  /** Randomizes election timeouts. Inject a seeded source in tests. */
  random: RandomSource;
  /** A follower that hears nothing from a leader for [electionTick, 2*electionTick) ticks campaigns. */
  electionTick?: number;
  /** A leader sends heartbeats every heartbeatTick ticks. Must be < electionTick. */
  heartbeatTick?: number;
  /** Ask for pre-votes before a real election, so a member that cannot win does not raise terms. */
  preVote?: boolean;
  /** A leader that has not heard from a quorum within an election timeout steps down, and members that
   *  hear from a leader refuse to vote for others during that time (leader lease). */
  checkQuorum?: boolean;
  /** Payload bytes per append message (one entry always goes, however big). */
  maxSizePerMsg?: number;
  /** Appends in flight per follower in replicate state. */
  maxInflightMsgs?: number;
  /** Payload bytes in flight per follower; 0: no limit. */
  maxInflightBytes?: number;
  /** Payload bytes of committed entries handed out in one Ready. */
  maxCommittedSizePerReady?: number;
  /** Payload bytes the leader holds uncommitted before refusing proposals; 0: no limit. */
  maxUncommittedEntriesSize?: number;
  /** Ticks a follower may stay in snapshot state before the leader gives the snapshot up as lost. */
  snapshotRetryTicks?: number;
  /** A learner is promoted only when its acknowledged index is at most this far behind the commit. */
  maxPromotionLag?: number;
  /** Index the state machine has applied already (default: the storage's snapshot index). The
   *  storage's initial conf must then be the membership as of that index. */
  applied?: number;
}

export interface ResolvedConfig {
  id: MemberId;
  storage: LogStorage;
  random: RandomSource;
  electionTick: number;
  heartbeatTick: number;
  preVote: boolean;
  checkQuorum: boolean;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  maxInflightBytes: number;
  maxCommittedSizePerReady: number;
  maxUncommittedEntriesSize: number;
  snapshotRetryTicks: number;
  maxPromotionLag: number;
  applied: number;
}

export function resolveConfig(c: RaftConfig): ResolvedConfig {
  const electionTick = c.electionTick ?? 10;
  const heartbeatTick = c.heartbeatTick ?? 1;
  const r: ResolvedConfig = {
    id: c.id,
    storage: c.storage,
    random: c.random,
    electionTick,
    heartbeatTick,
    preVote: c.preVote ?? true,
    checkQuorum: c.checkQuorum ?? true,
    maxSizePerMsg: c.maxSizePerMsg ?? 1024 * 1024,
    maxInflightMsgs: c.maxInflightMsgs ?? 256,
    maxInflightBytes: c.maxInflightBytes ?? 0,
    maxCommittedSizePerReady: c.maxCommittedSizePerReady ?? 8 * 1024 * 1024,
    maxUncommittedEntriesSize: c.maxUncommittedEntriesSize ?? 0,
    snapshotRetryTicks: c.snapshotRetryTicks ?? electionTick * 2,
    maxPromotionLag: c.maxPromotionLag ?? 1000,
    applied: c.applied ?? 0,
  };
  if (typeof r.id !== 'string' || r.id === '') throw new Error('raft config: id must be a non-empty string');
  const positive: (keyof ResolvedConfig)[] = [
    'electionTick',
    'heartbeatTick',
    'maxSizePerMsg',
    'maxInflightMsgs',
    'maxCommittedSizePerReady',
    'snapshotRetryTicks',
  ];
  for (const k of positive) {
    const v = r[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new Error(`raft config: ${k} must be a positive integer`);
    }
  }
  if (r.heartbeatTick >= r.electionTick) throw new Error('raft config: heartbeatTick must be < electionTick');
  for (const k of ['maxInflightBytes', 'maxUncommittedEntriesSize', 'maxPromotionLag', 'applied'] as const) {
    if (!Number.isInteger(r[k]) || r[k] < 0) throw new Error(`raft config: ${k} must be an integer >= 0`);
  }
  return r;
}
