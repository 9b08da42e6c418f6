// A steady writer of one table that writes where the routing says the table is and, after an error,
// looks the routing up again, as a compute node does. Used by the expand_cluster e2e test and by
// `npm run bench:expand`: both measure the longest gap between acknowledged writes of a moved table
// and compare what was acknowledged with where the table ends up.
// The table needs columns id (BIGINT key), v (VARCHAR) and n (INT); rows 1..existing must exist.
import type mysql from 'mysql2/promise';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RoutedWriterOptions {
  /** A connection to the primary of `shard`, with the table's database as default. */
  connect: (shard: number) => Promise<mysql.Connection>;
  /** The table's shard as the routing has it now. */
  route: () => Promise<number>;
  /** Rows 1..existing exist: updates pick among them; inserts use ids existing+1, existing+2, … */
  existing: number;
  /** The first id to insert when not existing+1 (a table that already holds writers' rows). */
  firstId?: number;
  /** Delete row k after every deleteEvery-th insert (0: no deletes). */
  deleteEvery?: number;
}

/** The longest gap between two acknowledged writes, with when it began and ended (epoch ms). */
export interface Pause {
  ms: number;
  from: number;
  to: number;
}

const GAP_MS = 20;

/** The gap of `gaps` that spans the moment `at` (epoch ms), or none. */
export function gapAt(gaps: readonly Pause[], at: number): Pause | null {
  return gaps.find((g) => g.from <= at && at <= g.to) ?? null;
}

export class RoutedWriter {
  readonly inserted: number[] = [];
  readonly deleted: number[] = [];
  /** Inserts and deletes whose outcome is unknown (a lost connection): they may or may not have committed. */
  readonly maybeInserted: number[] = [];
  readonly maybeDeleted: number[] = [];
  /** The last acknowledged value of v per updated row, and the rows with an update of unknown outcome. */
  readonly updated = new Map<number, string>();
  readonly maybeUpdated = new Set<number>();
  errors = 0;
  longest: Pause = { ms: 0, from: 0, to: 0 };
  /** Every gap of GAP_MS or more, in order: where a pause fell (e.g. the one across a cut-over). */
  readonly gaps: Pause[] = [];
  private stopped = false;
  private done: Promise<void> | null = null;
  private c: mysql.Connection | null = null;
  private lastOk = 0;

  constructor(private readonly o: RoutedWriterOptions) {}

  get longestPauseMs(): number {
    return this.longest.ms;
  }

  start(): void {
    this.lastOk = Date.now();
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Runs one write: true when acknowledged; false after an error (then it looks up the table's shard again). */
  private async write(sql: string, params: unknown[], unsure: () => void): Promise<boolean> {
    try {
      this.c ??= await this.o.connect(await this.o.route());
      await this.c.query(sql, params);
      const now = Date.now();
      const gap = { ms: now - this.lastOk, from: this.lastOk, to: now };
      if (gap.ms > this.longest.ms) this.longest = gap;
      if (gap.ms >= GAP_MS) this.gaps.push(gap);
      this.lastOk = now;
      return true;
    } catch (e) {
      this.errors++;
      // "No such table" did not commit; anything else may have.
      if ((e as { code?: string }).code !== 'ER_NO_SUCH_TABLE') unsure();
      await this.c?.end().catch(() => undefined);
      this.c = null;
      await sleep(10);
      return false;
    }
  }

  private async loop(): Promise<void> {
    const every = this.o.deleteEvery ?? 0;
    const first = this.o.firstId ?? this.o.existing + 1;
    for (let k = 1; !this.stopped; k++) {
      const id = first + k - 1;
      if (!(await this.write('INSERT INTO t (id, v, n) VALUES (?, ?, ?)', [id, `w${id}`, k], () => this.maybeInserted.push(id)))) continue;
      this.inserted.push(id);
      const row = 1 + ((k * 7919) % this.o.existing);
      if (k % 3 === 0 && (await this.write('UPDATE t SET n = n + 1000, v = ? WHERE id = ?', [`u${k}`, row], () => this.maybeUpdated.add(row)))) this.updated.set(row, `u${k}`);
      if (every > 0 && k % every === 0 && (await this.write('DELETE FROM t WHERE id = ?', [k], () => this.maybeDeleted.push(k)))) this.deleted.push(k);
    }
    await this.c?.end().catch(() => undefined);
  }
}
