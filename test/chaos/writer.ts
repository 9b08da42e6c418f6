// A continuous writer: inserts sequenced rows into whatever node `getPrimary()` names, one at a time,
// and records every acknowledged write (id, time, node). A write that failed may or may not have
// committed; only acknowledged ones must survive a failover, and checkAcknowledged() verifies that on
// any node. Gaps between acknowledgements are the shard's write unavailability.
import mysql from 'mysql2/promise';
import type { Connection } from 'mysql2/promise';
import type { Credentials, Endpoint } from '../../src/storage-node/replication.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const DEFAULT_WRITER_TABLE = 'cmgr_chaos.acked_writes';

const QUALIFIED = /^([A-Za-z_][A-Za-z0-9_]{0,63})\.([A-Za-z_][A-Za-z0-9_]{0,63})$/;

function checkTable(table: string): { db: string; table: string } {
  const m = QUALIFIED.exec(table);
  if (!m) throw new RangeError(`table must be "database.table" with plain identifiers, got "${table}"`);
  return { db: m[1]!, table: table };
}

export interface WriterOptions {
  /** The node to write to now; null while there is none. Called before every attempt. */
  getPrimary: () => Endpoint | null | Promise<Endpoint | null>;
  /** An application account: it must not be able to bypass read_only (no SUPER / READ_ONLY ADMIN). */
  credentials: Credentials;
  table?: string;
  firstId?: number;
  connectTimeoutMs?: number;
  /** A write not acknowledged within this is abandoned (outcome unknown). Default 5000. */
  queryTimeoutMs?: number;
  /** Pause after a failed attempt, ms. Default 20. */
  retryDelayMs?: number;
  /** Pause after each acknowledged write, ms. Default 0. */
  pauseMs?: number;
}

export interface AckedWrite {
  id: number;
  /** When the acknowledgement arrived, ms since the epoch. */
  at: number;
  node: string;
  latencyMs: number;
}

export interface FailedWrite {
  id: number;
  at: number;
  node: string | null;
  code: string;
}

export interface UnavailabilityWindow {
  /** Last acknowledgement before the gap (or the writer's start). */
  from: number;
  /** First acknowledgement after it; null when the writer stopped without one. */
  to: number | null;
  ms: number;
  failures: number;
}

export interface WriterReport {
  attempts: number;
  acked: number;
  failed: number;
  windows: UnavailabilityWindow[];
  longestMs: number;
  errors: Record<string, number>;
}

export class ContinuousWriter {
  private readonly acks: AckedWrite[] = [];
  private readonly fails: FailedWrite[] = [];
  private readonly table: string;
  private nextId: number;
  private conn: Connection | null = null;
  private connNode: string | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  private startedAt = 0;
  private stoppedAt: number | null = null;

  constructor(private readonly o: WriterOptions) {
    this.table = checkTable(o.table ?? DEFAULT_WRITER_TABLE).table;
    this.nextId = o.firstId ?? 1;
  }

  /** Creates the writer's database and table (run on the primary with an account allowed to). */
  static async ensureTable(c: Connection, table = DEFAULT_WRITER_TABLE): Promise<void> {
    const t = checkTable(table);
    await c.query('CREATE DATABASE IF NOT EXISTS ??', [t.db]);
    await c.query(
      'CREATE TABLE IF NOT EXISTS ?? (id BIGINT NOT NULL PRIMARY KEY, written_at_ms BIGINT NOT NULL) ENGINE=InnoDB',
      [t.table],
    );
  }

  get acked(): readonly AckedWrite[] {
    return this.acks;
  }

  get failed(): readonly FailedWrite[] {
    return this.fails;
  }

  start(): void {
    if (this.running) throw new Error('writer already started');
    this.startedAt = Date.now();
    this.running = this.loop();
  }

  async stop(): Promise<WriterReport> {
    this.stopping = true;
    await this.running;
    this.stoppedAt = Date.now();
    this.drop();
    return this.report();
  }

  /** The first write acknowledged after `t` (optionally by one node). */
  firstAckAfter(t: number, node?: string): AckedWrite | null {
    return this.acks.find((a) => a.at > t && (node === undefined || a.node === node)) ?? null;
  }

