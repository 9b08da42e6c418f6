// WAL segment files: naming, listing and scanning with torn-tail detection.
// A segment is named "<seq>-<firstIndex>.wal" (16 hex digits each) so `ls` shows both the order and
// roughly which entries it holds. Only the newest segment can end in a torn write: older ones were
// fsynced before the next was created, so damage there is always corruption.

import fs from 'node:fs';
import path from 'node:path';
import { CorruptionError } from './errors.js';
import { readRecord, RecordType, WAL_VERSION, type WalRecord } from './record.js';

export interface SegmentFile {
  seq: number;
  firstIndex: number;
  path: string;
}

const NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

export function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}

export function segmentFileName(seq: number, firstIndex: number): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`;
}

/** Segments in `dir` in sequence order; a gap in the sequence means a lost file and is refused. */
export function listSegments(dir: string): SegmentFile[] {
  const out: SegmentFile[] = [];
  for (const name of fs.readdirSync(dir)) {
    const m = NAME.exec(name);
    if (!m) continue;
    out.push({ seq: parseInt(m[1] as string, 16), firstIndex: parseInt(m[2] as string, 16), path: path.join(dir, name) });
  }
  out.sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < out.length; i++) {
    const prev = out[i - 1] as SegmentFile;
    const cur = out[i] as SegmentFile;
    if (cur.seq !== prev.seq + 1) {
      throw new CorruptionError(cur.path, 0, `segment sequence jumps from ${prev.seq} to ${cur.seq}: a segment is missing`);
    }
  }
  return out;
}

export interface ScannedRecord {
  record: WalRecord;
  offset: number;
  end: number;
}

export interface ScannedSegment {
  records: ScannedRecord[];
  /** Where valid data ends; the file is truncated here when `torn` is set. */
  validEnd: number;
  /** `zeros`: only zero bytes follow (space preallocated and never written, the normal case). */
  torn: { offset: number; reason: string; zeros: boolean } | null;
}

/**
 * Reads every record of one segment. A damaged record at the end of the newest segment is a torn
 * write (it was never acknowledged) and is reported in `torn`; anything else damaged throws
 * CorruptionError naming the file and offset.
 */
export function scanSegment(seg: SegmentFile, buf: Buffer, isLast: boolean): ScannedSegment {
  const records: ScannedRecord[] = [];
  let off = 0;
  while (off < buf.length) {
    const r = readRecord(buf, off);
    if (r.ok) {
      records.push({ record: r.record, offset: off, end: r.end });
      off = r.end;
      continue;
    }
    if (isLast && (r.kind === 'incomplete' || isTornTail(buf, off))) {
      checkHeader(seg, records);
      return { records, validEnd: off, torn: { offset: off, reason: r.reason, zeros: allZero(buf, off) } };
    }
    throw new CorruptionError(seg.path, off, r.reason);
  }
  checkHeader(seg, records);
  return { records, validEnd: off, torn: null };
}

function allZero(buf: Buffer, off: number): boolean {
  for (let i = off; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * A damaged record is a torn tail when nothing real follows it: either the rest of the file is
 * zeros (preallocated space, or the size reached disk before the data) or the record spans to the
 * end of the file.
 */
function isTornTail(buf: Buffer, off: number): boolean {
  if (allZero(buf, off)) return true;
  const len = buf.readUInt32LE(off);
  const check = buf.readUInt32LE(off + 4);
  // A header cut short (a write that ended inside it) with nothing after it.
  if ((~len >>> 0) !== check) return allZero(buf, off + 12);
  // A record whose header made it but not all of its body, with only unused (zero) space or the end
  // of the file after it: the tail of the last write.
  const end = off + 12 + len;
  return end >= buf.length || allZero(buf, end);
}

function checkHeader(seg: SegmentFile, records: ScannedRecord[]): void {
  const first = records[0];
  if (!first) return; // empty newest segment: the caller rewrites its header
  const r = first.record;
  if (r.type !== RecordType.SegmentHeader) {
    throw new CorruptionError(seg.path, 0, 'segment does not start with a segment header');
  }
  if (r.version !== WAL_VERSION) {
    throw new CorruptionError(seg.path, 0, `unsupported WAL version ${r.version} (this build reads ${WAL_VERSION})`);
  }
  if (r.seq !== seg.seq) {
    throw new CorruptionError(seg.path, 0, `segment header says sequence ${r.seq}, file name says ${seg.seq}`);
  }
}
