// Optional bearer-token auth (config key api_token). When set, every route but the health checks, the
// status page's static HTML and CORS preflights (browsers send those without credentials) needs
// `Authorization: Bearer <token>`.
// The comparison is constant-time over digests, so neither the content nor the length leaks.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

// The status page's HTML holds no data (a browser cannot send a bearer header when opening a page);
// its data calls carry the token given in the page's #token=… fragment.
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/', '/status']);

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

export function registerAuth(app: FastifyInstance, token: string): void {
  if (token === '') return;
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (OPEN_PATHS.has(path) || req.method === 'OPTIONS') return;
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer[ ]+(\S+)\s*$/i.exec(h) : null;
    if (m !== null && tokenMatches(m[1]!, token)) return;
    const error = h === undefined ? 'authorization required: send "Authorization: Bearer <api_token>"' : 'the bearer token is not valid';
    // Emit clients read error_code/status; REST clients read error. Both are in the body.
    await reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="cluster_mgr"')
      .send({ error, status: 'failed', error_code: '70001', error_info: error });
  });
}
