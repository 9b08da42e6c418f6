// The WAL record format. Every record is
//   [u32 bodyLen][u32 ~bodyLen][u32 crc32c(body)][body]
// The length is stored with its complement so a flipped bit in a length is detected instead of being
// mistaken for a record that runs past the end of the file (which would look like a torn tail).
// Bodies start with a type byte; integers are little-endian, 64-bit values stored as two u32.

import type { Entry, EntryKind, HardState } from '../types.js';
import { crc32c } from './crc32c.js';

export const HEADER_BYTES = 12;
/** A body larger than this is treated as a damaged length, not as a real record. */
export const MAX_BODY_BYTES = 512 * 1024 * 1024;
export const WAL_VERSION = 1;

export enum RecordType {
  SegmentHeader = 1,
  Entry = 2,
  HardState = 3,
  /** The log was replaced by a snapshot received from the leader: every earlier entry is void. */
  SnapshotReset = 4,
}

export type WalRecord =
  | { type: RecordType.SegmentHeader; version: number; seq: number; firstIndex: number }
  | { type: RecordType.Entry; entry: Entry }
  | { type: RecordType.HardState; hardState: HardState }
  | { type: RecordType.SnapshotReset; index: number; term: number };

const KIND_CODES: Record<EntryKind, number> = { normal: 0, conf: 1, noop: 2 };
const KINDS: EntryKind[] = ['normal', 'conf', 'noop'];
const TWO_32 = 0x1_0000_0000;

function writeU64(buf: Buffer, off: number, n: number): void {
  buf.writeUInt32LE(n % TWO_32, off);
  buf.writeUInt32LE(Math.floor(n / TWO_32), off + 4);
}

function readU64(buf: Uint8Array, off: number): number {
  const b = buf as Buffer;
  return b.readUInt32LE(off) + b.readUInt32LE(off + 4) * TWO_32;
}

/** Writes the header for the body at `buf[bodyStart, bodyStart+bodyLen)` (header goes just before it). */
function seal(buf: Buffer, recordStart: number, bodyLen: number): void {
  buf.writeUInt32LE(bodyLen, recordStart);
  buf.writeUInt32LE(~bodyLen >>> 0, recordStart + 4);
  const bodyStart = recordStart + HEADER_BYTES;
  buf.writeUInt32LE(crc32c(buf, bodyStart, bodyStart + bodyLen), recordStart + 8);
}

const ENTRY_FIXED = 1 + 1 + 8 + 8; // type, kind, term, index

/** Encodes entries then (optionally) a hard state into one buffer: one write for a whole batch. */
export function encodeBatch(entries: readonly Entry[], hardState: HardState | null): Buffer {
  let size = 0;
  for (const e of entries) size += HEADER_BYTES + ENTRY_FIXED + e.data.length;
  const vote = hardState?.vote != null ? Buffer.from(hardState.vote, 'utf8') : null;
  if (hardState) size += HEADER_BYTES + hardStateBodyLen(vote);
  const buf = Buffer.allocUnsafe(size);
  let off = 0;
  for (const e of entries) {
    const bodyLen = ENTRY_FIXED + e.data.length;
    const b = off + HEADER_BYTES;
    buf[b] = RecordType.Entry;
    buf[b + 1] = KIND_CODES[e.kind];
    writeU64(buf, b + 2, e.term);
    writeU64(buf, b + 10, e.index);
    buf.set(e.data, b + ENTRY_FIXED);
    seal(buf, off, bodyLen);
    off += HEADER_BYTES + bodyLen;
  }
  if (hardState) writeHardState(buf, off, hardState, vote);
  return buf;
}

function hardStateBodyLen(vote: Buffer | null): number {
  return 1 + 8 + 8 + 2 + (vote ? vote.length : 0);
}

function writeHardState(buf: Buffer, off: number, hs: HardState, vote: Buffer | null): number {
  const bodyLen = hardStateBodyLen(vote);
  const b = off + HEADER_BYTES;
  buf[b] = RecordType.HardState;
  writeU64(buf, b + 1, hs.term);
  writeU64(buf, b + 9, hs.commit);
  // 0xffff marks "no vote" so an empty-string member id stays distinguishable from null.
  buf.writeUInt16LE(vote ? vote.length : 0xffff, b + 17);
  if (vote) buf.set(vote, b + 19);
  seal(buf, off, bodyLen);
  return off + HEADER_BYTES + bodyLen;
}

