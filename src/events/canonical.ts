// Canonical MessagePack: map keys sorted, no undefined, integers in their smallest form. The same value
// always gives the same bytes on every member, so hashes over them are stable.
import { Packr, Unpackr } from 'msgpackr';
import { setOwn } from './json-limits.js';

const packr = new Packr({ useRecords: false, variableMapSize: true, moreTypes: false, bundleStrings: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

export class CanonicalError extends Error {
  override name = 'CanonicalError';
}

/** Deep copy with object keys sorted; refuses what has no canonical form (undefined, NaN, classes). */
export function canonicalize(x: unknown, path = '$'): unknown {
  if (x === null || typeof x === 'string' || typeof x === 'boolean') return x;
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) throw new CanonicalError(`${path}: non-finite number`);
    return Object.is(x, -0) ? 0 : x;
  }
  if (x instanceof Uint8Array) return x;
  if (Array.isArray(x)) return x.map((v, i) => canonicalize(v, `${path}[${i}]`));
  if (typeof x === 'object') {
    const proto = Object.getPrototypeOf(x) as unknown;
    if (proto !== Object.prototype && proto !== null) throw new CanonicalError(`${path}: not a plain object`);
    const src = x as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(src).sort()) {
      const v = src[k];
      if (v === undefined) throw new CanonicalError(`${path}.${k}: undefined`);
      setOwn(out, k, canonicalize(v, `${path}.${k}`));
    }
    return out;
  }
  throw new CanonicalError(`${path}: cannot encode ${typeof x}`);
}

export function encodeCanonical(x: unknown): Uint8Array {
  return packr.pack(canonicalize(x));
}

/** Packs a value that is already canonical (sorted keys, no undefined), skipping the copy. */
export function packSorted(x: unknown): Uint8Array {
  return packr.pack(x);
}

export function decodeMsgpack(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes);
}

/** Reads consecutive MessagePack values, reporting each with its byte range. */
export function decodeMultiple(bytes: Uint8Array, each: (value: unknown, start: number, end: number) => void): void {
  unpackr.unpackMultiple(bytes, (value: unknown, start?: number, end?: number) => {
    each(value, start ?? 0, end ?? bytes.length);
  });
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** True when `bytes` is exactly the canonical encoding of what it decodes to. */
export function isCanonical(bytes: Uint8Array): boolean {
  try {
    return bytesEqual(encodeCanonical(decodeMsgpack(bytes)), bytes);
  } catch {
    return false;
  }
}
