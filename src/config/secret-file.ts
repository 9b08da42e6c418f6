// Files that hold a secret (tokens, the Raft secret, NATS passwords, the secrets key): written 0600,
// read with a warning when others may read them, never echoed. One place, so every secret file is
// treated the same and an operator sees the same warning for each.
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError } from './cnf-file.js';

/** Writes `content` to a file only its owner can read (an existing file is narrowed to 0600 too). */
export function writeSecretFile(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** A warning when group or others may read the file, else null. */
export function looseModeWarning(path: string): string | null {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return null;
  }
  if ((mode & 0o077) === 0) return null;
  return `${path} holds a secret but is mode ${(mode & 0o777).toString(8).padStart(4, '0')}: ` +
    `others on this machine can read it; run chmod 600 ${path}`;
}

/**
 * The secret in a file (trailing new lines removed). `what` names the key that points at it, for the
 * error; `warn` receives the mode warning. An empty or unreadable file stops the start.
 */
export function readSecretFile(path: string, what: string, warn: (msg: string) => void = () => {}): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${what}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const value = text.replace(/[\r\n]+$/, '');
  if (value === '') throw new ConfigError(`${what}: ${path} is empty`);
  const loose = looseModeWarning(path);
  if (loose) warn(`${what}: ${loose}`);
  return value;
}

/** True for 127.0.0.0/8, ::1 and "localhost": addresses only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  const h = host.replace(/^::ffff:/, '');
  return isIP(h) === 4 && h.startsWith('127.');
}

/** A warning when a configuration file that sets a secret key may be read by others, else null. */
export function looseConfigWarning(
  file: string | null,
  keys: readonly { name: string; secret?: boolean }[],
  sources: Readonly<Record<string, string>>,
  values: Readonly<Record<string, unknown>>,
): string | null {
  if (file === null) return null;
  // A value's source is "default", "environment X", "--set" or "<file>:<line>".
  const fromFile = (src: string | undefined): boolean => src !== undefined && src !== 'default' && src !== '--set' && !src.startsWith('environment ');
  const inFile = keys.filter((k) => k.secret && values[k.name] !== '' && fromFile(sources[k.name])).map((k) => k.name);
  if (inFile.length === 0) return null;
  const loose = looseModeWarning(file);
  return loose ? `${inFile.join(', ')} set in a file others may read: ${loose}` : null;
}
