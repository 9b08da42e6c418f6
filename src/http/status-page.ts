// The web status page every member serves at GET / and GET /status: one self-contained HTML file
// (src/http/status-page/index.html, no build step, no CDN) that reads /api/v1/view and /api/v1/leader
// and follows /api/v1/events (server-sent events) live, falling back to polling the view when the stream
// is down. It can start a switchover (manual_switch through POST /HttpService/Emit).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** The page's source, beside this module's source (the repository is what gets deployed). */
export const STATUS_PAGE_FILE = fileURLToPath(new URL('../../../src/http/status-page/index.html', import.meta.url));

let cached: string | null = null;

export function statusPageHtml(): string {
  cached ??= readFileSync(STATUS_PAGE_FILE, 'utf8');
  return cached;
}

export function registerStatusPage(app: FastifyInstance): void {
  const html = statusPageHtml();
  const send = (_req: unknown, reply: { header(k: string, v: string): unknown; send(b: string): unknown }) => {
    reply.header('content-type', 'text/html; charset=utf-8');
    reply.header('cache-control', 'no-cache');
    // Everything the page needs is inline or from this member; nothing from elsewhere.
    reply.header('content-security-policy', "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'");
    return reply.send(html);
  };
  app.get('/', { schema: { hide: true } }, send);
  app.get('/status', { schema: { hide: true } }, send);
}
