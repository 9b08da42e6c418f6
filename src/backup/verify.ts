// Verifies a stored shard backup by restoring it: the data object is read back from the storage (its
// size and SHA-256 checked against the manifest), uncompressed and extracted with mbstream, its binlog
// position compared with the manifest's, prepared with `mariadb-backup --prepare`, and started as a
// scratch mariadbd (src/launcher) on a free loopback port in a private temporary directory. There every
// user table passes CHECK TABLE and is counted and checksummed; the checksums' digest is what a
// restore (or a test) compares with the source's. The scratch server and its files are removed after.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { RowDataPacket } from 'mysql2/promise';
import type { Account } from '../agent/client.js';
import { binlogPosition } from '../agent/copy-target.js';
import { Digesting } from '../backup-storage/hashing.js';
import type { BackupStore } from '../backup-storage/index.js';
import { freePort, MariaDbInstance } from '../launcher/index.js';
import { mariadbBackupBinaries } from '../launcher/server-binaries.js';
import { baseTables, tableChecksums, tableName } from '../storage-node/table-checksums.js';
import type { BackupManifest } from './manifest.js';

export type VerifyResult = {
  /** GTID position of the restored copy (its binlog info), equal to the manifest's. */
  gtid: string;
  /** @@gtid_slave_pos of the restored server (a replica's copy: where it had applied up to). */
  gtid_slave_pos: string;
  tables: number;
  rows: number;
  /** SHA-256 of the sorted "schema.table=checksum" lines of CHECKSUM TABLE. */
  checksums_sha256: string;
  seconds: number;
};

export class VerifyError extends Error {
  override name = 'VerifyError';
}

/** The digest of a {"schema.table": checksum} map, as verify records it. */
export function checksumsDigest(sums: Readonly<Record<string, string>>): string {
  const lines = Object.keys(sums).sort().map((k) => `${k}=${sums[k]}`);
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

function run(cmd: string, args: string[], what: string, signal: AbortSignal): Promise<void> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], signal });
  let tail = '';
  child.stderr.on('data', (c: Buffer) => (tail = (tail + c.toString()).slice(-2_000)));
  return new Promise((resolve, reject) => {
    child.once('error', (e) => reject(new VerifyError(`${what}: ${e.message}`)));
    child.once('close', (code) => (code === 0 ? resolve() : reject(new VerifyError(`${what} exited with ${code}: ${tail.trim().split('\n').pop() ?? ''}`))));
  });
}

export async function verifyBackup(o: { store: BackupStore; manifest: BackupManifest; account: Account; signal: AbortSignal }): Promise<VerifyResult> {
  const m = o.manifest;
  const t0 = Date.now();
  // Private: the copy holds the cluster's password hashes.
  const dir = mkdtempSync(join(tmpdir(), 'cmgr-verify-'));
  const inst = new MariaDbInstance({ dir, serverId: 4_000_000_000, admin: o.account, port: await freePort(), extraConfig: { skip_slave_start: 1 }, name: `verify job ${m.job_id}` });
  try {
    const data = inst.dataDir;
    mkdirSync(data, { mode: 0o700 });
    const mb = spawn(mariadbBackupBinaries().mbstream, ['-x', '-C', data], { stdio: ['pipe', 'ignore', 'pipe'], signal: o.signal });
    let mbTail = '';
    mb.stderr.on('data', (c: Buffer) => (mbTail = (mbTail + c.toString()).slice(-2_000)));
    const mbDone = new Promise<number | null>((r) => mb.once('close', r));
    const digest = new Digesting();
    await pipeline(await o.store.get(m.data.key), digest, createGunzip(), mb.stdin, { signal: o.signal });
    const code = await mbDone;
    if (code !== 0) throw new VerifyError(`mbstream -x exited with ${code}: ${mbTail.trim().split('\n').pop() ?? ''}`);
    const got = digest.result();
    if (got.size !== m.data.bytes || got.sha256 !== m.data.sha256) {
      throw new VerifyError(`${m.data.key}: ${got.size} bytes with SHA-256 ${got.sha256} read back; the manifest says ${m.data.bytes} bytes, ${m.data.sha256}`);
    }
    const pos = binlogPosition(data);
    if ((pos?.gtid ?? null) !== (m.binlog?.gtid ?? null)) throw new VerifyError(`the copy's GTID position ${pos?.gtid ?? '(none)'} differs from the manifest's ${m.binlog?.gtid ?? '(none)'}`);
    await run(mariadbBackupBinaries().backup, ['--prepare', `--target-dir=${data}`], 'mariadb-backup --prepare', o.signal);
    await inst.start(120_000);
    const c = await inst.connect();
    try {
      const [[slave]] = await c.query<RowDataPacket[]>('SELECT @@gtid_slave_pos AS p');
      const tables = await baseTables(c);
      let rows = 0;
      for (const t of tables) {
        const name = tableName(c, t);
        const [check] = await c.query<RowDataPacket[]>(`CHECK TABLE ${name}`);
        const bad = check.find((x) => String(x.Msg_type) === 'error' || (String(x.Msg_type) === 'status' && String(x.Msg_text) !== 'OK'));
        if (bad !== undefined) throw new VerifyError(`CHECK TABLE ${t.schema}.${t.table}: ${String(bad.Msg_text)}`);
        const [[cnt]] = await c.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${name}`);
        rows += Number(cnt!.n);
      }
      const sums = await tableChecksums(c);
      return { gtid: pos?.gtid ?? '', gtid_slave_pos: String(slave!.p ?? ''), tables: tables.length, rows, checksums_sha256: checksumsDigest(sums), seconds: +((Date.now() - t0) / 1000).toFixed(1) };
    } finally {
      await c.end();
    }
  } finally {
    await inst.stop().catch(() => inst.kill9().catch(() => undefined));
    rmSync(dir, { recursive: true, force: true });
  }
}
