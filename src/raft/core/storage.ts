// The core's view of the durable log: read-only and synchronous. The driver writes to storage (after
// fsync) and only then calls advance(); the core reads what is durable from here and keeps what is not
// yet durable in memory (the unstable part of its log).
import type { ConfState, Entry, HardState, MemberId, Snapshot } from '../types.js';
import { CompactedError, UnavailableError } from './errors.js';
import { limitSize } from './entries.js';

export interface InitialState {
  hardState: HardState;
  /** Membership as of the storage's snapshot (or as of the `applied` index given to the core). */
  conf: ConfState;
}

export interface LogStorage {
  /** The saved hard state and membership, read once when the core starts. */
  initialState(): InitialState;
  /** Index of the first entry kept in the log; snapshot().meta.index + 1 (1 for an empty log). */
  firstIndex(): number;
  /** Index of the last entry; snapshot().meta.index when no entry follows the snapshot. */
  lastIndex(): number;
  /** Term of entry i, for firstIndex() - 1 <= i <= lastIndex() (firstIndex() - 1: the snapshot's term).
   *  Throws CompactedError below that range, UnavailableError above it. */
  term(i: number): number;
  /** Entries [lo, hi) with firstIndex() <= lo < hi <= lastIndex() + 1; stops before the entry that
   *  would take the total size over maxBytes, but always returns at least one entry.
   *  Throws CompactedError when lo < firstIndex(). */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** The latest snapshot (index 0 if none). May throw SnapshotTemporarilyUnavailableError. */
  snapshot(): Snapshot;
}

const EMPTY_CONF: ConfState = { voters: [], learners: [] };

/** A snapshot that says "nothing yet": index 0, term 0, no members. */
export function emptySnapshot(): Snapshot {
  return { meta: { index: 0, term: 0, conf: EMPTY_CONF }, data: new Uint8Array(0) };
}

/**
 * The log held in memory. The simulator uses it as a member's durable state; a disk-backed storage can
 * keep one as its cache of the recent log. Write methods follow the rules a durable storage must follow
 * too: append() replaces any entries at or after the first appended index.
 */
export class MemoryLogStorage implements LogStorage {
  private hard: HardState = { term: 0, vote: null, commit: 0 };
  private snap: Snapshot = emptySnapshot();
  /** ents[0] is a placeholder for the snapshot's (index, term); real entries follow. */
  private ents: Entry[] = [{ term: 0, index: 0, kind: 'noop', data: new Uint8Array(0) }];

  /**
   * Storage for a member of a new group: a snapshot at index 1, term 1 holding the initial membership
   * and `data` (the state machine's initial state, empty by default). A member joining an existing group
   * starts from an empty storage instead and learns everything from the leader.
   */
  static bootstrap(voters: MemberId[], data: Uint8Array = new Uint8Array(0)): MemoryLogStorage {
    const s = new MemoryLogStorage();
    s.applySnapshot({ meta: { index: 1, term: 1, conf: { voters: [...voters], learners: [] } }, data });
    s.setHardState({ term: 1, vote: null, commit: 1 });
    return s;
  }

  initialState(): InitialState {
    return { hardState: { ...this.hard }, conf: cloneConf(this.snap.meta.conf) };
  }

  hardState(): HardState {
    return { ...this.hard };
  }

  setHardState(hs: HardState): void {
    this.hard = { ...hs };
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  term(i: number): number {
    const offset = this.ents[0]!.index;
    if (i < offset) throw new CompactedError(`index ${i} is compacted (first index ${offset + 1})`);
    const e = this.ents[i - offset];
    if (e === undefined) throw new UnavailableError(`index ${i} is after the last index ${this.lastIndex()}`);
    return e.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new CompactedError(`index ${lo} is compacted (first index ${offset + 1})`);
    if (hi > this.lastIndex() + 1) {
      throw new UnavailableError(`entries up to ${hi - 1} requested, last index is ${this.lastIndex()}`);
    }
    if (lo >= hi) return [];
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Appends entries, replacing any at or after entries[0].index. Entries already compacted are skipped. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const lastNew = entries[0]!.index + entries.length - 1;
    if (lastNew < first) return;
    const from = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const at = from[0]!.index - this.ents[0]!.index;
    if (at > this.ents.length) {
      throw new Error(`append would leave a gap: last index ${this.lastIndex()}, appending at ${from[0]!.index}`);
    }
    if (at < this.ents.length) this.ents.length = at;
    for (const e of from) this.ents.push(e);
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    if (snap.meta.index <= this.snap.meta.index && this.snap.meta.index > 0) {
      throw new Error(`snapshot ${snap.meta.index} is not newer than the current one (${this.snap.meta.index})`);
    }
    this.snap = { meta: { ...snap.meta, conf: cloneConf(snap.meta.conf) }, data: snap.data };
    this.ents = [{ term: snap.meta.term, index: snap.meta.index, kind: 'noop', data: new Uint8Array(0) }];
  }

  /** Records a snapshot of the state machine at applied index `index` (entries stay until compact()). */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.meta.index) {
      throw new Error(`snapshot at ${index} is not newer than the current one (${this.snap.meta.index})`);
    }
    if (index > this.lastIndex()) throw new UnavailableError(`snapshot at ${index} is after the last index`);
    this.snap = { meta: { index, term: this.term(index), conf: cloneConf(conf) }, data };
    return this.snap;
  }

  /** Drops entries up to and including `index`, which must be covered by the snapshot. */
  compact(index: number): void {
    const offset = this.ents[0]!.index;
    if (index <= offset) return;
    if (index > this.snap.meta.index) {
      throw new Error(`cannot compact to ${index}: the snapshot only covers up to ${this.snap.meta.index}`);
    }
    const e = this.ents[index - offset]!;
    const rest = this.ents.slice(index - offset + 1);
    this.ents = [{ term: e.term, index: e.index, kind: 'noop', data: new Uint8Array(0) }, ...rest];
  }
}

export function cloneConf(c: ConfState): ConfState {
  return { voters: [...c.voters], learners: [...c.learners] };
}
