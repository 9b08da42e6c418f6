// Notices a transfer that stopped moving: it polls a progress counter (bytes so far) and calls
// onStall once when the counter has not changed for `timeoutMs`. Polling, not a timer re-armed per
// chunk: a copy moves thousands of chunks a second.
export interface StallWatchOptions {
  timeoutMs: number;
  /** Anything that grows while the transfer moves (bytes received). */
  progress: () => number;
  onStall: (idleMs: number) => void;
  /** Injected for tests; Date.now otherwise. */
  now?: () => number;
  /** false: no timer; the caller calls check() (tests). */
  autoCheck?: boolean;
}

export class StallWatch {
  private lastValue: number;
  private lastMoveAt: number;
  private fired = false;
  private readonly timer: NodeJS.Timeout | null;
  private readonly now: () => number;

  constructor(private readonly o: StallWatchOptions) {
    this.now = o.now ?? Date.now;
    this.lastValue = o.progress();
    this.lastMoveAt = this.now();
    this.timer = o.autoCheck === false ? null : setInterval(() => this.check(), Math.max(50, Math.min(1_000, o.timeoutMs / 4)));
    this.timer?.unref();
  }

  /** True when it has fired (now or before). */
  check(): boolean {
    if (this.fired) return true;
    const at = this.now();
    const v = this.o.progress();
    if (v !== this.lastValue) {
      this.lastValue = v;
      this.lastMoveAt = at;
      return false;
    }
    if (at - this.lastMoveAt < this.o.timeoutMs) return false;
    this.fired = true;
    this.stop();
    this.o.onStall(at - this.lastMoveAt);
    return true;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
