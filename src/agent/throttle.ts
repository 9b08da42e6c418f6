// A pass-through stream that counts, hashes and rate-limits what flows through it: the physical copy's
// pv (node_mgr pipes its xtrabackup stream through `pv -L <pv_limit>m`). Holding a chunk back is enough:
// the pause propagates as TCP back-pressure to the sending agent and its mariadb-backup.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export const MIB = 1024 * 1024;

/** How long a rate sample window is: rates are over the last few seconds, not since the start. */
const RATE_WINDOW_MS = 3_000;

export interface MeterOptions {
  /** Bytes per second; 0 = no limit. */
  limitBytesPerSec: number;
  /** Injected for tests; Date.now otherwise. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export class RateMeter extends Transform {
  bytes = 0;
  readonly hash: Hash = createHash('sha256');
  private readonly startedAt: number;
  private readonly samples: { at: number; bytes: number }[] = [];
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: MeterOptions) {
    super();
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.startedAt = this.now();
    this.samples.push({ at: this.startedAt, bytes: 0 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    const at = this.now();
    this.samples.push({ at, bytes: this.bytes });
    while (this.samples.length > 2 && at - this.samples[1]!.at > RATE_WINDOW_MS) this.samples.shift();
    const wait = this.delayFor(at);
    if (wait <= 0) {
      cb(null, chunk);
      return;
    }
    this.sleep(wait).then(() => cb(null, chunk), cb);
  }

  /** ms to hold the current chunk so that the average since the start stays at the limit. */
  delayFor(at: number): number {
    const limit = this.opts.limitBytesPerSec;
    if (limit <= 0) return 0;
    return this.startedAt + (this.bytes / limit) * 1_000 - at;
  }

  /** Bytes per second over the last few seconds. */
  rate(): number {
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    const ms = Math.max(this.now(), last.at) - first.at;
    return ms > 0 ? Math.round(((last.bytes - first.bytes) * 1_000) / ms) : 0;
  }

  elapsedMs(): number {
    return this.now() - this.startedAt;
  }
}