export function encodeHardState(hs: HardState): Buffer {
  return encodeBatch([], hs);
}

export function encodeSegmentHeader(seq: number, firstIndex: number): Buffer {
  const bodyLen = 1 + 4 + 8 + 8;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + bodyLen);
  const b = HEADER_BYTES;
  buf[b] = RecordType.SegmentHeader;
  buf.writeUInt32LE(WAL_VERSION, b + 1);
  writeU64(buf, b + 5, seq);
  writeU64(buf, b + 13, firstIndex);
  seal(buf, 0, bodyLen);
  return buf;
}

export function encodeSnapshotReset(index: number, term: number): Buffer {
  const bodyLen = 1 + 8 + 8;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + bodyLen);
  const b = HEADER_BYTES;
  buf[b] = RecordType.SnapshotReset;
  writeU64(buf, b + 1, index);
  writeU64(buf, b + 9, term);
  seal(buf, 0, bodyLen);
  return buf;
}

/** Result of reading one record at an offset. */
export type ReadResult =
  | { ok: true; record: WalRecord; end: number }
  /** Not enough bytes left for the header or the body: what a torn write leaves behind. */
  | { ok: false; kind: 'incomplete'; reason: string }
  /** Bytes are present but do not form a valid record. */
  | { ok: false; kind: 'invalid'; reason: string };

export function readRecord(buf: Buffer, off: number): ReadResult {
  if (buf.length - off < HEADER_BYTES) {
    return { ok: false, kind: 'incomplete', reason: `${buf.length - off} header bytes of ${HEADER_BYTES}` };
  }
  const len = buf.readUInt32LE(off);
  const check = buf.readUInt32LE(off + 4);
  if ((~len >>> 0) !== check || len === 0 || len > MAX_BODY_BYTES) {
    return { ok: false, kind: 'invalid', reason: `damaged record length (${len}, check ${check})` };
  }
  const bodyStart = off + HEADER_BYTES;
  const end = bodyStart + len;
  if (end > buf.length) {
    return { ok: false, kind: 'incomplete', reason: `body of ${len} bytes, ${buf.length - bodyStart} present` };
  }
  const want = buf.readUInt32LE(off + 8);
  const got = crc32c(buf, bodyStart, end);
  if (want !== got) {
    return { ok: false, kind: 'invalid', reason: `checksum mismatch (stored ${hex(want)}, computed ${hex(got)})` };
  }
  const record = decodeBody(buf, bodyStart, len);
  if (typeof record === 'string') return { ok: false, kind: 'invalid', reason: record };
  return { ok: true, record, end };
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function decodeBody(buf: Buffer, b: number, len: number): WalRecord | string {
  const type = buf[b];
  switch (type) {
    case RecordType.Entry: {
      if (len < ENTRY_FIXED) return `entry record too short (${len} bytes)`;
      const kind = KINDS[buf[b + 1] as number];
      if (kind === undefined) return `unknown entry kind ${buf[b + 1]}`;
      // Copy the payload so a recovered entry does not pin the whole segment buffer in memory.
      const data = Uint8Array.prototype.slice.call(buf, b + ENTRY_FIXED, b + len);
      return {
        type,
        entry: { term: readU64(buf, b + 2), index: readU64(buf, b + 10), kind, data },
      };
    }
    case RecordType.HardState: {
      if (len < 19) return `hard state record too short (${len} bytes)`;
      const vlen = buf.readUInt16LE(b + 17);
      const vote = vlen === 0xffff ? null : buf.toString('utf8', b + 19, b + 19 + vlen);
      if (vlen !== 0xffff && 19 + vlen !== len) return 'hard state vote length does not match record';
      return { type, hardState: { term: readU64(buf, b + 1), commit: readU64(buf, b + 9), vote } };
    }
    case RecordType.SegmentHeader:
      if (len !== 21) return `segment header of ${len} bytes`;
      return { type, version: buf.readUInt32LE(b + 1), seq: readU64(buf, b + 5), firstIndex: readU64(buf, b + 13) };
    case RecordType.SnapshotReset:
      if (len !== 17) return `snapshot reset record of ${len} bytes`;
      return { type, index: readU64(buf, b + 1), term: readU64(buf, b + 9) };
    default:
      return `unknown record type ${type}`;
  }
}
