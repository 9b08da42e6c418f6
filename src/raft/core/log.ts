// The log as the core sees it: durable entries (LogStorage) followed by the unstable tail.
import type { Entry, Snapshot } from '../types.js';
import { CompactedError } from './errors.js';
import { limitSize } from './entries.js';
import type { LogStorage } from './storage.js';
import { Unstable } from './unstable.js';

export class RaftLog {
  readonly unstable: Unstable;
  /** Highest index known to be committed. */
  committed: number;
  /** Highest index handed to the application in a Ready (>= applied). */
  applying: number;
  /** Highest index the application has applied (acknowledged by advance()). */
  applied: number;

  constructor(readonly storage: LogStorage) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applying = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Term of entry i, or undefined when i is compacted away or after the last index. */
  term(i: number): number | undefined {
    const dummy = this.firstIndex() - 1;
    if (i < dummy || i > this.lastIndex()) return undefined;
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    return this.storage.term(i);
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    if (t === undefined) throw new Error('raft log: no term for the last index');
    return t;
  }

  matchTerm(i: number, term: number): boolean {
    return this.term(i) === term;
  }

  /** Raft's election restriction: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Highest index on this member that is durable and belongs to the current log. Only durable entries
   * may count toward a commit quorum; otherwise a leader could commit an entry it then loses in a crash.
   */
  stableIndex(): number {
    if (this.unstable.snapshot) return 0;
    return this.unstable.offset - 1;
  }

  /**
   * The first index in `ents` that is new or conflicts with ours (different term), or 0 when all of
   * them are already in the log.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * For a rejected append at `index`: the largest index <= `index` whose term is <= `term`, with that
   * term. Lets the leader skip a whole term of divergent entries per round trip.
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (let i = index; i > 0; i--) {
      const t = this.term(i);
      if (t === undefined) return [i, 0];
      if (t <= term) return [i, t];
    }
    return [0, 0];
  }

  /** Follower side of an append. Returns the last index the leader's message covers, or undefined when
   *  the previous entry does not match. */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) {
        throw new Error(`raft log: entry ${ci} conflicts with a committed entry (commit ${this.committed})`);
      }
      this.append(ents.slice(ci - (prevIndex + 1)));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    if (after < this.committed) {
      throw new Error(`raft log: append after ${after} would overwrite committed entries (commit ${this.committed})`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  commitTo(i: number): void {
    if (i <= this.committed) return;
    if (i > this.lastIndex()) {
      throw new Error(`raft log: commit ${i} is after the last index ${this.lastIndex()}`);
    }
    this.committed = i;
  }

  /** Commits i when it is in `term`: a leader only counts replicas for entries of its own term. */
  maybeCommit(i: number, term: number): boolean {
    if (i > this.committed && this.term(i) === term) {
      this.commitTo(i);
      return true;
    }
    return false;
  }

  appliedTo(i: number): void {
    if (i < this.applied) return;
    if (i > this.committed) throw new Error(`raft log: applied ${i} is after commit ${this.committed}`);
    this.applied = i;
    if (this.applying < i) this.applying = i;
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  hasNextCommittedEntries(): boolean {
    if (this.hasPendingSnapshot()) return false;
    return this.committed > this.applying;
  }

  nextCommittedEntries(maxBytes: number): Entry[] {
    if (!this.hasNextCommittedEntries()) return [];
    return this.slice(this.applying + 1, this.committed + 1, maxBytes);
  }

  /** Entries from lo to the end, up to maxBytes. Throws CompactedError when lo is compacted. */
  entries(lo: number, maxBytes: number): Entry[] {
    const last = this.lastIndex();
    if (lo > last) return [];
    return this.slice(lo, last + 1, maxBytes);
  }

  /** Entries [lo, hi), up to maxBytes (at least one). Throws CompactedError when lo is compacted. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.firstIndex()) throw new CompactedError(`index ${lo} is compacted`);
    if (hi > this.lastIndex() + 1) throw new Error(`raft log: slice [${lo}, ${hi}) is out of range`);
    if (lo >= hi) return [];
    const off = this.unstable.offset;
    let out: Entry[] = [];
    if (lo < off) {
      const upTo = Math.min(hi, off);
      const stored = this.storage.entries(lo, upTo, maxBytes);
      if (stored.length < upTo - lo) return stored;
      out = stored;
    }
    if (hi > off) {
      const tail = this.unstable.slice(Math.max(lo, off), hi);
      out = out.length > 0 ? out.concat(tail) : tail;
    }
    return limitSize(out, maxBytes);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  restore(snap: Snapshot): void {
    this.committed = snap.meta.index;
    this.unstable.restore(snap);
  }
}
