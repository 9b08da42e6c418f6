// The baseline of the rebuild benchmark: the same physical copy done by hand on the same machine,
// `mariadb-backup --backup --stream=xbstream` of a running replica piped into `mbstream -x` in a fresh
// directory, then `mariadb-backup --prepare` of it. The account is in a 0600 option file (the agent's
// own writer of it), never on a command line.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Account } from '../../src/agent/config.js';
import { backupOptionFile } from '../../src/agent/copy-source.js';
import type { InstanceRecord } from '../../src/agent/registry.js';
import { mariadbBackupBinaries } from '../../src/launcher/server-binaries.js';

export interface BaselineResult {
  /** Bytes of the xbstream. */
  bytes: number;
  streamMs: number;
  prepareMs: number;
}

/** Resolves when the program exits 0; otherwise rejects with its name, exit and last stderr line. */
export function finished(child: ChildProcess, what: string): Promise<void> {
  let tail = '';
  child.stderr?.on('data', (c: Buffer) => (tail = (tail + c.toString()).slice(-2_048)));
  return new Promise((resolve, reject) => {
    child.once('error', (e) => reject(new Error(`bench: ${what}: ${e.message}`)));
    child.once('close', (code, sig) =>
      code === 0 ? resolve() : reject(new Error(`bench: ${what} exited with ${code ?? sig}: ${tail.trim().split('\n').pop() ?? ''}`)),
    );
  });
}

/** Counts what flows through (the stream's size, as the agent's meter counts it). */
export class Counter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/** Backs up `source` (a running storage instance of the agent) into a fresh dir under `workDir`, prepares it, removes it. */
export async function baselineCopy(source: InstanceRecord, account: Account, workDir: string): Promise<BaselineResult> {
  mkdirSync(workDir, { recursive: true });
  const work = mkdtempSync(join(workDir, 'baseline-'));
  try {
    const cnf = join(work, 'backup.cnf');
    backupOptionFile(cnf, source, account);
    const dest = join(work, 'data');
    mkdirSync(dest, { mode: 0o700 });
    const bin = mariadbBackupBinaries();
    const t0 = Date.now();
    const backup = spawn(bin.backup, [`--defaults-file=${cnf}`, '--backup', '--stream=xbstream', `--target-dir=${join(work, 'target')}`, `--tmpdir=${work}`], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const extract = spawn(bin.mbstream, ['-x', '-C', dest], { cwd: dest, stdio: ['pipe', 'ignore', 'pipe'] });
    const counter = new Counter();
    const ends = [finished(backup, 'mariadb-backup --backup'), finished(extract, 'mbstream -x')];
    try {
      await Promise.all([pipeline(backup.stdout, counter, extract.stdin), ...ends]);
    } catch (e) {
      backup.kill('SIGKILL');
      extract.kill('SIGKILL');
      await Promise.allSettled(ends);
      throw e;
    }
    const streamMs = Date.now() - t0;
    const t1 = Date.now();
    // The same options as the agent's --prepare, so the two differ only in how the bytes travel.
    const prep = spawn(bin.backup, ['--no-defaults', '--prepare', `--target-dir=${dest}`, '--use-memory=128M'], { cwd: dest, stdio: ['ignore', 'ignore', 'pipe'] });
    await finished(prep, 'mariadb-backup --prepare');
    return { bytes: counter.bytes, streamMs, prepareMs: Date.now() - t1 };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
