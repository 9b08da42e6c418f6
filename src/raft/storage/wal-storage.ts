// Durable Raft log storage: the WAL and snapshot files on disk, with every entry since the last
// compaction kept in memory so the core's synchronous reads never touch the disk.
//
// Layout of a data dir:   <dir>/wal/<seq>-<firstIndex>.wal    <dir>/snap/<index>-<term>.snap
// Writes update memory at once (in call order) and return a promise that settles when durable.

import fs from 'node:fs';
import path from 'node:path';
import { limitSize } from '../core/entries.js';
import type { InitialState, LogStorage } from '../core/storage.js';
import type { ConfState, Entry, HardState, Snapshot } from '../types.js';
import { CompactedError, UnavailableError } from './errors.js';
import { silentLogger, type RaftLogger } from './logger.js';
import { loadNewestSnapshot, removeSnapshotsBefore, writeSnapshotFile } from './snapshot-file.js';
import { Wal, type SyncMode, type WalOptions, type WalStats } from './wal.js';

export type WalStorageOptions = WalOptions;

const EMPTY_CONF: ConfState = { voters: [], learners: [] };

export class WalStorage implements LogStorage {
  /** Index of the entry just before ents[0] (the compaction point), and its term. */
  private offset: number;
  private offsetTerm: number;
  private ents: Entry[];
  private hs: HardState;
  private snap: Snapshot;
  private readonly snapDir: string;
  private readonly logger: RaftLogger;

  private constructor(
    readonly dir: string,
    private readonly wal: Wal,
    snap: Snapshot,
    entries: Entry[],
    hardState: HardState | null,
    logger: RaftLogger,
    private readonly readOnly: boolean,
  ) {
    this.snap = snap;
    this.offset = snap.meta.index;
    this.offsetTerm = snap.meta.term;
    this.ents = entries;
    this.snapDir = path.join(dir, 'snap');
    this.logger = logger;
    const hs = hardState ?? { term: 0, vote: null, commit: 0 };
    // A snapshot is committed by definition; the commit can never point past the log.
    const commit = Math.min(Math.max(hs.commit, snap.meta.index), this.lastIndex());
    this.hs = { ...hs, commit };
  }

  /** Opens or creates the storage in `dir`, recovering the log from the snapshot and the WAL. */
  static async open(dir: string, opts: WalStorageOptions = {}): Promise<WalStorage> {
    const logger = opts.logger ?? silentLogger;
    const snapDir = path.join(dir, 'snap');
    const readOnly = opts.readOnly === true;
    if (readOnly && !fs.existsSync(dir)) throw new Error(`raft storage: ${dir} does not exist`);
    if (!readOnly) fs.mkdirSync(snapDir, { recursive: true });
    const snap = loadNewestSnapshot(snapDir, readOnly) ?? {
      meta: { index: 0, term: 0, conf: EMPTY_CONF },
      data: new Uint8Array(0),
    };
    const { wal, replay } = await Wal.open(path.join(dir, 'wal'), snap.meta.index, snap.meta.term, opts);
    const storage = new WalStorage(dir, wal, snap, replay.entries, replay.hardState, logger, readOnly);
    logger.info(
      { dir, snapshot: snap.meta.index, first: storage.firstIndex(), last: storage.lastIndex(), term: storage.hs.term },
      'raft storage recovered',
    );
    return storage;
  }

  // ---- synchronous reads (served from memory) ----

  initialState(): InitialState {
    const c = this.snap.meta.conf;
    return { hardState: { ...this.hs }, conf: { voters: [...c.voters], learners: [...c.learners] } };
  }

  hardState(): HardState {
    return { ...this.hs };
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.ents.length;
  }

  term(index: number): number {
    if (index === this.offset) return this.offsetTerm;
    if (index < this.offset) throw new CompactedError(`index ${index} is compacted (first index ${this.firstIndex()})`);
    const e = this.ents[index - this.offset - 1];
    if (!e) throw new UnavailableError(`index ${index} is after the last index ${this.lastIndex()}`);
    return e.term;
  }

