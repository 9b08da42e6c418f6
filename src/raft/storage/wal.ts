// The write-ahead log: append-only segment files, group commit, torn-tail recovery, suffix overwrite
// by re-appending from an index, and release of segments covered by a snapshot.
//
// Group commit: append() only queues encoded records; a single flush loop writes everything queued
// since its last fsync with one writev and one fdatasync, then resolves every waiter in that batch.
// While one fsync is in flight the next batch accumulates, so throughput grows with load.

import fs from 'node:fs';
import path from 'node:path';
import type { Entry, HardState } from '../types.js';
import { CorruptionError, StorageFailedError } from './errors.js';
import { close, fdatasync, fsyncDir, fsyncDirSync, open, writevAll } from './fsio.js';
import { silentLogger, type RaftLogger } from './logger.js';
import { encodeBatch, encodeHardState, encodeSegmentHeader, encodeSnapshotReset, RecordType } from './record.js';
import { listSegments, scanSegment, segmentFileName, type SegmentFile } from './segment.js';

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const ZEROS = Buffer.alloc(256 * 1024);

export type SyncMode = 'inline' | 'threadpool';

export interface WalOptions {
  /** Roll to a new segment once the current one reaches this size. */
  segmentBytes?: number;
  /**
   * Zero-fill the active segment this far ahead of the write position (default 1 MiB; 0: off).
   * An fdatasync that changes neither the file size nor its block map skips the journal commit:
   * about a quarter cheaper on ext4. Recovery treats the zeros as unused space.
   */
  preallocateBytes?: number;
  /**
   * Read without changing anything (for audit tools on a stopped member's data dir): a torn tail
   * is skipped, not truncated; no segment is created; appends fail.
   */
  readOnly?: boolean;
  /**
   * 'threadpool' (default): fdatasync runs on libuv's thread pool while the event loop goes on;
   * whatever is appended meanwhile is group-committed into the next write + fdatasync.
   * 'inline': write and fdatasync on the calling thread: no hand-off to the thread pool and back,
   * but the event loop waits for the disk. Slightly cheaper when fsync is fast and CPUs are idle;
   * worse when the disk is slow or busy (the process can do nothing else meanwhile).
   */
  syncMode?: SyncMode;
  logger?: RaftLogger;
  /** Told how long each log fdatasync took, in seconds (metrics); must be cheap and must not throw. */
  onSync?: (seconds: number) => void;
}

/** The log as the WAL describes it, on top of a snapshot at `baseIndex`/`baseTerm`. */
export interface WalReplay {
  hardState: HardState | null;
  baseIndex: number;
  baseTerm: number;
  /** Entries baseIndex+1 .. in order, after overwrites and resets were applied. */
  entries: Entry[];
}

interface Segment extends SegmentFile {
  /** Lowest entry index written to this segment (Infinity if none); drives segment release. */
  minIndex: number;
}

interface Pending {
  bufs: Buffer[];
  /** The log's next index once this item is written. */
  nextAfter: number;
  minIndex: number;
  hardState: HardState | null;
  /** Must settle before this item is written (a snapshot file the item refers to). */
  before: Promise<void> | null;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface WalStats {
  appends: number;
  batches: number;
  bytes: number;
  segments: number;
}

export class Wal {
  private queue: Pending[] = [];
  /** A commit-only hard state waiting to ride along with the next synced write. */
  private lazy: Pending | null = null;
  private flushing: Promise<void> | null = null;
  private failed: StorageFailedError | null = null;
  private closed = false;
  /** Last hard state that reached a file: copied to the start of every new segment. */
  private writtenHardState: HardState | null;
  /** The log's next index as of everything already written: where a new segment starts. */
  private writtenNext: number;
  private readonly stats: WalStats = { appends: 0, batches: 0, bytes: 0, segments: 0 };
  /** File size of the active segment: zero-filled past `pos` up to here. */
  private allocEnd: number;
  /** Set by open() from WalOptions.onSync. */
  private onSync: ((seconds: number) => void) | null = null;

  private constructor(
    readonly dir: string,
    private readonly segments: Segment[],
    private fd: number,
    private pos: number,
    private nextIndex: number,
    hardState: HardState | null,
    private readonly segmentBytes: number,
    private readonly logger: RaftLogger,
    private readonly mode: SyncMode,
    private readonly preallocate: number,
  ) {
    this.allocEnd = pos;
    this.writtenHardState = hardState;
    this.writtenNext = nextIndex;
    this.stats.segments = segments.length;
  }

