// Every request access control refuses leaves a trace: a warning line (source address, method, route,
// reason; never the presented token), rate-limited so a flood cannot fill the disk, and
// cluster_mgr_http_refused_total{reason}.
import type { FastifyRequest } from 'fastify';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited.js';

/** Why access control refused a request: the label of cluster_mgr_http_refused_total. */
export const REFUSAL_REASONS = ['no_token', 'bad_token', 'role', 'origin'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** What the audit records refusals in (the member's metrics). */
export interface RefusalMetrics {
  httpRefusal(reason: RefusalReason, n?: number): void;
}

export class RefusalAudit {
  private readonly lines: RateLimitedLog;

  constructor(
    log: Logger,
    private readonly metrics: RefusalMetrics | null,
  ) {
    this.lines = new RateLimitedLog(log);
    for (const r of REFUSAL_REASONS) metrics?.httpRefusal(r, 0);
  }

  record(req: FastifyRequest, reason: RefusalReason, status: number, detail: string): void {
    this.metrics?.httpRefusal(reason);
    // The URL without its query: a query string may hold anything the caller chose.
    this.lines.warn(
      { source: req.ip, method: req.method, route: req.url.split('?')[0]!.slice(0, 200), reason, status, ...(req.headers.origin !== undefined ? { origin: String(req.headers.origin).slice(0, 200) } : {}) },
      `API request refused: ${detail}`,
    );
  }
}
