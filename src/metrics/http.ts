// GET /metrics (Prometheus text format) and the HTTP request metrics of a member's fastify app.
// The route is an ordinary API route: when api_token is set it needs the bearer token like every
// other read route (src/http/auth.ts).
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { MemberMetrics } from './member-metrics.js';

/** Label of requests that matched no route (404s): URLs would make the label set unbounded. */
export const UNMATCHED_ROUTE = 'unmatched';

let processRegistry: Registry | null = null;
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * Process metrics (CPU, memory, event-loop lag, GC: prom-client's defaults) describe the process, not
 * the member, and collecting them starts an event-loop monitor and a GC observer that are never
 * stopped: one set per process, served by every member the process runs.
 */
function processMetrics(): Registry {
  if (processRegistry === null) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
    // Gauges that prom-client names like counters: `promtool check metrics` rejects them.
    for (const name of MISNAMED_DEFAULTS) processRegistry.removeSingleMetric(name);
  }
  return processRegistry;
}

/** The member's metrics and the process metrics, in the text exposition format. */
export async function exposition(m: MemberMetrics): Promise<string> {
  const [own, proc] = await Promise.all([m.registry.metrics(), processMetrics().metrics()]);
  return `${own}${proc}`;
}

/** Counts and times every answered request by its route pattern. */
function registerHttpMetrics(app: FastifyInstance, m: MemberMetrics): void {
  processMetrics();
  app.addHook('onResponse', async (req, reply) => {
    m.httpAnswered(req.method, req.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime / 1000);
  });
}

/** GET /metrics, and the request metrics of every route: call before other routes are added. */
export function registerMetrics(app: FastifyInstance, m: MemberMetrics): void {
  registerHttpMetrics(app, m);
  app.get('/metrics', { schema: { tags: ['meta'], summary: 'Prometheus metrics of this member (text exposition format)' } }, async (_req, reply) => {
    const body = await exposition(m);
    return reply.header('content-type', m.registry.contentType).send(body);
  });
}
