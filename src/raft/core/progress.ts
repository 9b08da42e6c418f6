// The leader's view of one member's log (etcd's tracker.Progress).
//  probe:     one append at a time until the leader finds where the logs match;
//  replicate: appends are pipelined, bounded by Inflights;
//  snapshot:  a snapshot is on its way; nothing else is sent until it is acknowledged or given up.
import { Inflights } from './inflights.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to be durable on the member and to match the leader's log. */
  match = 0;
  /** Next index to send. Invariant: match < next. */
  next: number;
  state: ProgressState = 'probe';
  /** Index of the snapshot in flight (state `snapshot`); 0 otherwise. */
  pendingSnapshot = 0;
  /** Ticks spent in state `snapshot`: a lost snapshot is retried after a while. */
  snapshotTicks = 0;
  /** Heard from the member since the last check-quorum round. */
  recentActive = false;
  /** No more appends until something comes back (probe sent, or pipeline full). */
  msgAppFlowPaused = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(next: number, maxInflight: number, maxInflightBytes: number, isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      // After a snapshot, the member holds at least the snapshot's entries (if it was installed).
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(index: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = index;
    this.next = index + 1;
  }

  /** Records an append of `entries` entries (`bytes` of payload) ending at next - 1 + entries. */
  sentEntries(entries: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (entries > 0) {
        this.next += entries;
        this.inflights.add(this.next - 1, bytes);
      }
      this.msgAppFlowPaused = this.inflights.full();
    } else if (this.state === 'probe') {
      // One probe at a time: wait for its answer (or a heartbeat answer) before sending another.
      this.msgAppFlowPaused = true;
    }
  }

  /** An acknowledgement up to n. False when it is old news. */
  maybeUpdate(n: number): boolean {
    if (n <= this.match) return false;
    this.match = n;
    this.next = Math.max(this.next, n + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /**
   * A rejection of the append whose previous index was `rejected`; `matchHint` is the leader's guess of
   * the last matching index. False when the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  isPaused(): boolean {
    if (this.state === 'snapshot') return true;
    return this.msgAppFlowPaused;
  }
}
