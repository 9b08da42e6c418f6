// Wire format of Raft messages. Appends carry the bulk of the bytes and are encoded in a flat binary
// layout (no per-entry keys, one copy of each payload); every other message is msgpack. A msgpack
// object never starts with byte 0x01, so the first byte tells the two apart.
//
// append: 0x01 | u8 len + from | u8 len + to | f64 term, index, logTerm, commit | u32 count |
//         count x (u8 kind | f64 term | f64 index | u32 len | data)

import { Packr } from 'msgpackr';
import type { MessageCodec } from '../transport/index.js';
import type { AppendMessage, Entry, EntryKind, Message } from '../types.js';

const APPEND = 0x01;
const KINDS: EntryKind[] = ['normal', 'conf', 'noop'];
const KIND_CODE: Record<EntryKind, number> = { normal: 0, conf: 1, noop: 2 };
const ENTRY_FIXED = 1 + 8 + 8 + 4;

export class WireFormatError extends Error {
  override readonly name = 'WireFormatError';
}

export function raftCodec(): MessageCodec<Message> {
  const packr = new Packr({ useRecords: false });
  // copyBuffers: decoded payloads must not pin the socket chunk they arrived in.
  const unpackr = new Packr({ useRecords: false, copyBuffers: true });
  return {
    encode(m: Message): Buffer {
      if (m.type === 'app') {
        const b = encodeAppend(m);
        if (b) return b;
      }
      return packr.pack(m);
    },
    decode(buf: Buffer): unknown {
      if (buf[0] === APPEND) return decodeAppend(buf);
      return unpackr.unpack(buf) as unknown;
    },
  };
}

function encodeAppend(m: AppendMessage): Buffer | null {
  const from = Buffer.from(m.from, 'utf8');
  const to = Buffer.from(m.to, 'utf8');
  if (from.length > 255 || to.length > 255) return null;
  let size = 1 + 1 + from.length + 1 + to.length + 32 + 4;
  for (const e of m.entries) size += ENTRY_FIXED + e.data.byteLength;
  const b = Buffer.allocUnsafe(size);
  let o = 0;
  b[o++] = APPEND;
  b[o++] = from.length;
  o += from.copy(b, o);
  b[o++] = to.length;
  o += to.copy(b, o);
  o = b.writeDoubleLE(m.term, o);
  o = b.writeDoubleLE(m.index, o);
  o = b.writeDoubleLE(m.logTerm, o);
  o = b.writeDoubleLE(m.commit, o);
  o = b.writeUInt32LE(m.entries.length, o);
  for (const e of m.entries) {
    b[o++] = KIND_CODE[e.kind];
    o = b.writeDoubleLE(e.term, o);
    o = b.writeDoubleLE(e.index, o);
    o = b.writeUInt32LE(e.data.byteLength, o);
    b.set(e.data, o);
    o += e.data.byteLength;
  }
  return b;
}

function decodeAppend(b: Buffer): AppendMessage {
  let o = 1;
  const need = (n: number) => {
    if (o + n > b.length) throw new WireFormatError(`append truncated at byte ${o} (needs ${n} more, has ${b.length - o})`);
  };
  need(1);
  const fl = b[o++] as number;
  need(fl + 1);
  const from = b.toString('utf8', o, o + fl);
  o += fl;
  const tl = b[o++] as number;
  need(tl + 36);
  const to = b.toString('utf8', o, o + tl);
  o += tl;
  const term = b.readDoubleLE(o);
  const index = b.readDoubleLE(o + 8);
  const logTerm = b.readDoubleLE(o + 16);
  const commit = b.readDoubleLE(o + 24);
  const count = b.readUInt32LE(o + 32);
  o += 36;
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    need(ENTRY_FIXED);
    const kind = KINDS[b[o] as number];
    if (kind === undefined) throw new WireFormatError(`unknown entry kind ${b[o]}`);
    const eterm = b.readDoubleLE(o + 1);
    const eindex = b.readDoubleLE(o + 9);
    const len = b.readUInt32LE(o + 17);
    o += ENTRY_FIXED;
    need(len);
    // A copy, so a retained entry does not pin the whole frame.
    entries.push({ kind, term: eterm, index: eindex, data: Uint8Array.prototype.slice.call(b, o, o + len) });
    o += len;
  }
  if (o !== b.length) throw new WireFormatError(`append has ${b.length - o} trailing bytes`);
  return { type: 'app', from, to, term, index, logTerm, commit, entries };
}