  /**
   * Opens (or creates) the WAL in `dir` and replays it on top of a snapshot at (baseIndex, baseTerm).
   * A torn tail in the newest segment is truncated (and logged); any other damage throws
   * CorruptionError naming the file and offset.
   */
  static async open(
    dir: string,
    baseIndex: number,
    baseTerm: number,
    opts: WalOptions = {},
  ): Promise<{ wal: Wal; replay: WalReplay }> {
    const logger = opts.logger ?? silentLogger;
    const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    const readOnly = opts.readOnly === true;
    if (!readOnly) fs.mkdirSync(dir, { recursive: true });
    const files = fs.existsSync(dir) ? listSegments(dir) : [];
    const replay: WalReplay = { hardState: null, baseIndex, baseTerm, entries: [] };
    const segments: Segment[] = [];
    const st: ReplayState = { replay, baseEntryTerm: undefined, lastIndex: null };
    let lastValidEnd = 0;
    let lastHasHeader = false;
    for (let i = 0; i < files.length; i++) {
      const file = files[i] as SegmentFile;
      const isLast = i === files.length - 1;
      const scanned = scanSegment(file, fs.readFileSync(file.path), isLast);
      if (scanned.torn && !(scanned.torn.zeros && scanned.torn.offset > 0)) {
        logger.warn(
          { file: file.path, offset: scanned.torn.offset, reason: scanned.torn.reason },
          'raft WAL: truncating torn tail left by an interrupted write',
        );
      }
      const seg: Segment = { ...file, minIndex: Infinity };
      for (const { record, offset } of scanned.records) {
        switch (record.type) {
          case RecordType.Entry: {
            const e = record.entry;
            seg.minIndex = Math.min(seg.minIndex, e.index);
            applyEntry(st, e, file.path, offset);
            break;
          }
          case RecordType.HardState:
            replay.hardState = record.hardState;
            break;
          case RecordType.SnapshotReset:
            seg.minIndex = Math.min(seg.minIndex, record.index + 1);
            if (record.index > replay.baseIndex) {
              throw new CorruptionError(
                file.path,
                offset,
                `log was reset to a snapshot at index ${record.index} but the newest snapshot file is at ${replay.baseIndex}`,
              );
            }
            replay.entries = [];
            st.lastIndex = record.index;
            st.baseEntryTerm = record.index === replay.baseIndex ? record.term : null;
            break;
          case RecordType.SegmentHeader:
            // The oldest surviving segment may start after entries that were released with older
            // segments; its header says where the log stood when it was created.
            if (st.lastIndex === null) st.lastIndex = record.firstIndex - 1;
            break;
        }
      }
      segments.push(seg);
      if (isLast) {
        lastValidEnd = scanned.validEnd;
        lastHasHeader = scanned.records.length > 0;
        if (scanned.torn && !readOnly) truncateDurably(file.path, scanned.validEnd);
      }
    }
    // The snapshot replaces the log unless the log holds the snapshot's own entry (same index and
    // term): the rule Raft uses when it restores a snapshot.
    // An entry released with older segments (undefined) is covered by the snapshot, so it matches.
    if (st.baseEntryTerm !== undefined && st.baseEntryTerm !== replay.baseTerm) replay.entries = [];
    checkNoHoles(replay, files[0]?.path ?? dir);
    const lastIndex = replay.baseIndex + replay.entries.length;
    let fd: number;
    let pos: number;
    const last = segments[segments.length - 1];
    if (readOnly) {
      fd = -1;
      pos = lastValidEnd;
    } else if (!last) {
      const first: Segment = { seq: 0, firstIndex: lastIndex + 1, path: path.join(dir, segmentFileName(0, lastIndex + 1)), minIndex: Infinity };
      ({ fd, pos } = await createSegment(first, replay.hardState));
      segments.push(first);
    } else if (!lastHasHeader) {
      // The newest segment was created but its header never reached the disk: write it again.
      ({ fd, pos } = await createSegment(last, replay.hardState));
    } else {
      fd = fs.openSync(last.path, 'r+');
      pos = lastValidEnd;
    }
    const wal = new Wal(
      dir,
      segments,
      fd,
      pos,
      lastIndex + 1,
      replay.hardState,
      segmentBytes,
      logger,
      opts.syncMode ?? 'threadpool',
      opts.preallocateBytes ?? 1024 * 1024,
    );
    if (readOnly) wal.closed = true;
    wal.onSync = opts.onSync ?? null;
    return { wal, replay };
  }

