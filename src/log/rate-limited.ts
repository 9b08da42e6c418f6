// A logger for events a caller can provoke at will (refused requests, bad frames): at most `burst`
// lines per `windowMs`; past that the lines are counted, and the count is logged with the next line
// once a new window starts, so a flood cannot fill the disk while nothing goes unnoticed.
import type { Logger } from './logger.js';

export class RateLimitedLog {
  private windowStart = -Infinity;
  private inWindow = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly burst = 20,
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs at warn level unless the window's budget is spent; returns whether it logged. */
  warn(fields: Record<string, unknown>, msg: string): boolean {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      this.windowStart = t;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.burst) {
      this.suppressed++;
      return false;
    }
    this.inWindow++;
    const extra = this.suppressed > 0 ? { suppressed_before: this.suppressed } : {};
    this.suppressed = 0;
    this.log.warn({ ...fields, ...extra }, msg);
    return true;
  }
}
