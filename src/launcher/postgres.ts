// A PostgreSQL 15 server (stand-in for a kunlun-server compute node) in a directory of its own on a
// loopback port: initdb with a superuser and password, then `postgres -D` run directly so the launcher
// owns the process. PostgreSQL refuses to run as root, so as root it runs as the `postgres` account.
import { chmodSync, chownSync, existsSync, mkdirSync, statSync, writeFileSync, appendFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { ManagedProcess, waitUntil } from './managed-process.js';
import { ServerInstance } from './server-instance.js';
import { freePort } from './ports.js';
import { postgresBinaries } from './server-binaries.js';

const execFileP = promisify(execFile);

export interface PostgresOptions {
  dir: string;
  host?: string;
  port?: number;
  /** Superuser created by initdb. */
  admin: { user: string; password: string };
  /** OS account to run as when the launcher runs as root. */
  runAs?: string;
  sharedBuffersMb?: number;
  extraConfig?: Record<string, string | number>;
  tiedToOwner?: boolean;
}

export class PostgresInstance extends ServerInstance {
  readonly host: string;
  port: number;
  readonly dir: string;
  readonly dataDir: string;
  readonly proc: ManagedProcess;
  private readonly osUser: string | undefined;

  constructor(readonly opts: PostgresOptions) {
    super();
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 0;
    this.dir = resolve(opts.dir);
    this.dataDir = join(this.dir, 'data');
    this.osUser = process.getuid?.() === 0 ? (opts.runAs ?? 'postgres') : undefined;
    this.proc = new ManagedProcess({
      name: `postgres ${this.host}:?`,
      command: postgresBinaries().postgres,
      args: ['-D', this.dataDir],
      logFile: join(this.dir, 'postgres.log'),
      user: this.osUser,
      tiedToOwner: opts.tiedToOwner ?? true,
      // SIGINT is PostgreSQL's "fast" shutdown: roll back sessions, checkpoint, exit.
      stopSignal: 'SIGINT',
    });
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  async start(timeoutMs = 60_000): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    if (this.port === 0) this.port = await freePort(this.host);
    this.proc.spec.name = `postgres ${this.address}`;
    if (this.osUser) this.grantAccess();
    if (!existsSync(join(this.dataDir, 'PG_VERSION'))) await this.initdb();
    this.writeConfig();
    this.proc.start();
    await waitUntil(`${this.proc.spec.name} to accept connections`, this.proc, timeoutMs, async () => {
      const c = await this.connect();
      try {
        await c.query('SELECT 1');
        return true;
      } finally {
        await c.end();
      }
    });
  }

  /** A connected client as the superuser; the caller ends it. */
  async connect(database = 'postgres'): Promise<pg.Client> {
    const c = new pg.Client({
      host: this.host,
      port: this.port,
      user: this.opts.admin.user,
      password: this.opts.admin.password,
      database,
      connectionTimeoutMillis: 5_000,
    });
    await c.connect();
    return c;
  }

  private async initdb(): Promise<void> {
    const pwfile = join(this.dir, '.initdb-pw');
    writeFileSync(pwfile, `${this.opts.admin.password}\n`, { mode: 0o600 });
    if (this.osUser) chownTo(pwfile, this.osUser);
    const args = [
      '-D', this.dataDir,
      '-U', this.opts.admin.user,
      `--pwfile=${pwfile}`,
      '--auth-local=scram-sha-256',
      '--auth-host=scram-sha-256',
      '-E', 'UTF8',
      '--locale=C',
      '--no-instructions',
    ];
    const cmd = this.osUser
      ? ['setpriv', `--reuid=${this.osUser}`, `--regid=${this.osUser}`, '--init-groups', '--', postgresBinaries().initdb, ...args]
      : [postgresBinaries().initdb, ...args];
    try {
      await execFileP(cmd[0]!, cmd.slice(1), { cwd: this.dir });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`initdb of ${this.dataDir} failed: ${err.message}\n${err.stderr ?? ''}`, { cause: e });
    } finally {
      rmSync(pwfile, { force: true });
    }
  }

  private writeConfig(): void {
    const settings: Record<string, string | number> = {
      listen_addresses: `'${this.host}'`,
      port: this.port,
      unix_socket_directories: `'${this.dir}'`,
      shared_buffers: `${this.opts.sharedBuffersMb ?? 16}MB`,
      max_connections: 100,
      max_prepared_transactions: 100,
      logging_collector: 'off',
      ...(this.opts.extraConfig ?? {}),
    };
    // postgresql.auto.conf is read last, so these win over initdb's defaults; rewritten on each start.
    const text = Object.entries(settings)
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n');
    writeFileSync(join(this.dataDir, 'postgresql.auto.conf'), `# written by cluster_mgr's instance launcher\n${text}\n`);
    if (this.osUser) chownTo(join(this.dataDir, 'postgresql.auto.conf'), this.osUser);
  }

  /** The instance dir belongs to the run-as account, and it must be able to reach it. */
  private grantAccess(): void {
    chownTo(this.dir, this.osUser!);
    if (existsSync(this.proc.spec.logFile)) chownTo(this.proc.spec.logFile, this.osUser!);
    else {
      appendFileSync(this.proc.spec.logFile, '');
      chownTo(this.proc.spec.logFile, this.osUser!);
    }
    // Ancestors need search (x) permission for others; add only that bit, never read or write.
    for (let d = dirname(this.dir); d !== dirname(d); d = dirname(d)) {
      const st = statSync(d);
      if ((st.mode & 0o001) === 0) chmodSync(d, st.mode | 0o001);
    }
  }
}

const uidCache = new Map<string, { uid: number; gid: number }>();
function chownTo(path: string, user: string): void {
  let ids = uidCache.get(user);
  if (!ids) {
    const out = execFileSyncText('id', ['-u', user]);
    const gid = execFileSyncText('id', ['-g', user]);
    ids = { uid: Number(out), gid: Number(gid) };
    uidCache.set(user, ids);
  }
  chownSync(path, ids.uid, ids.gid);
}

function execFileSyncText(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
}