  /** Resolves once `n` more writes were acknowledged (optionally by one node), or rejects on timeout. */
  async waitForAcks(n: number, timeoutMs: number, node?: string): Promise<void> {
    const count = (): number => (node === undefined ? this.acks.length : this.acks.filter((a) => a.node === node).length);
    const want = count() + n;
    const end = Date.now() + timeoutMs;
    while (count() < want) {
      if (Date.now() > end) throw new Error(`writer: ${want - count()} of ${n} acknowledgements missing after ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  /** Gaps with failed attempts, or longer than `gapMs`, between consecutive acknowledgements. */
  report(gapMs = 1_000): WriterReport {
    const errors: Record<string, number> = {};
    for (const f of this.fails) errors[f.code] = (errors[f.code] ?? 0) + 1;
    const windows: UnavailabilityWindow[] = [];
    let fi = 0;
    let prev = this.startedAt;
    const consider = (to: number | null): void => {
      let failures = 0;
      const end = to ?? Number.POSITIVE_INFINITY;
      while (fi < this.fails.length && this.fails[fi]!.at <= end) {
        if (this.fails[fi]!.at >= prev) failures++;
        fi++;
      }
      const ms = (to ?? this.stoppedAt ?? Date.now()) - prev;
      if (failures > 0 || ms > gapMs) windows.push({ from: prev, to, ms, failures });
    };
    for (const a of this.acks) {
      consider(a.at);
      prev = a.at;
    }
    consider(null);
    // The tail after the last acknowledgement only counts when something failed in it.
    const last = windows[windows.length - 1];
    if (last && last.to === null && last.failures === 0) windows.pop();
    return {
      attempts: this.acks.length + this.fails.length,
      acked: this.acks.length,
      failed: this.fails.length,
      windows,
      longestMs: windows.reduce((m, w) => Math.max(m, w.ms), 0),
      errors,
    };
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let ep: Endpoint | null;
      try {
        ep = await this.o.getPrimary();
      } catch {
        ep = null;
      }
      if (!ep) {
        await sleep(this.o.retryDelayMs ?? 20);
        continue;
      }
      const node = `${ep.host}:${ep.port}`;
      if (this.conn && this.connNode !== node) this.drop();
      const id = this.nextId++;
      const t0 = Date.now();
      try {
        if (!this.conn) {
          this.conn = await mysql.createConnection({
            host: ep.host,
            port: ep.port,
            user: this.o.credentials.user,
            password: this.o.credentials.password,
            connectTimeout: this.o.connectTimeoutMs ?? 1_000,
          });
          this.conn.on('error', () => undefined);
          this.connNode = node;
        }
        await this.conn.query({ sql: 'INSERT INTO ?? (id, written_at_ms) VALUES (?, ?)', timeout: this.o.queryTimeoutMs ?? 5_000 }, [
          this.table,
          id,
          t0,
        ]);
        const at = Date.now();
        this.acks.push({ id, at, node, latencyMs: at - t0 });
        if (this.o.pauseMs) await sleep(this.o.pauseMs);
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        this.fails.push({ id, at: Date.now(), node, code: typeof code === 'string' ? code : 'ERROR' });
        this.drop();
        await sleep(this.o.retryDelayMs ?? 20);
      }
    }
  }

  private drop(): void {
    this.conn?.destroy();
    this.conn = null;
    this.connNode = null;
  }
}

export interface AckCheck {
  checked: number;
  present: number;
  missing: number[];
}

/** Which acknowledged ids are missing on the node behind `c`. */
export async function checkAcknowledged(
  c: Connection,
  ids: readonly number[],
  table = DEFAULT_WRITER_TABLE,
): Promise<AckCheck> {
  const t = checkTable(table);
  if (ids.length === 0) return { checked: 0, present: 0, missing: [] };
  const lo = ids.reduce((m, x) => Math.min(m, x), Number.POSITIVE_INFINITY);
  const hi = ids.reduce((m, x) => Math.max(m, x), Number.NEGATIVE_INFINITY);
  const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT id FROM ?? WHERE id BETWEEN ? AND ?', [t.table, lo, hi]);
  const have = new Set(rows.map((r) => Number(r.id)));
  const missing = ids.filter((id) => !have.has(id));
  return { checked: ids.length, present: ids.length - missing.length, missing };
}
