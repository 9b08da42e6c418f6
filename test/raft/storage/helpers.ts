// Shared helpers for the storage tests: temp dirs and entry builders.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Entry } from '../../../src/raft/types.js';

export function tempDir(t: { teardown: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmgr-raft-storage-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function entry(index: number, term: number, size = 16): Entry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + term * 7 + i) & 0xff;
  return { index, term, kind: 'normal', data };
}

export function range(from: number, to: number, term: number, size = 16): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term, size));
  return out;
}

/** Compact description for comparing logs in assertions. */
export function describe(entries: readonly Entry[]): string[] {
  return entries.map((e) => `${e.index}/${e.term}/${e.kind}/${Buffer.from(e.data).toString('hex')}`);
}

/** Deterministic PRNG so a failing case can be rerun. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export function walFiles(dir: string): string[] {
  const w = path.join(dir, 'wal');
  return fs.readdirSync(w).filter((f) => f.endsWith('.wal')).sort().map((f) => path.join(w, f));
}
