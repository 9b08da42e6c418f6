// Runtime validation of a decoded event, with upcasting of older schema versions to the current one.
import { eventDef, type DomainEvent, type EventDef } from './catalog.js';
import { causeSchema, parseAgg, type AggRef } from './envelope.js';

export type Checked = { ok: true; event: DomainEvent } | { ok: false; reason: string };

const ENVELOPE_KEYS = new Set(['type', 'v', 'agg', 'at', 'cause', 'data']);

function isRecord(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null) return false;
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Checks the envelope and the data against the catalog. Data of an older version is checked against
 * that version's schema, then lifted version by version; the result always has the current `v`.
 */
export function checkEvent(x: unknown): Checked {
  const r = validateEvent(x);
  return typeof r === 'string' ? { ok: false, reason: r } : { ok: true, event: r };
}

/**
 * The same without allocating on success (the replay path): the event, or the reason it is refused.
 * With `refs` (x is a value just decoded, owned by the caller), the parsed aggregate id is stored at
 * `refs[slot]` (apply needs it too).
 */
export function validateEvent(x: unknown, refs?: AggRef[], slot = 0): DomainEvent | string {
  if (!isRecord(x)) return 'event: expected object';
  for (const k in x) if (!ENVELOPE_KEYS.has(k)) return `event.${k}: unknown field`;
  const { type, v, agg, at, cause, data } = x;
  if (typeof type !== 'string') return 'event.type: expected string';
  const def = eventDef(type);
  if (def === undefined) return `event.type: unknown event type ${JSON.stringify(type)}`;
  if (typeof agg !== 'string') return 'event.agg: expected string';
  const ref = parseAgg(agg);
  if (ref === null) return `event.agg: malformed aggregate id ${JSON.stringify(agg)}`;
  if (ref.kind !== def.kind) return `event.agg: ${type} belongs to a ${def.kind}, not ${agg}`;
  if (refs !== undefined) refs[slot] = ref;
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) {
    return 'event.at: expected a non-negative integer (ms since epoch)';
  }
  const ce = causeSchema.check(cause, 'event.cause');
  if (ce !== null) return ce;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > def.v) {
    return `event.v: ${type} has versions 1..${def.v}, got ${String(v)}`;
  }
  if (v === def.v) {
    const e = def.data.check(data, 'event.data');
    if (e !== null) return e;
    // A freshly decoded event (refs given) takes the catalog's string for its type: apply switches on
    // it many times per event, and comparing to a constant is then a pointer test, not a string compare.
    if (refs !== undefined) x.type = def.type;
    return x as unknown as DomainEvent;
  }
  const lifted = upcast(def, v, data);
  if (typeof lifted === 'string') return lifted;
  return { type: def.type, v: def.v, agg, at, cause, data: lifted } as unknown as DomainEvent;
}

/** Lifts `data` of version `from` to the current version, checking each version on the way. */
export function upcast(def: EventDef, from: number, data: unknown): unknown {
  let d = data;
  for (let v = from; v < def.v; v++) {
    const past = def.past[v - 1];
    if (past === undefined || past.v !== v) return `event.v: no schema for version ${v}`;
    const e = past.data.check(d, `event.data(v${v})`);
    if (e !== null) return e;
    d = past.up(d as never);
  }
  const e = def.data.check(d, 'event.data');
  return e === null ? d : `upcast produced invalid data: ${e}`;
}
