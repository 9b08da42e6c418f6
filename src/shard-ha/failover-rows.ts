// rbr_consfailover rows (XPanel's failover history): one per recorded step and one for the outcome,
// exactly once (appendFailoverRow claims an idempotency key per row). Written by the leader right after
// the step's event is applied; a new leader re-appends the task's latest step and the last outcome
// (a no-op when they are there), which covers a leader that died between the event and the row.
// Best effort: a failover never waits for the metadata shard (it may be the shard failing over).
import type mysql from 'mysql2/promise';
import type { ShardView } from '../actors/index.js';
import type { Config } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import { appendFailoverRow, connectWritableMeta, metaConnectOptions, type FailoverRow } from '../metadata/index.js';

export interface StepRow {
  shard: ShardView;
  task: number;
  kind: string;
  /** Step name, or "end" for the outcome. */
  step: string;
  /** The failed/old primary as "ip_port". */
  oldHost: string;
  newHost: string | null;
  info: string;
  at: number;
  errCode: number;
  errMsg: string | null;
}

export class FailoverRows {
  private conn: mysql.Connection | null = null;
  private readonly written = new Set<string>();
  private queue: Promise<void> = Promise.resolve();

  /** Appends in the background, in order: the failover goes on while the row is written. */
  enqueue(r: StepRow): void {
    this.queue = this.queue.then(() => this.append(r));
  }

  /** Resolves when every queued row was tried (tests, shutdown). */
  async flushed(): Promise<void> {
    await this.queue;
  }

  constructor(
    private readonly cfg: Config,
    private readonly log: Logger,
  ) {}

  async append(r: StepRow): Promise<void> {
    const key = `failover/${r.task}/${r.step}`;
    if (this.written.has(key) || this.cfg.metaSeeds.length === 0) return;
    const row: FailoverRow = {
      host: r.oldHost,
      shardId: r.shard.id,
      clusterId: r.shard.cluster,
      taskId: String(r.task),
      step: r.step,
      newMasterHost: r.newHost,
      description: r.info.slice(0, 60_000),
      consfailoverMsg: JSON.stringify({ sw_type: r.kind === 'failover' ? 'consfailover' : 'manual_switch', task: r.task }),
      timestamp: r.at,
      errCode: r.errCode,
      errMsg: r.errMsg,
    };
    try {
      const c = await this.connection();
      // A hung metadata node must not hold the failover: give up after a few seconds.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          c.destroy();
          reject(new Error('metadata append timed out'));
        }, 5_000);
      });
      try {
        await Promise.race([appendFailoverRow(c, key, row), timeout]);
      } finally {
        clearTimeout(timer);
      }
      this.written.add(key);
    } catch (e) {
      this.log.warn({ err: e, key }, 'rbr_consfailover row not written (retried on the next pass)');
      await this.drop();
    }
  }

  private async connection(): Promise<mysql.Connection> {
    if (this.conn) return this.conn;
    const c = await connectWritableMeta(metaConnectOptions(this.cfg));
    c.on('error', () => void this.drop());
    this.conn = c;
    return c;
  }

  async drop(): Promise<void> {
    const c = this.conn;
    this.conn = null;
    if (c) await c.end().catch(() => c.destroy());
  }
}
