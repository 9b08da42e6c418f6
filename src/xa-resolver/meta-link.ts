// The resolver's own connection to the writable metadata node (the commit log lives there, and the
// metadata shard's own prepared branches). A statement that outlives its deadline or a lost
// leadership destroys the connection; the next use finds the writable seed again.
import mysql from 'mysql2/promise';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { HostPort } from '../config/load.js';
import type { Row, Sql } from '../storage/flavor.js';

export interface MetaLinkOptions {
  seeds: readonly HostPort[];
  user: string;
  password: string;
  connectTimeoutMs: number;
  /** Deadline of one statement, ms. */
  statementMs: number;
}

export class MetaLink {
  private conn: Connection | null = null;

  constructor(private readonly o: MetaLinkOptions) {}

  /** Runs `fn` on the writable metadata node; any failure drops the connection. */
  async use<T>(signal: AbortSignal, fn: (c: Connection) => Promise<T>): Promise<T> {
    signal.throwIfAborted();
    const c = this.conn ?? (await this.connect());
    const onAbort = (): void => this.drop();
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => this.drop(), this.o.statementMs * 4);
    try {
      return await fn(c);
    } catch (e) {
      // SQL errors leave the session usable, but a dropped one must not be reused.
      if ((e as { fatal?: boolean }).fatal === true || signal.aborted) this.drop();
      throw e;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  drop(): void {
    const c = this.conn;
    this.conn = null;
    c?.destroy();
  }

  private async connect(): Promise<Connection> {
    const errors: string[] = [];
    for (const seed of this.o.seeds) {
      let c: Connection | null = null;
      try {
        c = await mysql.createConnection({
          host: seed.host,
          port: seed.port,
          user: this.o.user,
          password: this.o.password,
          connectTimeout: this.o.connectTimeoutMs,
          supportBigNumbers: true,
          bigNumberStrings: true,
        });
        c.on('error', () => undefined);
        const [rows] = await c.query<RowDataPacket[]>('SELECT @@GLOBAL.read_only AS ro');
        if (Number(rows[0]?.ro) === 0 || this.o.seeds.length === 1) {
          // A server-side bound as well, for statements the server itself is slow to finish.
          await c.query('SET SESSION max_statement_time = ?', [this.o.statementMs / 1000]);
          this.conn = c;
          return c;
        }
        errors.push(`${seed.host}:${seed.port} is read-only`);
      } catch (e) {
        errors.push(`${seed.host}:${seed.port}: ${(e as Error).message}`);
      }
      c?.destroy();
    }
    throw new Error(`no writable metadata node among meta_group_seeds (${errors.join('; ')})`);
  }
}

/** A mysql2 connection seen through the storage layer's Sql interface. */
export function sqlOf(c: Connection): Sql {
  return {
    query: async (sql: string, params: readonly unknown[] = []): Promise<Row[]> => {
      const [rows] = await c.query(sql, params as unknown[]);
      return Array.isArray(rows) ? (rows as Row[]) : [];
    },
  };
}
