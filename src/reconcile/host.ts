// Leader-only reconcilers, level-triggered like a Kubernetes controller: after the log is applied the
// leader compares what the actors say the world should be with what it is, drives it there, and
// proposes the outcome as events. Rules this host enforces for every reconciler:
// - runs only while this member leads; every run gets the term (a fencing token) and an AbortSignal
//   that fires the moment leadership is lost, and nothing is started after that;
// - at most one run per (reconciler, key) at a time; changes during a run cause exactly one rerun;
// - on gaining leadership every reconciler sweeps every key once (that is how a new leader finishes
//   the jobs and failovers of the one that died), and again periodically as a safety net;
// - a failing run is retried with backoff; it never takes the host down.
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../log/logger.js';

export interface LeaderContext {
  term: number;
  signal: AbortSignal;
  log: Logger;
}

export interface Reconciler<K extends string = string> {
  readonly name: string;
  /** Every key this reconciler is responsible for now (e.g. every active job id, every shard id). */
  keys(): K[];
  /** The keys affected by a set of changed aggregates ("shard/7", "job/12", …). */
  affected(changed: ReadonlySet<string>): K[];
  /** Drive one key toward its desired state. Must be idempotent and check the real world first. */
  reconcile(key: K, ctx: LeaderContext): Promise<void>;
}

interface Slot {
  running: boolean;
  dirty: boolean;
  failures: number;
  retry: NodeJS.Timeout | null;
  later: NodeJS.Timeout | null;
}

export class ReconcilerHost {
  private term = 0;
  private ctl: AbortController | null = null;
  private readonly slots = new Map<string, Slot>();
  private readonly inflight = new Set<Promise<void>>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly reconcilers: Reconciler[] = [];

  constructor(
    private readonly log: Logger,
    private readonly opts: { resyncMs?: number; maxBackoffMs?: number } = {},
  ) {}

  add(r: Reconciler): void {
    this.reconcilers.push(r);
    if (this.ctl) for (const k of r.keys()) this.trigger(r, k);
  }

  get leading(): boolean {
    return this.ctl !== null;
  }

  /** This member became leader in `term`: sweep everything. */
  becameLeader(term: number): void {
    this.lostLeadership();
    this.term = term;
    this.ctl = new AbortController();
    this.log.info({ term, reconcilers: this.reconcilers.map((r) => r.name) }, 'leader: running every reconciler');
    this.sweep();
    const every = this.opts.resyncMs ?? 30_000;
    this.sweepTimer = setInterval(() => this.sweep(), every);
    this.sweepTimer.unref();
  }

  /** Leadership is gone: abort every run in flight; start nothing new. */
  lostLeadership(): void {
    if (!this.ctl) return;
    this.ctl.abort(new Error(`leadership of term ${this.term} lost`));
    this.ctl = null;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    for (const s of this.slots.values()) {
      if (s.retry) clearTimeout(s.retry);
      if (s.later) clearTimeout(s.later);
    }
    this.slots.clear();
  }

  /** Aggregates changed by applied events. */
  changed(aggs: ReadonlySet<string>): void {
    if (!this.ctl || aggs.size === 0) return;
    for (const r of this.reconcilers) for (const k of r.affected(aggs)) this.trigger(r, k);
  }

  /** Resolves when no run is in flight (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  async stop(): Promise<void> {
    this.lostLeadership();
    await this.idle();
  }

  /**
   * Runs the key again in `ms` (unless it runs sooner): for a run that succeeded but left a part to try
   * again, e.g. a row the metadata shard refused while every other row was written. One at a time.
   */
  later(r: Reconciler, key: string, ms: number): void {
    const ctl = this.ctl;
    const s = this.slots.get(`${r.name}:${key}`);
    if (!ctl || !s || s.later) return;
    s.later = setTimeout(() => {
      s.later = null;
      if (this.ctl === ctl) this.trigger(r, key);
    }, ms);
    s.later.unref();
  }

  private sweep(): void {
    for (const r of this.reconcilers) for (const k of r.keys()) this.trigger(r, k);
  }

  private trigger(r: Reconciler, key: string): void {
    const ctl = this.ctl;
    if (!ctl) return;
    const id = `${r.name}:${key}`;
    let s = this.slots.get(id);
    if (!s) {
      s = { running: false, dirty: false, failures: 0, retry: null, later: null };
      this.slots.set(id, s);
    }
    if (s.running) {
      s.dirty = true;
      return;
    }
    if (s.retry) {
      clearTimeout(s.retry);
      s.retry = null;
    }
    this.run(r, key, s, ctl);
  }

  private run(r: Reconciler, key: string, s: Slot, ctl: AbortController): void {
    s.running = true;
    s.dirty = false;
    const ctx: LeaderContext = { term: this.term, signal: ctl.signal, log: this.log.child({ reconciler: r.name, key, term: this.term }) };
    const p = (async () => {
      try {
        await r.reconcile(key, ctx);
        s.failures = 0;
      } catch (e) {
        if (ctl.signal.aborted) return;
        s.failures++;
        const delay = Math.min(250 * 2 ** Math.min(s.failures - 1, 10), this.opts.maxBackoffMs ?? 10_000);
        ctx.log.warn({ err: e, attempt: s.failures, retry_in_ms: delay }, 'reconcile failed; will retry');
        if (this.ctl === ctl) {
          s.retry = setTimeout(() => {
            s.retry = null;
            this.trigger(r, key);
          }, delay);
          s.retry.unref();
        }
      } finally {
        s.running = false;
        if (s.dirty && !s.retry && this.ctl === ctl && !ctl.signal.aborted) this.run(r, key, s, ctl);
      }
    })();
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }
}

/** Throws the abort reason when leadership was lost; call between effects. */
export function checkLeading(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('leadership lost');
}

/** Waits `ms`, or less when leadership is lost: then it resolves at once, so the caller's next
 *  checkLeading throws (a pause between steps never outlives the leadership that started it). */
export async function sleepWhileLeading(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return;
  try {
    await delay(ms, undefined, { signal });
  } catch (e) {
    if (!signal.aborted) throw e;
  }
}
