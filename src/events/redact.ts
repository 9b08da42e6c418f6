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
  if (typeof e !== 'object' || e === null) return e;
  const ev = e as { type?: unknown; data?: unknown };
  const paths = typeof ev.type === 'string' ? SECRET_PATHS.get(ev.type as EventType) : undefined;
  if (paths === undefined) return e;
  return { ...ev, data: redactPaths(ev.data, paths) };
}

function redactPaths(data: unknown, paths: readonly string[]): unknown {
  let out = data;
  for (const p of paths) out = redactPath(out, p.split('.'));
  return out;
}

function redactPath(x: unknown, parts: string[]): unknown {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return x;
  const [head, ...rest] = parts;
  if (head === undefined) return x;
  const src = x as Record<string, unknown>;
  if (!(head in src)) return x;
  const v = src[head];
  const next = rest.length === 0 ? (v === null || v === undefined ? v : REDACTED) : redactPath(v, rest);
  return { ...src, [head]: next };
}
