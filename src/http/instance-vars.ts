// get_variable: read a server variable of one storage node (MariaDB, with the manager's storage
// account meta_user) or compute node (PostgreSQL, with the cluster's user). A variable name cannot be
// a SQL parameter, so it must match a strict pattern. (set_variable is a job: jobs/handlers/set-variable.ts.)
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { World } from '../actors/index.js';
import { VARIABLE_NAME_RE, variableText } from '../actors/commands/server-variables.js';
import { E } from './error-codes.js';
import type { SyncResult } from './emit-route.js';
import { failedAnswer } from './sync-answers.js';

export interface StorageAccount {
  user: string;
  password: string;
}

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
  if (!VARIABLE_NAME_RE.test(name)) return failedAnswer('get_variable', E.PARAMETER_ERROR, 'paras.variable: must be a variable name');
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
    return { status: 'done', error_code: 0, error_info: '', attachment: { result: 'true', value: variableText(value) } };
  } catch (e) {
    const msg = (e as { code?: string }).code === 'ER_UNKNOWN_SYSTEM_VARIABLE' ? `no variable ${name}` : null;
    if (msg !== null) return { status: 'done', error_code: 0, error_info: msg, attachment: { result: 'false' } };
    return connectFailed('get_variable', i, e);
  }
}