  /** Entries [lo, hi), at most `maxBytes` (as the core counts them) but always at least one. */
  entries(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    if (lo <= this.offset) throw new CompactedError(`index ${lo} is compacted (first index ${this.firstIndex()})`);
    if (hi > this.lastIndex() + 1) {
      throw new UnavailableError(`entries up to ${hi - 1} requested, last index is ${this.lastIndex()}`);
    }
    if (lo >= hi) return [];
    const ents = this.ents.slice(lo - this.offset - 1, hi - this.offset - 1);
    return maxBytes === Infinity ? ents : limitSize(ents, maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  // ---- writes (memory now, disk by the returned promise) ----

  /**
   * Appends entries (replacing any suffix from the first entry's index) and records the hard state;
   * resolves once both are fsynced. Concurrent calls are group-committed. With `sync` false and no
   * entries, the hard state is written with the next synced write instead (Ready.mustSync false).
   * `mode` overrides the storage's sync mode for this write.
   */
  save(entries: readonly Entry[], hardState: HardState | null, sync = true, mode?: SyncMode): Promise<void> {
    if (this.readOnly) return Promise.reject(new Error('raft storage is open read-only'));
    let ents = entries;
    const first = ents[0];
    if (first) {
      if (first.index > this.lastIndex() + 1) {
        return Promise.reject(new Error(`raft storage: append at ${first.index} leaves a gap after ${this.lastIndex()}`));
      }
      // Entries at or below the compaction point are committed and already in a snapshot.
      if (first.index <= this.offset) ents = ents.slice(this.offset + 1 - first.index);
      const f = ents[0];
      if (f) {
        this.ents.length = f.index - this.offset - 1;
        for (const e of ents) this.ents.push(e);
      }
    }
    if (hardState) this.hs = { ...hardState };
    if (!sync && ents.length === 0) {
      // Raft does not need this on disk before going on (a commit index can be learned again).
      if (hardState) this.wal.appendLazy(hardState);
      return Promise.resolve();
    }
    return this.wal.append(ents, hardState, mode);
  }

  /**
   * Replaces the whole log with a snapshot received from the leader. The snapshot file is made
   * durable before the WAL records the reset, and later saves are ordered after it.
   */
  applySnapshot(snap: Snapshot, hardState: HardState | null = null): Promise<void> {
    if (this.readOnly) return Promise.reject(new Error('raft storage is open read-only'));
    if (snap.meta.index <= this.snap.meta.index) {
      return Promise.reject(new Error(`raft storage: snapshot ${snap.meta.index} is not newer than ${this.snap.meta.index}`));
    }
    this.snap = snap;
    this.offset = snap.meta.index;
    this.offsetTerm = snap.meta.term;
    this.ents = [];
    if (hardState) this.hs = { ...hardState };
    if (this.hs.commit < snap.meta.index) this.hs = { ...this.hs, commit: snap.meta.index };
    const fileDurable = writeSnapshotFile(this.snapDir, snap).then(() => undefined);
    const walDurable = this.wal.resetToSnapshot(snap.meta.index, snap.meta.term, hardState, fileDurable);
    return walDurable.then(() => this.cleanup(snap.meta.index));
  }

  /**
   * Records a snapshot of the state machine as of `index` (which must be applied locally), then
   * drops WAL segments and older snapshot files it covers. In-memory entries stay until compact().
   */
  async createSnapshot(index: number, conf: ConfState, data: Uint8Array): Promise<Snapshot> {
    if (this.readOnly) throw new Error('raft storage is open read-only');
    if (index <= this.snap.meta.index) throw new Error(`raft storage: snapshot ${index} is not newer than ${this.snap.meta.index}`);
    if (index > this.lastIndex()) throw new Error(`raft storage: snapshot ${index} is past the last index ${this.lastIndex()}`);
    const snap: Snapshot = { meta: { index, term: this.term(index), conf }, data };
    await writeSnapshotFile(this.snapDir, snap);
    // Only a newer snapshot may replace ours (one from the leader can land while we were writing).
    if (index > this.snap.meta.index) {
      this.snap = snap;
      await this.cleanup(index);
    }
    return snap;
  }

  /** Drops in-memory entries up to `index` (which must be covered by the snapshot). */
  compact(index: number): void {
    if (index <= this.offset) return;
    if (index > this.snap.meta.index) throw new Error(`raft storage: cannot compact to ${index}, snapshot is at ${this.snap.meta.index}`);
    this.offsetTerm = this.term(index);
    this.ents = this.ents.slice(index - this.offset);
    this.offset = index;
  }

  stats(): WalStats & { segmentFiles: string[]; memoryEntries: number } {
    return { ...this.wal.getStats(), memoryEntries: this.ents.length };
  }

  close(): Promise<void> {
    return this.wal.close();
  }

  private async cleanup(snapIndex: number): Promise<void> {
    await removeSnapshotsBefore(this.snapDir, snapIndex);
    const removed = await this.wal.releaseTo(snapIndex);
    if (removed > 0) this.logger.debug({ removed, snapIndex }, 'raft storage: released WAL segments');
  }
}