  /**
   * Queues entries (and the hard state after them) for the next group commit; resolves once they are
   * fsynced. Entries starting at or below an earlier index replace that suffix of the log.
   */
  append(entries: readonly Entry[], hardState: HardState | null, mode?: SyncMode): Promise<void> {
    if (entries.length === 0 && hardState === null) return Promise.resolve();
    let minIndex = Infinity;
    const first = entries[0];
    if (first) {
      minIndex = first.index;
      this.nextIndex = (entries[entries.length - 1] as Entry).index + 1;
    }
    return this.enqueue([encodeBatch(entries, hardState)], minIndex, hardState, null, (mode ?? this.mode) === 'inline');
  }

  /**
   * Records a hard state without forcing a write of its own: it goes out with the next synced write
   * (or at close). For changes Raft need not sync, such as a commit index moving forward.
   */
  appendLazy(hardState: HardState): void {
    if (this.failed || this.closed) return;
    const p: Pending = {
      bufs: [encodeHardState(hardState)],
      nextAfter: this.nextIndex,
      minIndex: Infinity,
      hardState,
      before: null,
      resolve: () => {},
      reject: () => {},
    };
    // Behind queued writes it keeps its place in line; otherwise it leads the next batch.
    if (this.queue.length > 0) this.queue.push(p);
    else this.lazy = p;
  }

  /**
   * Records that the log was replaced by a snapshot at (index, term): earlier entries are void.
   * `snapshotDurable` must settle first (the snapshot file has to exist before the WAL points to it).
   */
  resetToSnapshot(index: number, term: number, hardState: HardState | null, snapshotDurable: Promise<void>): Promise<void> {
    this.nextIndex = index + 1;
    const bufs = [encodeSnapshotReset(index, term)];
    if (hardState) bufs.push(encodeHardState(hardState));
    return this.enqueue(bufs, index + 1, hardState, snapshotDurable);
  }

  /**
   * Deletes the oldest segments whose live entries are all at or below `snapshotIndex`. A segment's
   * entries are live unless a later segment rewrote from an index at or below them.
   */
  async releaseTo(snapshotIndex: number): Promise<number> {
    if (this.closed) return 0;
    const segs = this.segments;
    // suffixMin[k] = lowest index written in any segment after k.
    const suffixMin: number[] = new Array<number>(segs.length).fill(Infinity);
    for (let k = segs.length - 2; k >= 0; k--) {
      suffixMin[k] = Math.min(suffixMin[k + 1] as number, (segs[k + 1] as Segment).minIndex);
    }
    let cut = 0;
    while (cut < segs.length - 1 && (suffixMin[cut] as number) <= snapshotIndex + 1) cut++;
    if (cut === 0) return 0;
    const removed = segs.splice(0, cut);
    for (const s of removed) fs.rmSync(s.path, { force: true });
    await fsyncDir(this.dir);
    this.logger.debug({ removed: removed.map((s) => path.basename(s.path)), snapshotIndex }, 'raft WAL: released segments');
    return removed.length;
  }

