// Starting, stopping and finding the processes of the instances the agent installed, with the
// instance launcher. Instances are started detached (`tiedToOwner: false`), like node_mgr's daemons,
// so they keep running when the agent stops or is killed; afterwards they are controlled by pid.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess, MariaDbInstance, PostgresInstance, portOpen, waitUntil } from '../launcher/index.js';
import { postgresBinaries } from '../launcher/server-binaries.js';
import type { Account } from './config.js';
import { killNow, killUnder, pidIs, stopProcess } from './procfs.js';
import type { InstanceRecord } from './registry.js';

const PROGRAMS = { storage: ['mariadbd', 'mysqld'], computer: ['postgres'] } as const;
const STOP_TIMEOUT_MS = 60_000;

export function dataDir(rec: InstanceRecord): string {
  return join(rec.dir, 'data');
}

function pidFile(rec: InstanceRecord): string {
  return rec.kind === 'storage' ? join(rec.dir, 'mariadbd.pid') : join(rec.dir, 'data', 'postmaster.pid');
}

function pidFromFile(rec: InstanceRecord): number | null {
  try {
    const first = readFileSync(pidFile(rec), 'utf8').split('\n')[0]?.trim() ?? '';
    return /^\d+$/.test(first) ? Number(first) : null;
  } catch {
    return null;
  }
}

/** The pid of the instance's server if it runs: the one we recorded, or the one in its pid file. */
export function livePid(rec: InstanceRecord): number | null {
  for (const pid of [rec.pid, pidFromFile(rec)]) {
    if (pid !== null && pidIs(pid, PROGRAMS[rec.kind], dataDir(rec))) return pid;
  }
  return null;
}

function mariadb(rec: InstanceRecord, admin: Account): MariaDbInstance {
  const s = rec.storage!;
  return new MariaDbInstance({
    dir: rec.dir,
    host: rec.host,
    port: rec.port,
    serverId: s.serverId,
    admin,
    bufferPoolMb: s.bufferPoolMb,
    tiedToOwner: false,
    // The config is written at every start, so this holds for the one start after a fence only.
    ...(rec.recoverAsReplica === true ? { extraConfig: { init_rpl_role: 'SLAVE' } } : {}),
  });
}

/**
 * A new MariaDB instance: initialised, started read-only, with `accounts` (the first is made by the
 * launcher; the others here, not binlogged, so every node of a shard has the same accounts and no
 * GTIDs of its own). Returns the server's pid.
 */
export async function installStorage(rec: InstanceRecord, accounts: Account[], timeoutMs: number): Promise<number> {
  const [admin, ...more] = accounts;
  if (!admin) throw new Error('no account to create');
  const inst = mariadb(rec, admin);
  await inst.start(timeoutMs);
  if (more.length > 0) {
    const c = await inst.connect();
    try {
      await c.query('SET SESSION sql_log_bin = 0');
      for (const a of more) {
        for (const host of ['%', 'localhost']) {
          await c.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [a.user, host, a.password]);
          await c.query('ALTER USER ?@? IDENTIFIED BY ?', [a.user, host, a.password]);
          await c.query('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [a.user, host]);
        }
      }
    } finally {
      await c.end();
    }
  }
  return inst.proc.pid!;
}

/** A new PostgreSQL instance with `admin` as its superuser. Returns the postmaster's pid. */
export async function installComputer(
  rec: InstanceRecord,
  admin: Account,
  osUser: string,
  timeoutMs: number,
): Promise<number> {
  const inst = new PostgresInstance({
    dir: rec.dir,
    host: rec.host,
    port: rec.port,
    admin,
    runAs: osUser,
    tiedToOwner: false,
  });
  await inst.start(timeoutMs);
  return inst.proc.pid!;
}

/** Starts an installed instance on its existing data; no password is needed for that. */
export async function startExisting(rec: InstanceRecord, osUser: string, timeoutMs: number): Promise<number> {
  if (rec.kind === 'storage') {
    if (!existsSync(join(dataDir(rec), 'mysql'))) {
      throw new Error(`data dir ${dataDir(rec)} is missing or empty; uninstall and install the instance again`);
    }
    // The admin account exists in the data dir already; the launcher only needs one for a fresh dir.
    const inst = mariadb(rec, { user: 'unused', password: 'unused' });
    await inst.start(timeoutMs);
    return inst.proc.pid!;
  }
  if (!existsSync(join(dataDir(rec), 'PG_VERSION'))) {
    throw new Error(`data dir ${dataDir(rec)} is missing or empty; uninstall and install the instance again`);
  }
  const proc = new ManagedProcess({
    name: `postgres ${rec.host}:${rec.port}`,
    command: postgresBinaries().postgres,
    args: ['-D', dataDir(rec)],
    logFile: join(rec.dir, 'postgres.log'),
    user: process.getuid?.() === 0 ? osUser : undefined,
    tiedToOwner: false,
    stopSignal: 'SIGINT',
  });
  proc.start();
  // Readiness without logging in: the postmaster writes "ready" into its pid file once it accepts
  // connections (what pg_ctl waits for), and the port must answer.
  await waitUntil(`${proc.spec.name} to accept connections`, proc, timeoutMs, async () => {
    const lines = readFileSync(pidFile(rec), 'utf8').split('\n');
    if (Number(lines[0]) !== proc.pid || lines[7]?.trim() !== 'ready') return undefined;
    return (await portOpen(rec.port, rec.host)) ? true : undefined;
  });
  return proc.pid!;
}

/** Graceful stop (SIGTERM for MariaDB, PostgreSQL's fast shutdown SIGINT), then SIGKILL. */
export async function stopInstance(rec: InstanceRecord): Promise<void> {
  await stopProcess(livePid(rec), rec.kind === 'storage' ? 'SIGTERM' : 'SIGINT', rec.dir, STOP_TIMEOUT_MS);
}

/** kill -9 of the server and of anything else working in its dir. */
export async function killInstance(rec: InstanceRecord): Promise<void> {
  const pid = livePid(rec);
  if (pid !== null) killNow(pid);
  await killUnder(rec.dir);
}
