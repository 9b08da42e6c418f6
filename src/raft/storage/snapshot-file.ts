// Snapshot files, written atomically: temp file, fsync, rename, fsync the directory. A reader never
// sees a half-written snapshot; a crash leaves at most a stray ".tmp" that the next open removes.
// Layout: "KRSNAP01" | u32 metaLen | u32 crc32c(meta+data) | u64 dataLen | meta (msgpack) | data

import fs from 'node:fs';
import path from 'node:path';
import { pack, unpack } from 'msgpackr';
import type { Snapshot, SnapshotMeta } from '../types.js';
import { crc32c } from './crc32c.js';
import { CorruptionError } from './errors.js';
import { close, fdatasync, fsyncDir, open, writevAll } from './fsio.js';
import { hex16 } from './segment.js';

const MAGIC = Buffer.from('KRSNAP01', 'latin1');
const FIXED = MAGIC.length + 4 + 4 + 8;
const NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

export function snapshotFileName(index: number, term: number): string {
  return `${hex16(index)}-${hex16(term)}.snap`;
}

export async function writeSnapshotFile(dir: string, snap: Snapshot): Promise<string> {
  const meta = pack({ index: snap.meta.index, term: snap.meta.term, conf: snap.meta.conf } satisfies SnapshotMeta);
  const data = Buffer.from(snap.data.buffer, snap.data.byteOffset, snap.data.byteLength);
  const head = Buffer.alloc(FIXED);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(meta.length, 8);
  head.writeUInt32LE(crc32c(data, 0, data.length, crc32c(meta)), 12);
  head.writeUInt32LE(data.length % 0x1_0000_0000, 16);
  head.writeUInt32LE(Math.floor(data.length / 0x1_0000_0000), 20);
  const final = path.join(dir, snapshotFileName(snap.meta.index, snap.meta.term));
  const tmp = `${final}.tmp`;
  const fd = await open(tmp, 'w');
  try {
    await writevAll(fd, [head, meta, data], 0);
    await fdatasync(fd);
  } finally {
    await close(fd);
  }
  await fs.promises.rename(tmp, final);
  await fsyncDir(dir);
  return final;
}

export function readSnapshotFile(file: string): Snapshot {
  const buf = fs.readFileSync(file);
  if (buf.length < FIXED || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new CorruptionError(file, 0, 'not a snapshot file (bad magic)');
  }
  const metaLen = buf.readUInt32LE(8);
  const want = buf.readUInt32LE(12);
  const dataLen = buf.readUInt32LE(16) + buf.readUInt32LE(20) * 0x1_0000_0000;
  if (FIXED + metaLen + dataLen !== buf.length) {
    throw new CorruptionError(file, 8, `lengths (meta ${metaLen}, data ${dataLen}) do not match file size ${buf.length}`);
  }
  const got = crc32c(buf, FIXED, buf.length);
  if (got !== want) throw new CorruptionError(file, 12, 'snapshot checksum mismatch');
  const meta = unpack(buf.subarray(FIXED, FIXED + metaLen)) as SnapshotMeta;
  return { meta, data: Uint8Array.prototype.slice.call(buf, FIXED + metaLen) };
}

/** Snapshot files in `dir`, newest (highest index) first. Removes leftover temp files unless read-only. */
export function listSnapshotFiles(dir: string, readOnly = false): Array<{ index: number; term: number; path: string }> {
  const out: Array<{ index: number; term: number; path: string }> = [];
  if (readOnly && !fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith('.snap.tmp')) {
      if (!readOnly) fs.rmSync(path.join(dir, name), { force: true });
      continue;
    }
    const m = NAME.exec(name);
    if (m) out.push({ index: parseInt(m[1] as string, 16), term: parseInt(m[2] as string, 16), path: path.join(dir, name) });
  }
  return out.sort((a, b) => b.index - a.index);
}

/** Loads the newest snapshot; a damaged newest snapshot is an error, not a silent fallback. */
export function loadNewestSnapshot(dir: string, readOnly = false): Snapshot | null {
  const newest = listSnapshotFiles(dir, readOnly)[0];
  if (!newest) return null;
  const snap = readSnapshotFile(newest.path);
  if (snap.meta.index !== newest.index || snap.meta.term !== newest.term) {
    throw new CorruptionError(newest.path, 0, `file name says ${newest.index}/${newest.term}, content says ${snap.meta.index}/${snap.meta.term}`);
  }
  return snap;
}

/** Removes snapshot files older than `index` (the one at `index` is durable already). */
export async function removeSnapshotsBefore(dir: string, index: number): Promise<void> {
  let removed = false;
  for (const s of listSnapshotFiles(dir)) {
    if (s.index < index) {
      await fs.promises.rm(s.path, { force: true });
      removed = true;
    }
  }
  if (removed) await fsyncDir(dir);
}
