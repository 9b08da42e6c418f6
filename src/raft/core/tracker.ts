// Membership and the leader's per-member progress; quorum arithmetic over the voters.
import type { ConfState, MemberId } from '../types.js';
import { Progress } from './progress.js';

export type VoteResult = 'won' | 'lost' | 'pending';

export class Tracker {
  voters = new Set<MemberId>();
  learners = new Set<MemberId>();
  readonly progress = new Map<MemberId, Progress>();
  private votes = new Map<MemberId, boolean>();

  constructor(
    private readonly maxInflight: number,
    private readonly maxInflightBytes: number,
  ) {}

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  isMember(id: MemberId): boolean {
    return this.voters.has(id) || this.learners.has(id);
  }

  /** Exactly one voter: it may commit and serve reads on its own. */
  isSingleton(): boolean {
    return this.voters.size === 1;
  }

  confState(): ConfState {
    return { voters: [...this.voters].sort(), learners: [...this.learners].sort() };
  }

  /** Replaces the membership; keeps the progress of members that stay. */
  setConf(conf: ConfState, nextIndex: number): void {
    this.voters = new Set(conf.voters);
    this.learners = new Set(conf.learners);
    for (const id of [...this.progress.keys()]) {
      if (!this.isMember(id)) this.progress.delete(id);
    }
    for (const id of [...this.voters, ...this.learners]) {
      const learner = this.learners.has(id);
      const pr = this.progress.get(id);
      if (pr) {
        pr.isLearner = learner;
      } else {
        const fresh = new Progress(Math.max(nextIndex, 1), this.maxInflight, this.maxInflightBytes, learner);
        // A new member gets one check-quorum round before it counts as unresponsive.
        fresh.recentActive = true;
        this.progress.set(id, fresh);
      }
    }
  }

  /** Fresh progress for every member (used when a member becomes leader or loses leadership). */
  resetProgress(nextIndex: number): void {
    for (const [id, pr] of this.progress) {
      this.progress.set(id, new Progress(nextIndex, this.maxInflight, this.maxInflightBytes, pr.isLearner));
    }
  }

  /** The highest index durable on a quorum of voters. */
  committedIndex(): number {
    const n = this.voters.size;
    if (n === 0) return 0;
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.progress.get(id)?.match ?? 0);
    matches.sort((a, b) => b - a);
    return matches[this.quorum() - 1]!;
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Records a member's vote; only its first vote in a campaign counts. */
  recordVote(id: MemberId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  voteResult(): VoteResult {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    const q = this.quorum();
    if (granted >= q) return 'won';
    if (this.voters.size - rejected < q) return 'lost';
    return 'pending';
  }

  /** Whether a quorum of voters (counting `self`) was heard from since the last reset. */
  quorumActive(self: MemberId): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === self || this.progress.get(id)?.recentActive === true) active++;
    }
    return active >= this.quorum();
  }
}
