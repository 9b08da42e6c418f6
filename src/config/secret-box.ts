// Secrets at rest: a password that must travel through the Raft log (create_cluster's compute password)
// is sealed with AES-256-GCM under the members' shared key (secrets_key_file) before it is proposed, and
// opened only where it is used. The sealed form is an opaque string the pure actors store as is.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ConfigError } from './cnf-file.js';
import { readSecretFile } from './secret-file.js';

export const SEALED_PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** The key from a file: 64 hex digits or the base64 of 32 bytes (`openssl rand -hex 32`). */
  static fromFile(path: string, warn?: (msg: string) => void): SecretBox {
    return SecretBox.fromText(readSecretFile(path, 'secrets_key_file', warn), `secrets_key_file ${path}`);
  }

  static fromText(text: string, where = 'secrets key'): SecretBox {
    const t = text.trim();
    const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
    if (key.length !== 32) throw new ConfigError(`${where}: a key is 32 bytes, written as 64 hex digits or base64`);
    return new SecretBox(key);
  }

  /** A fresh key as the key file holds it. */
  static generateKeyText(): string {
    return `${randomBytes(32).toString('hex')}\n`;
  }

  seal(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return SEALED_PREFIX + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
  }

  /** The clear text of a sealed value; a value that is not sealed (an older log) is returned as is. */
  open(value: string): string {
    if (!isSealed(value)) return value;
    const raw = Buffer.from(value.slice(SEALED_PREFIX.length), 'base64');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('sealed secret is truncated');
    const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
    d.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([d.update(raw.subarray(IV_BYTES + TAG_BYTES)), d.final()]).toString('utf8');
    } catch {
      throw new Error('sealed secret does not open with this secrets_key_file (another key, or altered)');
    }
  }
}

export function isSealed(value: string): boolean {
  return value.startsWith(SEALED_PREFIX);
}
