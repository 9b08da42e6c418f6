// Redaction of secret fields (marked with `secret()` in the catalog) for the JetStream mirror, audit
// output and logs. The Raft log keeps them: the leader's reconcilers need them after a failover.
import { SECRET_PATHS, type DomainEvent, type EventType } from './catalog.js';

export const REDACTED = '[redacted]';

export function hasSecrets(type: string): boolean {
  return SECRET_PATHS.has(type as EventType);
}

/** A copy of the event with every secret value replaced by "[redacted]" (null stays null). */
export function redactEvent<E extends DomainEvent>(e: E): E {
  return redactRaw(e) as E;
}

/** The same on an undecoded-shape event object (any version), used for hashing and the mirror. */
export function redactRaw(e: unknown): unknown {
  return mapSecretFields(e, () => REDACTED);
}

/**
 * A copy of the event with every secret value (not null) replaced by fn(value): redaction, or the
 * leader sealing passwords before it proposes them (src/member/seal-secrets.ts).
 */
export function mapSecretFields(e: unknown, fn: (v: unknown) => unknown): unknown {
  if (typeof e !== 'object' || e === null) return e;
  const ev = e as { type?: unknown; data?: unknown };
  const paths = typeof ev.type === 'string' ? SECRET_PATHS.get(ev.type as EventType) : undefined;
  if (paths === undefined) return e;
  let data = ev.data;
  for (const p of paths) data = mapPath(data, p.split('.'), fn);
  return { ...ev, data };
}

function mapPath(x: unknown, parts: string[], fn: (v: unknown) => unknown): unknown {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return x;
  const [head, ...rest] = parts;
  if (head === undefined) return x;
  const src = x as Record<string, unknown>;
  if (!(head in src)) return x;
  const v = src[head];
  const next = rest.length === 0 ? (v === null || v === undefined ? v : fn(v)) : mapPath(v, rest, fn);
  return { ...src, [head]: next };
}
