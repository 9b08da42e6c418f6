// A member's data directory (Raft log and snapshots), held by one process at a time: a second member pointed at the same
// directory would corrupt the Raft log, so start-up refuses it and names the holder.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { lockHolder, PidLock } from '../../launcher/pid-lock.js';

const lockFile = (dir: string): string => join(dir, 'LOCK');

export function lockDataDir(dir: string): PidLock {
  mkdirSync(dir, { recursive: true });
  return PidLock.acquire(lockFile(dir), `data directory ${dir}`);
}

/** The live member process holding `dir`, or null. */
export function dataDirHolder(dir: string): number | null {
  return lockHolder(lockFile(dir));
}
