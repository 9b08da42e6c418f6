// One storage node as the manager talks to it: a small mysql2 pool with short connect and statement
// timeouts, an overall deadline per use, and an AbortSignal that tears the connection down (the leader
// aborts when it loses leadership, and a hung server must not hold a step forever).
import mysql from 'mysql2/promise';
import type { PoolConnection } from 'mysql2/promise';
import type { Flavor, Row, Sql } from './flavor.js';
import { mariadbFlavor } from './mariadb-flavor.js';
import type { Endpoint } from './replication.js';

export interface StorageNodeSpec {
  /** The caller's name for the node (e.g. its metadata id). */
  id: string;
  /** The node's own address: what its replicas connect to. */
  host: string;
  port: number;
  /** Where the manager connects, when it differs from the node's address (e.g. a fault proxy). */
  via?: Endpoint;
  user: string;
  password: string;
  flavor?: Flavor;
  /** TCP connect + handshake timeout, ms. */
  connectTimeoutMs?: number;
  /** Default per-statement timeout, ms. */
  queryTimeoutMs?: number;
  /** Connections kept per node: a probe and a step, plus the second session fencing needs. Default 3. */
  poolSize?: number;
}

export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
  readonly code = 'DEADLINE';
}

/** Errors that mean the connection itself is gone or unusable (as opposed to an SQL error). */
const CONNECTION_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ECONNRESET',
  'EPIPE',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'DEADLINE',
  'ABORT_ERR',
]);
/** A pooled connection the server closed while it sat idle (server restart, KILL from a fence). */
const STALE_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE']);
const STALE_ERRNOS = new Set([1053, 1927, 4031]);

export function errorCode(e: unknown): string {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : '';
}

export function errorErrno(e: unknown): number | null {
  const n = (e as { errno?: unknown } | null)?.errno;
  return typeof n === 'number' ? n : null;
}

function isConnectionError(e: unknown): boolean {
  return CONNECTION_CODES.has(errorCode(e)) || (e as { fatal?: boolean } | null)?.fatal === true;
}

function isStale(e: unknown): boolean {
  return STALE_CODES.has(errorCode(e)) || STALE_ERRNOS.has(errorErrno(e) ?? 0);
}

export interface SessionOptions {
  /** Overall deadline for getting a connection and running `fn`, ms. */
  deadlineMs?: number;
  signal?: AbortSignal;
  /** Retry once on a fresh connection when a reused pooled one turns out dead. Default true. */
  retryStale?: boolean;
}

export interface SessionResult<T> {
  value: T;
  /** Time to obtain the connection, ms. */
  connectMs: number;
}

export class StorageNode {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly flavor: Flavor;
  readonly connectTimeoutMs: number;
  readonly queryTimeoutMs: number;
  private readonly pool: mysql.Pool;
  private readonly used = new WeakSet<PoolConnection>();
  private closed = false;

  constructor(readonly spec: StorageNodeSpec) {
    this.id = spec.id;
    this.host = spec.host;
    this.port = spec.port;
    this.flavor = spec.flavor ?? mariadbFlavor;
    this.connectTimeoutMs = spec.connectTimeoutMs ?? 1_000;
    this.queryTimeoutMs = spec.queryTimeoutMs ?? 2_000;
    const target = spec.via ?? { host: spec.host, port: spec.port };
    this.pool = mysql.createPool({
      host: target.host,
      port: target.port,
      user: spec.user,
      password: spec.password,
      connectTimeout: this.connectTimeoutMs,
      connectionLimit: spec.poolSize ?? 3,
      maxIdle: spec.poolSize ?? 3,
      idleTimeout: 60_000,
      enableKeepAlive: true,
      multipleStatements: false,
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
    // Errors on idle pooled connections surface on next use; do not let them crash the process.
    this.pool.on('connection', (c) => {
      c.on('error', () => undefined);
    });
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  get endpoint(): Endpoint {
    return { host: this.host, port: this.port };
  }

  /** Runs `fn` on one pooled connection under the deadline and signal. */
  async session<T>(fn: (sql: Sql) => Promise<T>, o: SessionOptions = {}): Promise<SessionResult<T>> {
    if (this.closed) throw new Error(`storage node ${this.id} is closed`);
    o.signal?.throwIfAborted();
    const deadline = o.deadlineMs === undefined ? null : performance.now() + o.deadlineMs;
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now();
      const conn = await this.acquire(deadline, o.signal);
      const connectMs = performance.now() - t0;
      const reused = this.used.has(conn);
      this.used.add(conn);
      try {
        const value = await guard(fn(this.sqlOn(conn, deadline)), deadline, o.signal, () => conn.destroy());
        conn.release();
        return { value, connectMs };
      } catch (e) {
        if (isConnectionError(e) || isStale(e) || o.signal?.aborted) conn.destroy();
        else conn.release();
        const timeLeft = deadline === null || performance.now() < deadline;
        if (attempt === 0 && reused && isStale(e) && o.retryStale !== false && timeLeft && !o.signal?.aborted) {
          continue;
        }
        throw e;
      }
    }
  }

  /** Convenience: one session returning only the value. */
  async run<T>(fn: (sql: Sql) => Promise<T>, o: SessionOptions = {}): Promise<T> {
    return (await this.session(fn, o)).value;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private sqlOn(conn: PoolConnection, deadline: number | null): Sql {
    return {
      query: async (sql: string, params: readonly unknown[] = [], timeoutMs?: number): Promise<Row[]> => {
        let timeout = timeoutMs ?? this.queryTimeoutMs;
        if (deadline !== null) timeout = Math.min(timeout, Math.max(1, deadline - performance.now()));
        const [rows] = await conn.query({ sql, timeout: Math.ceil(timeout) }, params as unknown[]);
        return Array.isArray(rows) ? (rows as Row[]) : [];
      },
    };
  }

  private async acquire(deadline: number | null, signal?: AbortSignal): Promise<PoolConnection> {
    const pending = this.pool.getConnection();
    try {
      return await guard(pending, deadline, signal, () => undefined);
    } catch (e) {
      // Lost the race: whatever connection arrives later is not ours to use.
      pending.then(
        (c) => c.destroy(),
        () => undefined,
      );
      throw e;
    }
  }
}

/** Races `p` against the deadline and the abort signal; `onLose` tears down what `p` is using. */
async function guard<T>(p: Promise<T>, deadline: number | null, signal: AbortSignal | undefined, onLose: () => void): Promise<T> {
  if (deadline === null && !signal) return p;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const losers: Promise<never>[] = [];
  if (deadline !== null) {
    losers.push(
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          onLose();
          reject(new DeadlineError('deadline passed'));
        }, Math.max(0, deadline - performance.now()));
      }),
    );
  }
  if (signal) {
    losers.push(
      new Promise<never>((_, reject) => {
        onAbort = () => {
          onLose();
          reject(signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError'));
        };
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }),
    );
  }
  try {
    return await Promise.race([p, ...losers]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    // The losing promises may reject later; nobody awaits them.
    p.catch(() => undefined);
  }
}
