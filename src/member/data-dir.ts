// A member's data directory, held by one process at a time: a second member pointed at the same
// directory would corrupt the Raft log, so start-up refuses it and names the holder.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirLock {
  private constructor(readonly dir: string, private readonly lockFile: string) {}

  static acquire(dir: string): DataDirLock {
    mkdirSync(dir, { recursive: true });
    const lockFile = join(dir, 'LOCK');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(lockFile, 'wx', 0o600);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        return new DataDirLock(dir, lockFile);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const holder = Number(readFileSync(lockFile, 'utf8').trim());
        if (Number.isInteger(holder) && holder > 0 && alive(holder)) {
          throw new Error(`data directory ${dir} is in use by process ${holder} (${lockFile})`, { cause: e });
        }
        // Left by a member that died: take it over.
        rmSync(lockFile, { force: true });
      }
    }
    throw new Error(`could not lock data directory ${dir}`);
  }

  release(): void {
    if (existsSync(this.lockFile) && readFileSync(this.lockFile, 'utf8').trim() === String(process.pid)) {
      rmSync(this.lockFile, { force: true });
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
