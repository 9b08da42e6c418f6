// Refused callers are logged, but a caller that retries in a loop must not flood the log: at most
// `perWindow` lines per key (e.g. the caller's address) per window, then one line saying how many
// were left out once the window has passed.

export class LogRateLimit {
  private readonly seen = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly perWindow = 5,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether to log this occurrence, and how many of this key were left out before it. */
  take(key: string): { log: boolean; suppressed: number } {
    const t = this.now();
    const s = this.seen.get(key);
    if (s === undefined || t - s.start >= this.windowMs) {
      const suppressed = s ? Math.max(0, s.count - this.perWindow) : 0;
      this.seen.set(key, { start: t, count: 1 });
      if (this.seen.size > 10_000) this.seen.delete(this.seen.keys().next().value!);
      return { log: true, suppressed };
    }
    s.count++;
    return { log: s.count <= this.perWindow, suppressed: 0 };
  }
}
