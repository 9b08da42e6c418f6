// Lock files that hold their owner's pid: one process at a time per directory (a member's data
// directory, an agent's base dir) or per claim (a port block). The file is created exclusively; a
// holder that is gone (or a zombie, as right after a kill -9) no longer counts.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';

/** True when `pid` runs (a zombie does not: it holds nothing any more). */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the command name in parentheses, which may itself contain ") ".
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X' && state !== '';
  } catch {
    return false;
  }
}

/** The live process named in lock file `file`, or null (no file, no pid in it, or its holder is gone). */
export function lockHolder(file: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8').trim());
  } catch {
    return null;
  }
  return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : null;
}

export interface AcquireOptions {
  /** How the error names the holder ("process" by default): "… is in use by <holder> 1234 (<file>)". */
  holder?: string;
  /** A file naming this very process is taken over (an agent restarted in-process) instead of refused. */
  takeOverOwn?: boolean;
}

export class PidLock {
  private constructor(readonly file: string) {}

  /** Creates `file` holding this pid, or null when it exists already (whoever wrote it). */
  static tryCreate(file: string): PidLock | null {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return null;
      throw e;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    return new PidLock(file);
  }

  /** Takes `file`, taking over one left by a process that is gone; `what` names the locked thing in errors. */
  static acquire(file: string, what: string, o: AcquireOptions = {}): PidLock {
    for (let attempt = 0; attempt < 3; attempt++) {
      const lock = PidLock.tryCreate(file);
      if (lock) return lock;
      const holder = lockHolder(file);
      if (holder !== null && !(o.takeOverOwn && holder === process.pid)) {
        throw new Error(`${what} is in use by ${o.holder ?? 'process'} ${holder} (${file})`);
      }
      rmSync(file, { force: true });
    }
    throw new Error(`could not lock ${what} (${file})`);
  }

  /** Removes the file if it still names this process (a takeover by another leaves theirs alone). */
  release(): void {
    let content: string;
    try {
      content = readFileSync(this.file, 'utf8').trim();
    } catch {
      return;
    }
    if (content === String(process.pid)) rmSync(this.file, { force: true });
  }
}
