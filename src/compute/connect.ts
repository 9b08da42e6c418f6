// Connections to a compute node (kunlun-server; PostgreSQL 15 stands in for it) as its superuser.
// Errors name the node, never the password.
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CompEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database?: string;
}

export class CompConnectError extends Error {
  override name = 'CompConnectError';
}

/** A connected client; the caller ends it. An abort signal ends the connection (leadership lost). */
export async function connectComp(ep: CompEndpoint, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<pg.Client> {
  const c = new pg.Client({
    host: ep.host,
    port: ep.port,
    user: ep.user,
    password: ep.password,
    database: ep.database ?? 'postgres',
    connectionTimeoutMillis: opts.timeoutMs ?? 5_000,
    query_timeout: 30_000,
    application_name: 'cluster_mgr',
  });
  // An idle client whose server goes away emits 'error'; without a listener that would crash the process.
  c.on('error', () => undefined);
  const onAbort = (): void => void c.end().catch(() => undefined);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  c.once('end', () => opts.signal?.removeEventListener('abort', onAbort));
  try {
    await c.connect();
  } catch (e) {
    opts.signal?.removeEventListener('abort', onAbort);
    await c.end().catch(() => undefined);
    const why = (e as Error).message.replaceAll(ep.password, '***');
    throw new CompConnectError(`compute node ${ep.host}:${ep.port}: cannot connect as ${ep.user}: ${why}`, { cause: e });
  }
  return c;
}

export interface WithCompOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Connection attempts (a node just installed or restarted may refuse for a moment); default 1. */
  attempts?: number;
  retryDelayMs?: number;
}

/** Runs `fn` with a fresh connection and always closes it. Only connecting is retried, never `fn`. */
export async function withComp<T>(ep: CompEndpoint, fn: (c: pg.Client) => Promise<T>, opts: WithCompOptions = {}): Promise<T> {
  let c: pg.Client | null = null;
  for (let i = 1; c === null; i++) {
    try {
      c = await connectComp(ep, opts);
    } catch (e) {
      // A refused login (SQLSTATE class 28) will not get better by trying again.
      const code = ((e as Error).cause as { code?: unknown } | undefined)?.code;
      if (i >= (opts.attempts ?? 1) || opts.signal?.aborted === true || (typeof code === 'string' && code.startsWith('28'))) throw e;
      await sleep(opts.retryDelayMs ?? 1_000);
    }
  }
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}
