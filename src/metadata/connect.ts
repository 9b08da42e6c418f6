// The one way the manager reaches the metadata shard to write: the writable node among
// meta_group_seeds (a single seed is taken as it is, read-only or not: a lone node may be kept
// read-only by hand, and writing there then fails with the server's own error).
import mysql from 'mysql2/promise';
import type { Connection, ConnectionOptions, RowDataPacket } from 'mysql2/promise';
import type { Config, HostPort } from '../config/load.js';

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
      c = await mysql.createConnection({
        ...o.connection,
        host: seed.host,
        port: seed.port,
        user: o.user,
        password: o.password,
        connectTimeout: o.connectTimeoutMs,
      });
      // A connection that breaks later must not crash the process; its users see the next query fail.
      c.on('error', () => undefined);
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
