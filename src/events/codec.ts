// The Raft log codec. One log entry holds one batch: the header `[1, count]` then each event, all
// canonical MessagePack values back to back, so every member hashes the same stored event bytes.
import type { DomainEvent } from './catalog.js';
import { decodeMsgpack, decodeMultiple, encodeCanonical, packSorted } from './canonical.js';
import type { AggRef } from './envelope.js';
import { checkEvent, validateEvent } from './validate.js';

export const BATCH_FORMAT = 1;
export const MAX_BATCH_EVENTS = 10_000;

export class DecodeError extends Error {
  override name = 'DecodeError';

  constructor(
    readonly pos: number,
    reason: string,
  ) {
    super(pos >= 0 ? `event ${pos}: ${reason}` : reason);
  }
}

/** Canonical bytes of a valid event (refused if it does not pass the catalog, so nothing bad is proposed). */
export function encodeEvent(e: DomainEvent): Uint8Array {
  const c = checkEvent(e);
  if (!c.ok) throw new DecodeError(-1, `refusing to encode an invalid event: ${c.reason}`);
  if (c.event.v !== e.v) throw new DecodeError(-1, `refusing to encode an old version of ${e.type}`);
  return encodeCanonical(e);
}

/** Decodes and validates one event, upcasting older versions. */
export function decodeEvent(bytes: Uint8Array): DomainEvent {
  let raw: unknown;
  try {
    raw = decodeMsgpack(bytes);
  } catch (err) {
    throw new DecodeError(-1, `not MessagePack: ${(err as Error).message}`);
  }
  const c = checkEvent(raw);
  if (!c.ok) throw new DecodeError(-1, c.reason);
  return c.event;
}

export function encodeBatch(events: readonly DomainEvent[]): Uint8Array {
  return encodeBatchRaw(events.map(encodeEvent));
}

/**
 * Frames already-encoded events (e.g. a test writing an old version, or a replayed log): the header
 * `[1, count]` followed by the events, as consecutive MessagePack values. One decoder pass reads them
 * all and reports where each event's bytes are, so the chain hashes them without copying.
 */
export function encodeBatchRaw(raws: readonly Uint8Array[]): Uint8Array {
  if (raws.length === 0) throw new DecodeError(-1, 'empty batch');
  if (raws.length > MAX_BATCH_EVENTS) throw new DecodeError(-1, `more than ${MAX_BATCH_EVENTS} events`);
  const header = packSorted([BATCH_FORMAT, raws.length]);
  return Buffer.concat([header, ...raws]);
}

export interface DecodedBatch {
  events: DomainEvent[];
  /** The stored bytes of each event, for the hash chain and the mirror. */
  raws: Uint8Array[];
}

/** The stored bytes of each event of an entry (the framing is checked, the events are not validated). */
export function splitBatch(bytes: Uint8Array): Uint8Array[] {
  const { buf, values, offsets } = readFrames(bytes);
  return values.map((_, i) => buf.subarray(offsets[2 * i], offsets[2 * i + 1]));
}

interface Frames {
  buf: Buffer;
  values: unknown[];
  /** Event i's bytes are buf[offsets[2i], offsets[2i+1]). */
  offsets: number[];
}

function readFrames(bytes: Uint8Array): Frames {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values: unknown[] = [];
  const offsets: number[] = [];
  let header: unknown = undefined;
  let first = true;
  try {
    decodeMultiple(buf, (value, start, end) => {
      if (first) {
        header = value;
        first = false;
        return;
      }
      values.push(value);
      offsets.push(start, end);
    });
  } catch (err) {
    throw new DecodeError(first ? -1 : values.length, `not MessagePack: ${(err as Error).message}`);
  }
  if (!Array.isArray(header) || header.length !== 2 || header[0] !== BATCH_FORMAT) {
    throw new DecodeError(-1, `batch: expected the header [${BATCH_FORMAT}, count]`);
  }
  const n = values.length;
  if (header[1] !== n || n === 0 || n > MAX_BATCH_EVENTS) {
    throw new DecodeError(-1, `batch: header says ${String(header[1])} events, found ${n}`);
  }
  return { buf, values, offsets };
}

/** Decodes and validates a whole batch; the first bad event fails it (position in DecodeError.pos). */
export function decodeBatch(bytes: Uint8Array): DecodedBatch {
  const { buf, values, offsets } = decodeFramed(bytes);
  return { events: values, raws: values.map((_, i) => buf.subarray(offsets[2 * i], offsets[2 * i + 1])) };
}

/** An entry decoded for apply: validated events, their parsed aggregate ids, and where their bytes are. */
export interface FramedBatch {
  buf: Buffer;
  values: DomainEvent[];
  refs: AggRef[];
  offsets: number[];
}

/** decodeBatch without copying event bytes out (the replay path): offsets into the entry instead. */
export function decodeFramed(bytes: Uint8Array): FramedBatch {
  const { buf, values, offsets } = readFrames(bytes);
  const n = values.length;
  const refs = new Array<AggRef>(n);
  for (let i = 0; i < n; i++) {
    const e = validateEvent(values[i], refs, i);
    if (typeof e === 'string') throw new DecodeError(i, e);
    values[i] = e;
  }
  return { buf, values: values as DomainEvent[], refs, offsets };
}
