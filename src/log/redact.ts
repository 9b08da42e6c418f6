// Secrets never reach a log line, the event mirror or audit output. Redaction is by key name, at any
// depth, plus credentials embedded in URLs ("mysql://user:secret@host"). The same function serves the
// logger, the JetStream mirror and the replay tool, so one list decides what is secret everywhere.
import { setOwn } from '../events/json-limits.js';

/** Key names (compared case-insensitively, ignoring "_" and "-") whose values are secret. */
const SECRET_KEYS = new Set(
  [
    'password', 'passwd', 'pwd', 'pass', 'secret', 'token', 'apitoken', 'authorization', 'cookie',
    'metapwd', 'computerpwd', 'computerpasswd', 'adminpassword', 'replpassword', 'replpasswd',
    'rootpassword', 'privatekey', 'accesskey', 'secretkey', 'credentials',
  ].map(norm),
);

export const REDACTED = '<redacted>';

function norm(k: string): string {
  return k.toLowerCase().replace(/[_-]/g, '');
}

export function isSecretKey(key: string): boolean {
  const n = norm(key);
  if (SECRET_KEYS.has(n)) return true;
  // Suffixes catch names like repl_pwd, meta_password, s3_secret, x-auth-token.
  return /(password|passwd|pwd|secret|token)$/.test(n);
}

const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]*:)[^@/?#\s]+@/gi;
const BEARER = /\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/g;

export function redactString(s: string): string {
  return s.replace(URL_CREDENTIALS, `$1${REDACTED}@`).replace(BEARER, `$1${REDACTED}`);
}

/** A deep copy with secret values replaced; cycles and very deep nesting are cut, never followed. */
export function redactSecrets<T>(value: T, depth = 0, seen = new WeakSet<object>()): T {
  if (typeof value === 'string') return redactString(value) as T;
  if (value === null || typeof value !== 'object') return value;
  if (depth > 12) return '<too deep>' as T;
  if (seen.has(value)) return '<cycle>' as T;
  seen.add(value);
  if (value instanceof Error) {
    const out: Record<string, unknown> = { type: value.name, message: redactString(value.message) };
    if (value.stack) out.stack = redactString(value.stack);
    for (const [k, v] of Object.entries(value)) {
      setOwn(out, k, isSecretKey(k) ? REDACTED : redactSecrets(v, depth + 1, seen));
    }
    return out as T;
  }
  if (Array.isArray(value)) return value.map((v: unknown) => redactSecrets(v, depth + 1, seen)) as T;
  if (value instanceof Uint8Array || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    setOwn(out, k, isSecretKey(k) && v !== '' && v !== null && v !== undefined ? REDACTED : redactSecrets(v, depth + 1, seen));
  }
  return out as T;
}
