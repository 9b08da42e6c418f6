// Small helpers over entry lists.
import type { Entry } from '../types.js';

/** Bytes an entry counts for in size limits: its payload plus a fixed allowance for its header. */
export function entrySize(e: Entry): number {
  return e.data.byteLength + 24;
}

export function payloadSize(ents: readonly Entry[]): number {
  let n = 0;
  for (const e of ents) n += e.data.byteLength;
  return n;
}

/** The longest prefix within maxBytes, but never less than one entry (progress beats the limit). */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length <= 1) return ents;
  let size = entrySize(ents[0]!);
  for (let i = 1; i < ents.length; i++) {
    size += entrySize(ents[i]!);
    if (size > maxBytes) return ents.slice(0, i);
  }
  return ents;
}
