// The by-hand side of the backup benchmark: what an operator would run on the node,
// `mariadb-backup --backup --stream=xbstream` of the same running replica piped into `gzip -1` (the
// job's compression: gzip, level 1) into a file in the same storage directory. The account is in a
// 0600 option file (the agent's own writer of it), never on a command line.
import { spawn } from 'node:child_process';
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Account } from '../../src/agent/config.js';
import { backupOptionFile } from '../../src/agent/copy-source.js';
import type { InstanceRecord } from '../../src/agent/registry.js';
import { mariadbBackupBinaries } from '../../src/launcher/server-binaries.js';
import { Counter, finished } from '../rebuild/baseline.js';

export interface ByHandResult {
  /** Bytes of the xbstream. */
  streamBytes: number;
  /** Bytes of the gzip file. */
  storedBytes: number;
  ms: number;
}

/** Backs `source` up into `file` (then removed: only its size is kept); scratch files go under `workDir`. */
export async function backupByHand(source: InstanceRecord, account: Account, workDir: string, file: string): Promise<ByHandResult> {
  mkdirSync(workDir, { recursive: true });
  const work = mkdtempSync(join(workDir, 'by-hand-'));
  const out = openSync(file, 'w', 0o600);
  try {
    const cnf = join(work, 'backup.cnf');
    backupOptionFile(cnf, source, account);
    const t0 = Date.now();
    const backup = spawn(mariadbBackupBinaries().backup, [`--defaults-file=${cnf}`, '--backup', '--stream=xbstream', `--target-dir=${join(work, 'target')}`, `--tmpdir=${work}`], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const gzip = spawn('gzip', ['-1'], { cwd: work, stdio: ['pipe', out, 'pipe'] });
    const counter = new Counter();
    const ends = [finished(backup, 'mariadb-backup --backup'), finished(gzip, 'gzip -1')];
    try {
      await Promise.all([pipeline(backup.stdout, counter, gzip.stdin!), ...ends]);
    } catch (e) {
      backup.kill('SIGKILL');
      gzip.kill('SIGKILL');
      await Promise.allSettled(ends);
      throw e;
    }
    // The fs storage syncs each object before it counts as stored; so does this file.
    fsyncSync(out);
    const ms = Date.now() - t0;
    return { streamBytes: counter.bytes, storedBytes: statSync(file).size, ms };
  } finally {
    closeSync(out);
    rmSync(file, { force: true });
    rmSync(work, { recursive: true, force: true });
  }
}
