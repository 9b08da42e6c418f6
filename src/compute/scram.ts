// PostgreSQL's SCRAM-SHA-256 password verifier (RFC 5802/7677, as stored in pg_authid.rolpassword).
// The manager computes it itself so the plaintext password never travels in an SQL statement (where
// log_statement would record it), and so "is the password already right?" can be answered by
// checking the stored verifier instead of resetting it on every run.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'SCRAM-SHA-256';
/** PostgreSQL's default (scram_iterations). */
const ITERATIONS = 4096;

function keys(password: string, salt: Buffer, iterations: number): { stored: Buffer; server: Buffer } {
  // No SASLprep: ASCII passwords are unchanged by it; node-pg's client does not apply it either.
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const client = createHmac('sha256', salted).update('Client Key').digest();
  return {
    stored: createHash('sha256').update(client).digest(),
    server: createHmac('sha256', salted).update('Server Key').digest(),
  };
}

/** A fresh verifier (random salt) for `password`. */
export function scramVerifier(password: string, iterations = ITERATIONS, salt: Buffer = randomBytes(16)): string {
  const k = keys(password, salt, iterations);
  return `${PREFIX}$${iterations}:${salt.toString('base64')}$${k.stored.toString('base64')}:${k.server.toString('base64')}`;
}

/** Does a stored rolpassword accept `password`? False for md5, plain or malformed values. */
export function scramMatches(stored: string | null, password: string): boolean {
  const m = stored === null ? null : /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(stored);
  if (m === null) return false;
  const iterations = Number(m[1]);
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > 10_000_000) return false;
  const k = keys(password, Buffer.from(m[2]!, 'base64'), iterations);
  const stored64 = Buffer.from(m[3]!, 'base64');
  const server64 = Buffer.from(m[4]!, 'base64');
  return (
    stored64.length === k.stored.length &&
    server64.length === k.server.length &&
    timingSafeEqual(stored64, k.stored) &&
    timingSafeEqual(server64, k.server)
  );
}
