// Cross-origin access: a web page may call the API from a browser only if its origin is listed in
// api_allowed_origins. Listed origins get their own origin back (never "*", never allow-credentials:
// the API authenticates with a bearer header, not cookies); a request or preflight carrying any other
// cross-origin Origin is refused before it reaches a route, so a page an operator happens to open
// cannot drive the API (a text/plain POST needs no preflight, hence the refusal of the request itself).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RefusalAudit } from './refusals.js';

const ALLOW_METHODS = 'GET, POST, OPTIONS';
const ALLOW_HEADERS = 'authorization, content-type';

/** Same origin: the page was served by this member (the status page). */
function sameOrigin(req: FastifyRequest, origin: string): boolean {
  const host = req.headers.host;
  return host !== undefined && origin === `${req.protocol}://${host}`;
}

export function registerCors(app: FastifyInstance, allowed: ReadonlySet<string>, audit: RefusalAudit): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const origin = req.headers.origin;
    if (origin === undefined || sameOrigin(req, origin)) return;
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (!allowed.has(origin)) {
      audit.record(req, 'origin', 403, `origin ${origin.slice(0, 200)} is not in api_allowed_origins`);
      await reply.code(403).header('vary', 'origin').send({ error: `cross-origin requests from ${origin.slice(0, 200)} are not allowed (api_allowed_origins)`, status: 'failed', error_code: '70001', error_info: 'origin not allowed' });
      return reply;
    }
    void reply.header('access-control-allow-origin', origin).header('vary', 'origin');
    if (preflight) {
      await reply
        .code(204)
        .header('access-control-allow-methods', ALLOW_METHODS)
        .header('access-control-allow-headers', ALLOW_HEADERS)
        .header('access-control-max-age', '600')
        .send();
      return reply;
    }
    void reply.header('access-control-expose-headers', 'x-applied-index');
    return undefined;
  });
}
