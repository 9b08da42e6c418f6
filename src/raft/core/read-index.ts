// ReadIndex on the leader. Each request gets a round number; heartbeats carry the latest round and
// their answers echo it. A request is safe to answer once a quorum of voters has acknowledged a round
// >= its own: they still followed this leader after the request arrived, so no newer leader had
// committed anything the read must see.
import type { MemberId } from '../types.js';

export interface PendingRead {
  seq: number;
  /** The leader's commit index when the request arrived: the read must see at least this. */
  index: number;
  ctx: string;
  /** Who asked: the leader itself, or a follower that forwarded the request. */
  from: MemberId;
}

export class ReadIndexQueue {
  /** Latest round started in this term (0: none). */
  seq = 0;
  private pending: PendingRead[] = [];
  private acks = new Map<MemberId, number>();

  add(index: number, ctx: string, from: MemberId): number {
    this.seq++;
    this.pending.push({ seq: this.seq, index, ctx, from });
    return this.seq;
  }

  ack(from: MemberId, seq: number): void {
    if (seq > (this.acks.get(from) ?? 0)) this.acks.set(from, seq);
  }

  hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** Removes and returns the requests a quorum of `voters` has confirmed (self counts as confirming all). */
  release(voters: ReadonlySet<MemberId>, self: MemberId): PendingRead[] {
    if (this.pending.length === 0) return [];
    const acked: number[] = [];
    for (const id of voters) acked.push(id === self ? this.seq : (this.acks.get(id) ?? 0));
    acked.sort((a, b) => b - a);
    const confirmed = acked[Math.floor(voters.size / 2)] ?? 0;
    let n = 0;
    while (n < this.pending.length && this.pending[n]!.seq <= confirmed) n++;
    if (n === 0) return [];
    const out = this.pending.slice(0, n);
    this.pending = this.pending.slice(n);
    return out;
  }

  reset(): void {
    this.seq = 0;
    this.pending = [];
    this.acks.clear();
  }
}
