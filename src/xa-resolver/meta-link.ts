// The resolver's own connection to the writable metadata node (the commit log lives there, and the
// metadata shard's own prepared branches). A statement that outlives its deadline or a lost
// leadership destroys the connection; the next use finds the writable seed again.
import type { Connection } from 'mysql2/promise';
import { connectWritableMeta, type MetaConnectOptions } from '../metadata/connect.js';
import type { Row, Sql } from '../storage-node/flavor.js';

export interface MetaLinkOptions extends MetaConnectOptions {
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
    const c = await connectWritableMeta({ ...this.o, connection: { supportBigNumbers: true, bigNumberStrings: true } });
    try {
      // A server-side bound as well, for statements the server itself is slow to finish.
      await c.query('SET SESSION max_statement_time = ?', [this.o.statementMs / 1000]);
    } catch (e) {
      c.destroy();
      throw e;
    }
    this.conn = c;
    return c;
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