  /** Waits for queued writes, then closes the file. Further appends fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.lazy && !this.failed) {
      this.queue.push(this.lazy);
      this.lazy = null;
      if (!this.flushing) this.flushing = this.flushLoop();
    }
    this.closed = true;
    while (this.flushing) await this.flushing.catch(() => {});
    if (!this.failed) {
      try {
        this.trimActiveSync();
      } catch (err) {
        this.logger.warn({ err: String(err) }, 'raft WAL: could not trim preallocated space at close');
      }
    }
    await close(this.fd);
  }

  getStats(): WalStats & { segmentFiles: string[] } {
    return { ...this.stats, segmentFiles: this.segments.map((s) => path.basename(s.path)) };
  }

  private enqueue(
    bufs: Buffer[],
    minIndex: number,
    hardState: HardState | null,
    before: Promise<void> | null,
    inline = this.mode === 'inline',
  ): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new Error(this.fd < 0 ? 'raft WAL is open read-only' : 'raft WAL is closed'));
    if (inline && !this.flushing && this.queue.length === 0 && before === null) {
      // Nothing ahead of us in line: write and sync now, on this thread.
      this.stats.appends++;
      const item: Pending = { bufs, nextAfter: this.nextIndex, minIndex, hardState, before, resolve: () => {}, reject: () => {} };
      try {
        this.writeInline(item);
      } catch (err) {
        this.failed = new StorageFailedError(err);
        this.logger.error({ err: String(err) }, 'raft WAL: write failed; storage is now unusable');
        return Promise.reject(this.failed);
      }
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ bufs, nextAfter: this.nextIndex, minIndex, hardState, before, resolve, reject });
      this.stats.appends++;
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  private writeInline(item: Pending): void {
    const batch = this.lazy ? [this.lazy, item] : [item];
    this.lazy = null;
    if (this.pos >= this.segmentBytes) this.rolloverSync();
    const { bufs, bytes, minIndex, hs } = gather(batch);
    const seg = this.segments[this.segments.length - 1] as Segment;
    seg.minIndex = Math.min(seg.minIndex, minIndex);
    this.ensureAllocated(this.pos + bytes);
    writevAllSync(this.fd, bufs, this.pos);
    this.pos += bytes;
    const t0 = this.onSync === null ? 0 : performance.now();
    fs.fdatasyncSync(this.fd);
    if (this.onSync !== null) this.onSync((performance.now() - t0) / 1000);
    if (hs) this.writtenHardState = hs;
    this.writtenNext = item.nextAfter;
    this.stats.batches++;
    this.stats.bytes += bytes;
  }

  /** Zero-fills ahead of the write position so the coming fsyncs only flush data. */
  private ensureAllocated(end: number): void {
    if (this.preallocate <= 0 || end <= this.allocEnd) return;
    const target = Math.max(end, Math.min(this.allocEnd + this.preallocate, Math.max(this.segmentBytes, end)));
    let at = this.allocEnd;
    while (at < target) {
      const n = Math.min(ZEROS.length, target - at);
      at += fs.writeSync(this.fd, ZEROS, 0, n, at);
    }
    this.allocEnd = target;
  }

  /** Cuts the unused zero-filled space off the active segment before it stops being the newest. */
  private trimActiveSync(): void {
    if (this.allocEnd > this.pos) {
      fs.ftruncateSync(this.fd, this.pos);
      fs.fdatasyncSync(this.fd);
      this.allocEnd = this.pos;
    }
  }

  private rolloverSync(): void {
    this.trimActiveSync();
    const seg = this.nextSegment();
    const { fd, pos } = createSegmentSync(seg, this.writtenHardState);
    fs.closeSync(this.fd);
    this.fd = fd;
    this.pos = pos;
    this.allocEnd = pos;
    this.segments.push(seg);
    this.stats.segments++;
  }

  private nextSegment(): Segment {
    const prev = this.segments[this.segments.length - 1] as Segment;
    const firstIndex = this.writtenNext;
    return { seq: prev.seq + 1, firstIndex, path: path.join(this.dir, segmentFileName(prev.seq + 1, firstIndex)), minIndex: Infinity };
  }

  private async flushLoop(): Promise<void> {
    let batch: Pending[] = [];
    try {
      while (this.queue.length > 0) {
        batch = this.queue;
        this.queue = [];
        if (this.lazy) {
          batch.unshift(this.lazy);
          this.lazy = null;
        }
        for (const p of batch) if (p.before) await p.before;
        if (this.pos >= this.segmentBytes) await this.rollover();
        const { bufs, bytes, minIndex, hs } = gather(batch);
        const seg = this.segments[this.segments.length - 1] as Segment;
        // Record the lowest index before writing: a smaller minIndex only ever makes release more
        // conservative for earlier segments, never less.
        seg.minIndex = Math.min(seg.minIndex, minIndex);
        // The write only copies into the page cache: do it here, and send only the fsync to the
        // thread pool (one hand-off per batch instead of two).
        this.ensureAllocated(this.pos + bytes);
        writevAllSync(this.fd, bufs, this.pos);
        this.pos += bytes;
        const t0 = this.onSync === null ? 0 : performance.now();
        await fdatasync(this.fd);
        if (this.onSync !== null) this.onSync((performance.now() - t0) / 1000);
        if (hs) this.writtenHardState = hs;
        this.writtenNext = (batch[batch.length - 1] as Pending).nextAfter;
        this.stats.batches++;
        this.stats.bytes += bytes;
        for (const p of batch) p.resolve();
        batch = [];
      }
    } catch (err) {
      // The file's content past the last fsync is now unknown: fail everything until a restart
      // recovers from disk (retrying an fsync after a failure can report success for lost data).
      this.failed = new StorageFailedError(err);
      this.logger.error({ err: String(err) }, 'raft WAL: write failed; storage is now unusable');
      for (const p of batch) p.reject(this.failed);
      for (const p of this.queue) p.reject(this.failed);
      this.queue = [];
    } finally {
      this.flushing = null;
    }
  }

