// The hash chain over committed events: h(n) = SHA-256(h(n-1) || bytes(n)), from 32 zero bytes.
// bytes(n) is the event exactly as stored in the log, except that events with secret fields are
// hashed in their canonical redacted form, so the chain verifies from the redacted JetStream mirror
// too (a change to a secret value alone is therefore not detected by the chain).
import { hash } from 'node:crypto';
import { decodeMsgpack, encodeCanonical } from './canonical.js';
import { hasSecrets, redactRaw } from './redact.js';

export const GENESIS_HASH: Uint8Array = new Uint8Array(32);

let scratch = Buffer.alloc(4096);

/** SHA-256 of prev || bytes; one-shot hashing into a reused buffer (createHash costs more). */
export function chainHash(prev: Uint8Array, bytes: Uint8Array): Buffer {
  return Buffer.from(chainHashBinary(Buffer.from(prev).toString('latin1'), bytes), 'latin1');
}

/**
 * The same with the hashes as 32-character binary (latin1) strings: the replay path hashes every
 * event, and a short string is much cheaper to make than a Buffer.
 */
export function chainHashBinary(prev: string, bytes: Uint8Array): string {
  const need = 32 + bytes.length;
  if (scratch.length < need) scratch = Buffer.alloc(Math.max(need, scratch.length * 2));
  scratch.write(prev, 0, 'latin1');
  scratch.set(bytes, 32);
  return hash('sha256', scratch.subarray(0, need), 'binary');
}

/** chainHashBinary over buf[start, end) without making a view of it. */
export function chainHashRange(prev: string, buf: Buffer, start: number, end: number): string {
  const need = 32 + end - start;
  if (scratch.length < need) scratch = Buffer.alloc(Math.max(need, scratch.length * 2));
  scratch.write(prev, 0, 'latin1');
  buf.copy(scratch, 32, start, end);
  return hash('sha256', scratch.subarray(0, need), 'binary');
}

export const binaryToHex = (h: string): string => Buffer.from(h, 'latin1').toString('hex');

/** The bytes an event contributes to the chain (see the header). */
export function hashableBytes(type: string, stored: Uint8Array): Uint8Array {
  return hasSecrets(type) ? encodeCanonical(redactRaw(decodeMsgpack(stored))) : stored;
}

export interface ChainRecord {
  /** Position of the event in the chain, 1-based. */
  seq: number;
  /** Raft index of the entry that carried it, when known (reported with a break). */
  index?: number;
  /** Event type (decides whether secrets are redacted before hashing). */
  type: string;
  /** The event bytes as stored (or as mirrored, redacted). */
  bytes: Uint8Array;
  /** The hash recorded for it (hex), by the member or the mirror. */
  hash: string;
}

export type ChainCheck =
  | { ok: true; count: number; head: string }
  | { ok: false; seq: number; index: number | null; reason: string; expected: string; actual: string };

/**
 * Recomputes the chain over `records` (in order, starting after `prev`) and reports the first record
 * whose recorded hash disagrees: a changed event breaks its own link and every later one.
 */
export function verifyChain(records: Iterable<ChainRecord>, prev: Uint8Array = GENESIS_HASH): ChainCheck {
  if (prev.length !== 32) throw new Error('verifyChain: prev must be 32 bytes');
  let h = Buffer.from(prev).toString('latin1');
  let count = 0;
  let lastSeq: number | null = null;
  for (const r of records) {
    if (lastSeq !== null && r.seq !== lastSeq + 1) {
      const reason = `gap: seq ${lastSeq} is followed by ${r.seq}`;
      return { ok: false, seq: r.seq, index: r.index ?? null, reason, expected: '', actual: '' };
    }
    lastSeq = r.seq;
    const next = chainHashBinary(h, hashableBytes(r.type, r.bytes));
    const actual = binaryToHex(next);
    if (actual !== r.hash) {
      const reason = 'hash mismatch: the event or an earlier one was altered';
      return { ok: false, seq: r.seq, index: r.index ?? null, reason, expected: r.hash, actual };
    }
    h = next;
    count++;
  }
  return { ok: true, count, head: binaryToHex(h) };
}
