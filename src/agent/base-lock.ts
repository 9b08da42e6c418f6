// One agent per base dir: two agents would both restart the same instances. The lock file holds the
// holder's pid; a holder that is gone (or a zombie, as right after a kill -9) no longer counts.
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from './procfs.js';

export class BaseDirLock {
  private constructor(private readonly file: string) {}

  static acquire(dir: string): BaseDirLock {
    const file = join(dir, 'agent.lock');
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        return new BaseDirLock(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const holder = Number(readFileSync(file, 'utf8').trim());
        if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && pidAlive(holder)) {
          throw new Error(`base dir ${dir} is in use by another agent, process ${holder} (${file})`, { cause: e });
        }
        rmSync(file, { force: true });
      }
    }
    throw new Error(`could not lock base dir ${dir}`);
  }

  release(): void {
    if (existsSync(this.file) && readFileSync(this.file, 'utf8').trim() === String(process.pid)) {
      rmSync(this.file, { force: true });
    }
  }
}
