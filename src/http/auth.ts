// Access control of a member's API (api_auth, api_tokens_file, api_allowed_clients; see
// docs/security.md). Every route has a role in route-roles.ts (a route without one stops the member at
// start-up); a request authenticates with `Authorization: Bearer <token>`, whose role must reach the
// route's, or, for POST /HttpService/Emit only, comes from an address in api_allowed_clients (XPanel
// cannot send a token). The role an Emit call needs is its job type's, read from the body.
// Token comparison is constant-time over digests, so neither the content nor the length leaks.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clientAllowed, tokenDigest, type ApiAccess } from './api-access.js';
import { registerCors } from './cors.js';
import { EMIT_HEADERS, failed, parseEnvelope, serializeAnswer } from './emit-envelope.js';
import { E } from './error-codes.js';
import type { RefusalAudit, RefusalReason } from './refusals.js';
import { roleAllows, roleOfJob, routeAccess, type Role } from './route-roles.js';

export function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(tokenDigest(presented), tokenDigest(expected));
}

/** The role of a presented token, or null. Every token is compared, so timing does not tell which matched. */
function roleOfToken(access: ApiAccess, presented: string): Role | null {
  const d = tokenDigest(presented);
  let role: Role | null = null;
  for (const t of access.tokens) if (timingSafeEqual(d, t.digest) && (role === null || roleAllows(t.role, role))) role = t.role;
  return role;
}

const roles = new WeakMap<FastifyRequest, Role>();

export function registerAuth(app: FastifyInstance, access: ApiAccess, audit: RefusalAudit): void {
  registerCors(app, access.allowedOrigins, audit);
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) {
      if (routeAccess(m, r.url) === null) throw new Error(`route ${m} ${r.url} has no role in src/http/route-roles.ts: add one`);
    }
  });
  if (access.open) return;

  const refuse = async (req: FastifyRequest, reply: FastifyReply, code: 401 | 403, reason: RefusalReason, error: string): Promise<FastifyReply> => {
    audit.record(req, reason, code, error);
    if (code === 401) void reply.header('www-authenticate', 'Bearer realm="cluster_mgr"');
    // Emit clients read the original's envelope; REST clients read `error`.
    if (req.routeOptions.url === '/HttpService/Emit') {
      await reply.code(code).headers(EMIT_HEADERS).send(serializeAnswer(failed(E.INVALID_REQUEST, error)));
    } else {
      await reply.code(code).send({ error, status: 'failed', error_code: String(E.INVALID_REQUEST), error_info: error });
    }
    return reply;
  };

  app.addHook('onRequest', async (req, reply) => {
    // Unmatched paths need a token too: a scan learns nothing without one.
    const need = req.routeOptions.url === undefined ? 'read' : (routeAccess(req.method, req.routeOptions.url) ?? 'read');
    if (need === 'open' || req.method === 'OPTIONS') return undefined;
    const h = req.headers.authorization;
    if (h === undefined) {
      if (need === 'emit' && clientAllowed(access.allowedClients, req.socket.remoteAddress)) {
        roles.set(req, 'admin');
        return undefined;
      }
      return refuse(req, reply, 401, 'no_token', `authorization required: send "Authorization: Bearer <token>" (${req.method} ${req.url.split('?')[0]!.slice(0, 100)})`);
    }
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(h);
    const role = m === null ? null : roleOfToken(access, m[1]!);
    if (role === null) return refuse(req, reply, 401, 'bad_token', 'the bearer token is not valid');
    roles.set(req, role);
    if (need !== 'emit' && !roleAllows(role, need)) {
      return refuse(req, reply, 403, 'role', `${req.method} ${req.routeOptions.url} needs the ${need} role; this token has ${role}`);
    }
    return undefined;
  });

  // Emit: the job type decides, so the body must have been read.
  app.addHook('preHandler', async (req, reply) => {
    if (req.method !== 'POST' || req.routeOptions.url === undefined || routeAccess('POST', req.routeOptions.url) !== 'emit') return undefined;
    const role = roles.get(req);
    if (role === undefined) return refuse(req, reply, 401, 'no_token', 'authorization required');
    const env = typeof req.body === 'string' ? parseEnvelope(req.body) : null;
    const jobType = env?.ok === true ? env.env.job_type : '';
    const need = roleOfJob(jobType);
    if (!roleAllows(role, need)) return refuse(req, reply, 403, 'role', `job type ${jobType} needs the ${need} role; this token has ${role}`);
    return undefined;
  });
}
