// The one interface every kind of backup storage offers (a directory, an S3 bucket, HDFS): objects
// named by relative keys, written from a stream with their size and SHA-256 checked, read back as a
// stream, listed and deleted. Backups, binlog archives and the create job's probe all go through it.
import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  size: number;
}

export interface PutResult {
  size: number;
  /** SHA-256 of the bytes written, hex. */
  sha256: string;
}

export interface PutOptions {
  /** When given, a stream of another length is refused (and nothing is left under the key). */
  size?: number;
  /** When given (hex), a stream with another digest is refused (and nothing is left under the key). */
  sha256?: string;
}

export interface BackupStore {
  /** "fs /mnt/backups", "s3 bucket/prefix at endpoint" …: for errors and logs (never a secret). */
  readonly describe: string;
  put(key: string, body: Readable, opts?: PutOptions): Promise<PutResult>;
  get(key: string): Promise<Readable>;
  /** Objects whose key starts with `prefix` ('' for all), by key. */
  list(prefix?: string): Promise<StoredObject[]>;
  /** Deleting a key that is not there is not an error. */
  delete(key: string): Promise<void>;
}

/** A storage that cannot be used: its kind, where, and why (never a credential). */
export class StorageError extends Error {
  override name = 'StorageError';
}

const KEY_RE = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

/** Keys are relative paths of plain segments: never absolute, never "..", so none leaves its storage. */
export function checkKey(key: string): string {
  if (key.length > 1024 || !KEY_RE.test(key) || key.split('/').some((s) => s === '.' || s === '..')) {
    throw new StorageError(`backup storage key ${JSON.stringify(key.slice(0, 80))} is not a relative path of letters, digits, ".", "_", "-"`);
  }
  return key;
}

/** The size and digest a put was asked for, against what came: a StorageError naming the difference. */
export function checkPut(key: string, got: PutResult, want: PutOptions | undefined): void {
  if (want?.size !== undefined && want.size !== got.size) throw new StorageError(`${key}: ${got.size} bytes came, ${want.size} were expected`);
  if (want?.sha256 !== undefined && want.sha256.toLowerCase() !== got.sha256) throw new StorageError(`${key}: SHA-256 ${got.sha256} differs from the expected ${want.sha256}`);
}
