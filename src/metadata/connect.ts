// The one way the manager reaches the metadata shard: the writable node among meta_group_seeds to
// write (a single seed is taken as it is, read-only or not: a lone node may be kept read-only by hand,
// and writing there then fails with the server's own error), and one node whatever its role, to
// probe it (the probe observer, get_meta_summary / get_meta_mode).
import mysql from 'mysql2/promise';
import type { Connection, ConnectionOptions, RowDataPacket } from 'mysql2/promise';
import type { Config, HostPort } from '../config/load.js';
import { DEFAULT_DATABASE } from './ident.js';

export interface MetaConnectOptions {
  seeds: readonly HostPort[];
  user: string;
  password: string;
  /** mysql_connect_timeout, in ms. */
  connectTimeoutMs: number;
  /** Further mysql2 options (e.g. big numbers as strings). */
  connection?: Omit<ConnectionOptions, 'host' | 'port' | 'user' | 'password' | 'connectTimeout'>;
}

/** What the manager's config says: meta_group_seeds, meta_user/meta_pwd, mysql_connect_timeout. */
export function metaConnectOptions(cfg: Config): MetaConnectOptions {
  return {
    seeds: cfg.metaSeeds,
    user: cfg.str('meta_user'),
    password: cfg.str('meta_pwd'),
    connectTimeoutMs: cfg.int('mysql_connect_timeout') * 1000,
  };
}

/** The account and timeout of a connection to one metadata node. */
export type MetaNodeOptions = Omit<MetaConnectOptions, 'seeds'>;

/** A connection to one metadata node, read-only or not. */
export async function connectMetaNode(seed: HostPort, o: MetaNodeOptions): Promise<Connection> {
  const c = await mysql.createConnection({
    ...o.connection,
    host: seed.host,
    port: seed.port,
    user: o.user,
    password: o.password,
    connectTimeout: o.connectTimeoutMs,
  });
  // A connection that breaks later must not crash the process; its users see the next query fail.
  c.on('error', () => undefined);
  return c;
}

/** What a probe of one metadata node found. */
export interface MetaNodeProbe {
  host: string;
  port: number;
  /** When the probe started, ms since the epoch. */
  at: number;
  /** It answered. */
  online: boolean;
  /** @@read_only; null when it did not answer. */
  readOnly: boolean | null;
  /** global_configuration's meta_ha_mode; null when not read or not there. */
  mode: string | null;
  /** Why it did not answer (the driver's error, for classification). */
  error: Error | null;
}

/**
 * Probes one metadata node within `deadlineMs` (connecting included): its read_only, and with
 * `mode` its meta_ha_mode. Never throws: a node that does not answer is reported with the error.
 */
export async function probeMetaNode(seed: HostPort, o: MetaNodeOptions & { deadlineMs: number; mode?: boolean }): Promise<MetaNodeProbe> {
  const out: MetaNodeProbe = { host: seed.host, port: seed.port, at: Date.now(), online: false, readOnly: null, mode: null, error: null };
  let c: Connection | null = null;
  let late = false;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      late = true;
      c?.destroy();
      reject(new Error(`metadata node ${seed.host}:${seed.port} did not answer within ${o.deadlineMs} ms`));
    }, o.deadlineMs);
  });
  deadline.catch(() => undefined);
  try {
    await Promise.race([
      (async () => {
        const conn = await connectMetaNode(seed, { ...o, connectTimeoutMs: Math.min(o.connectTimeoutMs, o.deadlineMs) });
        // Connected after the deadline: nobody is left to close it.
        if (late) return conn.destroy();
        c = conn;
        const [ro] = await conn.query<RowDataPacket[]>('SELECT @@GLOBAL.read_only AS ro');
        out.online = true;
        out.readOnly = Number(ro[0]?.ro) !== 0;
        if (o.mode === true) {
          const [rows] = await conn
            .query<RowDataPacket[]>(`SELECT value FROM ${DEFAULT_DATABASE}.global_configuration WHERE name = ?`, ['meta_ha_mode'])
            .catch(() => [[] as RowDataPacket[]] as const);
          if (rows[0] !== undefined) out.mode = String(rows[0].value);
        }
      })(),
      deadline,
    ]);
  } catch (e) {
    out.online = false;
    out.readOnly = null;
    out.error = e instanceof Error ? e : new Error(String(e));
  } finally {
    clearTimeout(timer);
    const conn = c as Connection | null;
    await conn?.end().catch(() => conn.destroy());
  }
  return out;
}

/**
 * A connection to the writable metadata node, trying the seeds in order; stops between seeds when
 * `signal` aborts (leadership lost). The error names every seed and why it was passed over.
 */
export async function connectWritableMeta(o: MetaConnectOptions, signal?: AbortSignal): Promise<Connection> {
  const errors: string[] = [];
  for (const seed of o.seeds) {
    signal?.throwIfAborted();
    let c: Connection | null = null;
    try {
      c = await connectMetaNode(seed, o);
      const [rows] = await c.query<RowDataPacket[]>('SELECT @@GLOBAL.read_only AS ro');
      if (Number(rows[0]?.ro) === 0 || o.seeds.length === 1) return c;
      errors.push(`${seed.host}:${seed.port} is read-only`);
    } catch (e) {
      errors.push(`${seed.host}:${seed.port}: ${(e as Error).message}`);
    }
    c?.destroy();
  }
  throw new Error(`no writable metadata node among meta_group_seeds (${errors.length > 0 ? errors.join('; ') : 'none configured'})`);
}

/** What one session of a metadata node is doing, as the server's process list says (no statement text:
 *  it may hold row values). */
export interface MetaSessionState {
  command: string;
  /** e.g. "Waiting for semi-sync ACK from slave", "Waiting for table metadata lock". */
  state: string;
  seconds: number;
}

/**
 * Asks the node, over a connection of its own, what session `threadId` is doing: for a statement that
 * does not return, the server's reason. Null when the session is gone; throws when the node does not answer.
 */
export async function metaSessionState(seed: HostPort, o: MetaNodeOptions, threadId: number): Promise<MetaSessionState | null> {
  const c = await connectMetaNode(seed, o);
  try {
    const [rows] = await c.query<RowDataPacket[]>('SELECT COMMAND AS command, STATE AS state, TIME AS seconds FROM information_schema.PROCESSLIST WHERE ID = ?', [threadId]);
    const r = rows[0];
    return r ? { command: String(r.command), state: String(r.state ?? ''), seconds: Number(r.seconds) } : null;
  } finally {
    await c.end().catch(() => c.destroy());
  }
}
