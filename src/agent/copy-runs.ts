// The copies this agent received or receives, by id, and their outcomes across agent restarts: every
// step change and every end is written to a small file next to the registry (0600, the last
// MAX_KEPT copies), so a manager asking get_copy_status after an agent restart gets a definite answer:
// the finished outcome, or "failed: the agent restarted during the copy" for one that was cut.
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from '../log/logger.js';
import { writeFileAtomic } from './atomic-file.js';
import type { CopyRun, CopyStatus, StopCause } from './copy-target.js';

/** How many copies (running and finished) are remembered, in memory and on disk. */
export const MAX_KEPT = 100;

/** What get_copy_status and abort_copy need of a copy, live or remembered. */
export interface KnownCopy {
  readonly finished: boolean;
  /** Resolves when the copy has ended. */
  readonly settled: Promise<void>;
  status(): CopyStatus;
  requestAbort(cause?: StopCause): boolean;
}

/** A copy of an earlier run of the agent: its outcome only. */
class PastCopy implements KnownCopy {
  readonly finished = true;
  readonly settled = Promise.resolve();
  constructor(private readonly s: CopyStatus) {}
  status(): CopyStatus {
    return this.s;
  }
  requestAbort(): boolean {
    return false;
  }
}

interface OutcomesFile {
  format: 1;
  copies: CopyStatus[];
}

const FINISHED = new Set(['done', 'failed', 'aborted']);

/**
 * The copies in `text` (the outcomes file); those that had not finished are turned into failures,
 * because the agent that ran them is gone. `now` stamps their end.
 */
export function outcomesAfterRestart(text: string, now: Date): { copies: CopyStatus[]; interrupted: CopyStatus[] } {
  const parsed = JSON.parse(text) as Partial<OutcomesFile> | null;
  if (!parsed || parsed.format !== 1 || !Array.isArray(parsed.copies)) throw new Error('unknown format (expected {"format":1,"copies":[…]})');
  const interrupted: CopyStatus[] = [];
  const copies = parsed.copies
    .filter((c) => c !== null && typeof c === 'object' && typeof c.copy_id === 'string' && typeof c.port === 'number')
    .slice(-MAX_KEPT)
    .map((c) => {
      if (FINISHED.has(c.step)) return c;
      const ended: CopyStatus = {
        ...c,
        step: 'failed',
        rate_bytes_per_sec: 0,
        finished_at: now.toISOString(),
        elapsed_ms: Math.max(0, now.getTime() - Date.parse(c.started_at)),
        error: `copy ${c.copy_id} to port ${c.port} failed in step ${c.step}: the agent restarted during the copy; leftovers removed`,
        interrupted: true,
      };
      interrupted.push(ended);
      return ended;
    });
  return { copies, interrupted };
}

export class CopyRuns {
  private readonly byId = new Map<string, KnownCopy>();

  private constructor(
    private readonly file: string,
    private readonly log: Logger,
  ) {}

  /** The outcomes of the copies of earlier runs from `file`; an unreadable file is logged and set aside. */
  static load(file: string, log: Logger, now = new Date()): CopyRuns {
    const runs = new CopyRuns(file, log);
    if (!existsSync(file)) return runs;
    try {
      const { copies, interrupted } = outcomesAfterRestart(readFileSync(file, 'utf8'), now);
      for (const c of copies) runs.byId.set(c.copy_id, new PastCopy(c));
      for (const c of interrupted) log.warn({ copy_id: c.copy_id, port: c.port, error: c.error }, 'a physical copy was cut by an agent restart; recorded as failed');
      if (interrupted.length > 0) runs.save();
    } catch (e) {
      // Only status memory: the agent works without it (the manager then sees "unknown" and starts again).
      log.error({ file, err: e }, 'the copies outcomes file is unreadable; starting without it');
    }
    return runs;
  }

  get(id: string): KnownCopy | undefined {
    return this.byId.get(id);
  }

  /** The copy that runs on `port`, or the last one that did. */
  onPort(port: number): KnownCopy | undefined {
    let last: KnownCopy | undefined;
    for (const r of this.byId.values()) if (r.status().port === port) last = r;
    return last;
  }

  add(run: CopyRun): void {
    // A finished copy of the same id is replaced: a manager retrying with its own id starts afresh.
    this.byId.delete(run.req.copyId);
    this.byId.set(run.req.copyId, run);
    while (this.byId.size > MAX_KEPT) {
      const oldest = [...this.byId.entries()].find(([, r]) => r.finished);
      if (!oldest) break;
      this.byId.delete(oldest[0]);
    }
    run.onChange = () => this.save();
    this.save();
  }

  abortAll(cause: StopCause): void {
    for (const r of this.byId.values()) r.requestAbort(cause);
  }

  private save(): void {
    const body: OutcomesFile = { format: 1, copies: [...this.byId.values()].map((r) => r.status()) };
    try {
      writeFileAtomic(this.file, `${JSON.stringify(body)}\n`);
    } catch (e) {
      this.log.error({ file: this.file, err: e }, 'cannot write the copies outcomes file');
    }
  }
}
