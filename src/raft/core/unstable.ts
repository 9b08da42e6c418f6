// The part of the log not yet durable: entries (and possibly a snapshot) the driver has not yet
// acknowledged as written. "In progress" marks what a Ready has handed out but advance() has not
// confirmed, so the next Ready does not hand it out again.
import type { Entry, Snapshot } from '../types.js';

export class Unstable {
  snapshot: Snapshot | undefined;
  snapshotInProgress = false;
  entries: Entry[] = [];
  /** Index of entries[0] (or where the next entry would go). */
  offset: number;
  /** Entries below this index are handed out to be written. */
  offsetInProgress: number;

  constructor(offset: number) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.meta.index + 1 : undefined;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot) return this.snapshot.meta.index;
    return undefined;
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.meta.index === i) return this.snapshot.meta.term;
      return undefined;
    }
    const e = this.entries[i - this.offset];
    return e?.term;
  }

  hasNextEntries(): boolean {
    return this.offsetInProgress < this.offset + this.entries.length;
  }

  nextEntries(): Entry[] {
    const from = this.offsetInProgress - this.offset;
    return from >= this.entries.length ? [] : this.entries.slice(from);
  }

  nextSnapshot(): Snapshot | undefined {
    return this.snapshot && !this.snapshotInProgress ? this.snapshot : undefined;
  }

  acceptInProgress(): void {
    if (this.entries.length > 0) this.offsetInProgress = this.offset + this.entries.length;
    if (this.snapshot) this.snapshotInProgress = true;
  }

  /** Entries up to (index, term) are durable. Ignored when that entry was replaced meanwhile. */
  stableTo(index: number, term: number): void {
    if (index < this.offset) return;
    const t = this.maybeTerm(index);
    if (t === undefined || t !== term) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
    this.offsetInProgress = Math.max(this.offsetInProgress, this.offset);
  }

  stableSnapTo(index: number): void {
    if (this.snapshot && this.snapshot.meta.index === index) {
      this.snapshot = undefined;
      this.snapshotInProgress = false;
    }
  }

  restore(snap: Snapshot): void {
    this.offset = snap.meta.index + 1;
    this.offsetInProgress = this.offset;
    this.entries = [];
    this.snapshot = snap;
    this.snapshotInProgress = false;
  }

  truncateAndAppend(ents: readonly Entry[]): void {
    if (ents.length === 0) return;
    const from = ents[0]!.index;
    if (from === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (from <= this.offset) {
      // Replaces everything unstable, and the durable tail from `from` on: the storage's copy of those
      // indexes is stale until the driver writes these entries.
      this.entries = [...ents];
      this.offset = from;
      this.offsetInProgress = from;
    } else {
      this.entries = this.entries.slice(0, from - this.offset);
      for (const e of ents) this.entries.push(e);
      this.offsetInProgress = Math.min(this.offsetInProgress, from);
    }
  }

  /** Entries [lo, hi), with offset <= lo <= hi <= last + 1. */
  slice(lo: number, hi: number): Entry[] {
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
