// get_variable / set_variable: read or set a server variable of one storage node (MariaDB, with the
// manager's storage account meta_user) or compute node (PostgreSQL, with the cluster's user). A
// variable name cannot be a SQL parameter, so it must match a strict pattern (read) and a whitelist
// (write); values always travel as parameters or escaped literals.
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { World } from '../actors/index.js';
import { E } from './error-codes.js';
import type { SyncResult } from './emit-route.js';
import { failedAnswer } from './sync-answers.js';

export interface StorageAccount {
  user: string;
  password: string;
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * Storage variables an operator may change: tuning knobs. Replication, read-only, GTID, binlog and
 * identity variables are the HA reconcilers' business and are refused.
 */
const STORAGE_SETTABLE = [
  /^innodb_(buffer_pool_size|io_capacity|io_capacity_max|lock_wait_timeout|flush_log_at_trx_commit|print_all_deadlocks|stats_on_metadata|max_dirty_pages_pct|thread_concurrency)$/,
  /^(max_connections|max_user_connections|max_allowed_packet|max_execution_time|max_heap_table_size|tmp_table_size)$/,
  /^(wait_timeout|interactive_timeout|lock_wait_timeout|net_read_timeout|net_write_timeout|connect_timeout)$/,
  /^(long_query_time|slow_query_log|log_queries_not_using_indexes|general_log|log_warnings)$/,
  /^(table_open_cache|table_definition_cache|thread_cache_size|sort_buffer_size|read_buffer_size|join_buffer_size|binlog_cache_size|sync_binlog)$/,
];

const COMPUTE_SETTABLE = [
  /^(work_mem|maintenance_work_mem|statement_timeout|lock_timeout|idle_in_transaction_session_timeout)$/,
  /^(log_min_duration_statement|log_statement|log_connections|log_disconnections|deadlock_timeout|max_parallel_workers_per_gather)$/,
  /^(enable_[a-z_]+)$/,
];

export type Instance =
  | { kind: 'storage'; host: string; port: number; cluster: number }
  | { kind: 'compute'; host: string; port: number; cluster: number };

/** The storage or compute node at host:port, or a failed answer naming paras.hostaddr. */
export function findInstance(world: World, host: string, port: number, jobType: string): Instance | SyncResult {
  const at = world.nodeAt(host, port);
  if (at?.startsWith('node/') === true) return { kind: 'storage', host, port, cluster: world.node(Number(at.slice(5)))!.cluster };
  if (at?.startsWith('comp/') === true) return { kind: 'compute', host, port, cluster: world.comp(Number(at.slice(5)))!.cluster };
  return failedAnswer(jobType, E.PARAMETER_ERROR, `paras.hostaddr: no storage or compute node listens on ${host}:${port}`);
}

function isAnswer(x: Instance | SyncResult): x is SyncResult {
  return 'status' in x;
}

const CONNECT_TIMEOUT_MS = 5_000;

async function withStorage<T>(i: Instance, acc: StorageAccount, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection({ host: i.host, port: i.port, user: acc.user, password: acc.password, connectTimeout: CONNECT_TIMEOUT_MS });
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function withCompute<T>(world: World, i: Instance, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const sec = world.clusterSecret(i.cluster);
  const c = new pg.Client({
    host: i.host,
    port: i.port,
    user: sec?.user ?? undefined,
    password: sec?.password ?? undefined,
    database: 'postgres',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

function connectFailed(jobType: string, i: Instance, e: unknown): SyncResult {
  // The driver's message names the host and the reason; it never contains the password.
  return failedAnswer(jobType, E.PARAMETER_ERROR, `cannot query ${i.kind} instance ${i.host}:${i.port}: ${(e as Error).message}`);
}

export async function getVariable(world: World, acc: StorageAccount, host: string, port: number, name: string): Promise<SyncResult> {
  if (!NAME_RE.test(name)) return failedAnswer('get_variable', E.PARAMETER_ERROR, 'paras.variable: must be a variable name');
  const i = findInstance(world, host, port, 'get_variable');
  if (isAnswer(i)) return i;
  try {
    const value =
      i.kind === 'storage'
        ? await withStorage(i, acc, async (c) => {
            // The name matched NAME_RE above; it cannot carry SQL.
            const [rows] = await c.query<mysql.RowDataPacket[]>(`SELECT @@GLOBAL.${name} AS v`);
            return rows[0]?.v as unknown;
          })
        : await withCompute(world, i, async (c) => {
            const r = await c.query<{ v: string | null }>('SELECT current_setting($1, true) AS v', [name]);
            return r.rows[0]?.v ?? null;
          });
    if (value === null || value === undefined) return { status: 'done', error_code: 0, error_info: `no variable ${name}`, attachment: { result: 'false' } };
    return { status: 'done', error_code: 0, error_info: '', attachment: { result: 'true', value: typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'bigint' ? value.toString() : JSON.stringify(value) } };
  } catch (e) {
    const msg = (e as { code?: string }).code === 'ER_UNKNOWN_SYSTEM_VARIABLE' ? `no variable ${name}` : null;
    if (msg !== null) return { status: 'done', error_code: 0, error_info: msg, attachment: { result: 'false' } };
    return connectFailed('get_variable', i, e);
  }
}

export async function setVariable(
  world: World,
  acc: StorageAccount,
  p: { host: string; port: number; name: string; type: 'int' | 'string'; value: string },
): Promise<SyncResult> {
  const i = findInstance(world, p.host, p.port, 'set_variable');
  if (isAnswer(i)) return i;
  const allowed = (i.kind === 'storage' ? STORAGE_SETTABLE : COMPUTE_SETTABLE).some((re) => re.test(p.name));
  if (!NAME_RE.test(p.name) || !allowed) {
    return failedAnswer('set_variable', E.PARAMETER_ERROR, `paras.variable: ${p.name} may not be set on a ${i.kind} node through the API (see docs/api.md for the list)`);
  }
  if (p.type === 'int' && !/^-?[0-9]{1,19}$/.test(p.value)) {
    return failedAnswer('set_variable', E.PARAMETER_ERROR, 'paras.value: must be an integer when type is int');
  }
  try {
    if (i.kind === 'storage') {
      await withStorage(i, acc, (c) => c.query(`SET GLOBAL ${p.name} = ?`, [p.type === 'int' ? Number(p.value) : p.value]));
    } else {
      await withCompute(world, i, async (c) => {
        // ALTER SYSTEM takes no parameters: the value goes as an escaped literal.
        await c.query(`ALTER SYSTEM SET ${p.name} = ${c.escapeLiteral(p.value)}`);
        await c.query('SELECT pg_reload_conf()');
      });
    }
    return { status: 'done', error_code: 0, error_info: '', attachment: { result: 'true' } };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== undefined && code !== 'ECONNREFUSED' && code !== 'ETIMEDOUT') {
      return failedAnswer('set_variable', E.PARAMETER_ERROR, `${p.host}:${p.port} refused ${p.name} = ${JSON.stringify(p.value).slice(0, 80)}: ${(e as Error).message}`);
    }
    return connectFailed('set_variable', i, e);
  }
}
