// The agent's small state files (the registry, the copies' outcomes): replaced atomically (write a
// temporary file, fsync, rename, fsync the directory), 0600, so a kill -9 at any moment leaves either
// the old or the new version and nobody else on the machine reads them.
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { fsyncDirSync } from '../raft/storage/fsio.js';

export function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncDirSync(dirname(file));
}
