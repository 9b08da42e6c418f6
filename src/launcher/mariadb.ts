// A MariaDB server in a directory of its own on a loopback port: initialised from a cached template
// data dir (mariadb-install-db once per MariaDB version, then a copy per instance, which is ~10x
// faster), configured for GTID replication, ROW binlog and semi-sync, and started read-only: only the
// manager makes a node writable.
import { cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { ManagedProcess, waitUntil } from './managed-process.js';
import { ServerInstance } from './server-instance.js';
import { freePort } from './ports.js';
import { currentUser, mariadbBinaries, mariadbVersion } from './server-binaries.js';

const execFileP = promisify(execFile);

export interface MariaDbOptions {
  /** The instance's own directory; created if missing. Data, config, socket and logs live under it. */
  dir: string;
  host?: string;
  /** Default: a free port. */
  port?: number;
  serverId: number;
  /** Administrative account created on first start (on every node alike, not written to the binlog). */
  admin: { user: string; password: string };
  /** Semi-sync master timeout, ms. Large by default: no silent fall-back to async replication. */
  semiSyncTimeoutMs?: number;
  /** Replica's net timeout, s: how fast a replica notices a dead primary (with a 1 s heartbeat). */
  slaveNetTimeoutSec?: number;
  bufferPoolMb?: number;
  /** The metadata shard needs lower_case_table_names=1 (its schema names Kunlun_Metadata_DB). */
  lowerCaseTableNames?: boolean;
  /** More [mariadbd] settings, written verbatim as name=value lines. */
  extraConfig?: Record<string, string | number>;
  /** Default true: killed with the owner. The node agent sets false so instances outlive it. */
  tiedToOwner?: boolean;
  name?: string;
}

export const NO_ASYNC_FALLBACK_TIMEOUT_MS = 4_294_967_295;

export class MariaDbInstance extends ServerInstance {
  readonly host: string;
  port = 0;
  readonly dir: string;
  readonly dataDir: string;
  readonly socket: string;
  readonly configFile: string;
  readonly errorLog: string;
  readonly tmpDir: string;
  readonly proc: ManagedProcess;

  constructor(readonly opts: MariaDbOptions) {
    super();
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 0;
    this.dir = opts.dir;
    this.dataDir = join(this.dir, 'data');
    this.socket = join(this.dir, 'mysqld.sock');
    this.configFile = join(this.dir, 'my.cnf');
    this.errorLog = join(this.dir, 'error.log');
    this.tmpDir = join(this.dir, 'tmp');
    this.proc = new ManagedProcess({
      name: `mariadbd ${this.host}:${this.port || '?'}`,
      command: mariadbBinaries().mariadbd,
      args: [`--defaults-file=${this.configFile}`],
      logFile: join(this.dir, 'stdout.log'),
      tiedToOwner: opts.tiedToOwner ?? true,
      stopSignal: 'SIGTERM',
    });
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** Initialises on first use, starts, and waits until it accepts the admin account. */
  async start(timeoutMs = 60_000): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    if (this.port === 0) this.port = await freePort(this.host);
    this.proc.spec.name = `mariadbd ${this.address}`;
    const fresh = !existsSync(join(this.dataDir, 'mysql'));
    if (fresh) {
      const template = await ensureTemplate();
      rmSync(this.dataDir, { recursive: true, force: true });
      cpSync(template, this.dataDir, { recursive: true });
    }
    mkdirSync(this.tmpDir, { recursive: true });
    writeFileSync(this.configFile, this.renderConfig());
    this.proc.start();
    await waitUntil(`${this.proc.spec.name} to accept connections`, this.proc, timeoutMs, async () => {
      const c = await this.rootConnection();
      try {
        await c.query('SELECT 1');
        return true;
      } finally {
        await c.end();
      }
    }, this.errorLog);
    if (fresh) await this.createAdmin();
  }

  /** Connection as the admin account over TCP, as the manager would connect. */
  async connect(extra: Partial<mysql.ConnectionOptions> = {}): Promise<mysql.Connection> {
    return mysql.createConnection({
      host: this.host,
      port: this.port,
      user: this.opts.admin.user,
      password: this.opts.admin.password,
      connectTimeout: 5_000,
      multipleStatements: false,
      ...extra,
    });
  }

  /** root over the instance's private unix socket: only for set-up the admin account cannot do yet. */
  private async rootConnection(): Promise<mysql.Connection> {
    return mysql.createConnection({ socketPath: this.socket, user: 'root', password: '', connectTimeout: 2_000 });
  }

  private async createAdmin(): Promise<void> {
    const c = await this.rootConnection();
    try {
      // Not binlogged: every node gets the same accounts without creating GTIDs of its own, which
      // would otherwise look like errant transactions to the failover logic.
      await c.query('SET SESSION sql_log_bin = 0');
      const { user, password } = this.opts.admin;
      for (const host of ['%', 'localhost']) {
        await c.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [user, host, password]);
        await c.query('ALTER USER ?@? IDENTIFIED BY ?', [user, host, password]);
        await c.query('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [user, host]);
      }
    } finally {
      await c.end();
    }
  }

  renderConfig(): string {
    const o = this.opts;
    const settings: Record<string, string | number> = {
      datadir: this.dataDir,
      port: this.port,
      'bind-address': this.host,
      socket: this.socket,
      'pid-file': join(this.dir, 'mariadbd.pid'),
      'log-error': this.errorLog,
      // Its own temp dir, not the shared /tmp: internal temp tables of many servers on one machine
      // (tests run dozens) never meet, and removing the instance removes them.
      tmpdir: this.tmpDir,
      'server-id': o.serverId,
      'report-host': this.host,
      'report-port': this.port,
      'log-bin': 'binlog',
      'relay-log': 'relay-bin',
      binlog_format: 'ROW',
      log_slave_updates: 'ON',
      gtid_strict_mode: 'ON',
      // Every node starts read-only; the manager alone makes the primary writable (also after a restart
      // of a former primary, which must not take writes on its own).
      read_only: 'ON',
      sync_binlog: 1,
      innodb_flush_log_at_trx_commit: 1,
      innodb_buffer_pool_size: `${o.bufferPoolMb ?? 32}M`,
      innodb_log_file_size: '16M',
      innodb_log_buffer_size: '4M',
      'skip-name-resolve': 'ON',
      max_connections: 300,
      performance_schema: 'OFF',
      'character-set-server': 'utf8mb4',
      'collation-server': 'utf8mb4_general_ci',
      // Semi-sync: the master side is switched on for the primary only, by the manager.
      rpl_semi_sync_master_enabled: 'OFF',
      rpl_semi_sync_slave_enabled: 'ON',
      rpl_semi_sync_master_wait_point: 'AFTER_SYNC',
      rpl_semi_sync_master_wait_no_slave: 'ON',
      rpl_semi_sync_master_timeout: o.semiSyncTimeoutMs ?? NO_ASYNC_FALLBACK_TIMEOUT_MS,
      slave_net_timeout: o.slaveNetTimeoutSec ?? 4,
      master_retry_count: 1_000_000,
      ...(o.lowerCaseTableNames ? { lower_case_table_names: 1 } : {}),
      ...(process.getuid?.() === 0 ? { user: currentUser() } : {}),
      ...(o.extraConfig ?? {}),
    };
    const lines = Object.entries(settings).map(([k, v]) => `${k} = ${v}`);
    return `# written by cluster_mgr's instance launcher\n[mariadbd]\n${lines.join('\n')}\n`;
  }
}

/**
 * A data dir made by mariadb-install-db, cached per MariaDB version under the temp dir. Made in a
 * private dir and renamed into place, so concurrent first users never see a half-made template.
 */
export async function ensureTemplate(): Promise<string> {
  const key = createHash('sha256').update(mariadbVersion()).update(TEMPLATE_FORMAT).digest('hex').slice(0, 12);
  const final = join(tmpdir(), `cmgr-mariadb-template-${key}`);
  if (existsSync(join(final, 'mysql'))) return final;
  const work = mkdtempSync(join(tmpdir(), 'cmgr-mariadb-init-'));
  const data = join(work, 'data');
  const args = [
    '--no-defaults',
    `--datadir=${data}`,
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
    '--innodb-log-file-size=16M',
    '--innodb-buffer-pool-size=32M',
  ];
  if (process.getuid?.() === 0) args.push(`--user=${currentUser()}`);
  try {
    await execFileP(mariadbBinaries().installDb, args, { cwd: work, maxBuffer: 8 * 1024 * 1024 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    rmSync(work, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed: ${err.message}\n${err.stderr ?? ''}`, { cause: e });
  }
  try {
    renameSync(data, final);
  } catch {
    // Another process made it first; theirs is as good as ours.
  }
  rmSync(work, { recursive: true, force: true });
  if (!existsSync(join(final, 'mysql'))) throw new Error(`MariaDB template ${final} is incomplete`);
  return final;
}

// Bump when the install arguments change, so stale templates are not reused.
const TEMPLATE_FORMAT = 'v1 log16M';