  private async rollover(): Promise<void> {
    this.trimActiveSync();
    const seg = this.nextSegment();
    const { fd, pos } = await createSegment(seg, this.writtenHardState);
    await close(this.fd);
    this.fd = fd;
    this.pos = pos;
    this.allocEnd = pos;
    this.segments.push(seg);
    this.stats.segments++;
  }
}

interface ReplayState {
  replay: WalReplay;
  /**
   * Term of the WAL log's own entry at the snapshot index: null when the log does not reach it,
   * undefined when that entry was in a released segment (not seen).
   */
  baseEntryTerm: number | null | undefined;
  /** Last index of the log as written so far (null until the first entry or reset is read). */
  lastIndex: number | null;
}

function applyEntry(st: ReplayState, e: Entry, file: string, offset: number): void {
  const { replay } = st;
  if (st.lastIndex !== null ? e.index > st.lastIndex + 1 : e.index > replay.baseIndex + 1) {
    throw new CorruptionError(file, offset, `entry ${e.index} leaves a gap after index ${st.lastIndex ?? replay.baseIndex}`);
  }
  st.lastIndex = e.index;
  if (e.index <= replay.baseIndex) {
    // Rewrites at or below the snapshot index void everything after them.
    replay.entries = [];
    st.baseEntryTerm = e.index === replay.baseIndex ? e.term : null;
    return;
  }
  // An entry at or below the last index replaces that suffix (the leader overwrote a conflict).
  replay.entries.length = e.index - replay.baseIndex - 1;
  // A hole (undefined) can only come from released segments and must be overwritten later.
  const prev = replay.entries[replay.entries.length - 1];
  const prevTerm = prev ? prev.term : replay.entries.length === 0 ? st.baseEntryTerm : null;
  if (typeof prevTerm === 'number' && e.term < prevTerm) {
    throw new CorruptionError(file, offset, `entry ${e.index} has term ${e.term}, below the previous entry's term ${prevTerm}`);
  }
  replay.entries.push(e);
}

function gather(batch: Pending[]): { bufs: Buffer[]; bytes: number; minIndex: number; hs: HardState | null } {
  const bufs: Buffer[] = [];
  let bytes = 0;
  let minIndex = Infinity;
  let hs: HardState | null = null;
  for (const p of batch) {
    for (const b of p.bufs) {
      bufs.push(b);
      bytes += b.length;
    }
    minIndex = Math.min(minIndex, p.minIndex);
    if (p.hardState) hs = p.hardState;
  }
  return { bufs, bytes, minIndex, hs };
}

function writevAllSync(fd: number, bufs: Buffer[], position: number): void {
  let total = 0;
  for (const b of bufs) total += b.length;
  let done = fs.writevSync(fd, bufs, position);
  while (done < total) done += fs.writeSync(fd, Buffer.concat(bufs).subarray(done), 0, total - done, position + done);
}

function createSegmentSync(seg: SegmentFile, hardState: HardState | null): { fd: number; pos: number } {
  const fd = fs.openSync(seg.path, 'w', 0o600);
  const bufs = [encodeSegmentHeader(seg.seq, seg.firstIndex)];
  if (hardState) bufs.push(encodeHardState(hardState));
  let pos = 0;
  for (const b of bufs) pos += b.length;
  writevAllSync(fd, bufs, 0);
  fs.fdatasyncSync(fd);
  fsyncDirSync(path.dirname(seg.path));
  return { fd, pos };
}

function checkNoHoles(replay: WalReplay, file: string): void {
  for (let i = 0; i < replay.entries.length; i++) {
    if (replay.entries[i] === undefined) {
      const idx = replay.baseIndex + 1 + i;
      throw new CorruptionError(file, 0, `entry ${idx} is missing: it was in a segment that no longer exists`);
    }
  }
}

/** Creates a segment with its header and the current hard state, durably (file and directory). */
async function createSegment(seg: SegmentFile, hardState: HardState | null): Promise<{ fd: number; pos: number }> {
  const fd = await open(seg.path, 'w');
  const bufs = [encodeSegmentHeader(seg.seq, seg.firstIndex)];
  if (hardState) bufs.push(encodeHardState(hardState));
  let pos = 0;
  for (const b of bufs) pos += b.length;
  await writevAll(fd, bufs, 0);
  await fdatasync(fd);
  await fsyncDir(path.dirname(seg.path));
  return { fd, pos };
}

function truncateDurably(file: string, length: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.ftruncateSync(fd, length);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
