// Everything a member serves over HTTP besides its health checks: bearer auth, the compatible Emit
// endpoint, the REST views, the event stream and the OpenAPI document that lists them. Swagger must
// be registered before any route so that it sees them all: call mountApi right after creating the app.
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import type { LeaderState } from '../ports/index.js';
import { VERSION } from '../version.js';
import type { ApiAccess } from './api-access.js';
import { registerAuth } from './auth.js';
import { RefusalAudit, type RefusalMetrics } from './refusals.js';
import type { Logger } from '../log/logger.js';
import { MemberEmitBackend, type EmitRuntime } from './emit-backend.js';
import { registerEmit } from './emit-route.js';
import { attachmentKeys, openApiSchema } from '../jobs/definition.js';
import { JOB_DEFINITIONS } from '../jobs/types/index.js';
import { parasJsonSchema } from '../actors/commands/paras-spec.js';
import { registerRestRoutes, type RestRuntime } from './rest-routes.js';
import { EventBuffer, registerEventStream, type EventSource } from './event-stream.js';

/** What the API uses of the member (ManagerRuntime implements it). */
export interface ApiRuntime extends EmitRuntime, RestRuntime, LeaderState {
  /** The applied world's events, for /api/v1/events. */
  readonly sm: EventSource;
  readonly log: Logger;
  /** Where refused requests are counted. */
  readonly metrics: RefusalMetrics | null;
}

export interface ApiContext {
  runtime: ApiRuntime;
  /** HTTP base URL of a member, e.g. the leader's (null if unknown). */
  httpUrlOf(memberId: string | null): string | null;
  /** Who may call (loadApiAccess, read before the member starts). */
  access: ApiAccess;
}

/** Registers swagger, CORS and access control; call before any route is added. */
export async function prepareApi(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'cluster_mgr',
        version: VERSION,
        description: 'KunlunBase cluster manager. POST /HttpService/Emit is the original job API (see docs/api.md); /api/v1 is read-only REST.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      ...(ctx.access.open ? {} : { security: [{ bearer: [] }] }),
    },
  });
  registerAuth(app, ctx.access, new RefusalAudit(ctx.runtime.log.child({ part: 'api-access' }), ctx.runtime.metrics));
}

/** Emit, REST, the event stream and /api/v1/openapi.json. */
export function mountApi(app: FastifyInstance, ctx: ApiContext): { events: EventBuffer } {
  const rt = ctx.runtime;
  const backend = new MemberEmitBackend({
    runtime: rt,
    leaderUrl: () => ctx.httpUrlOf(rt.leader),
    apiToken: ctx.access.relayToken,
    storageAccount: { user: rt.cfg.str('meta_user'), password: rt.cfg.str('meta_pwd') },
    metaSeeds: rt.cfg.metaSeeds,
  });
  registerEmit(app, backend);
  registerRestRoutes(app, rt, { leaderUrl: () => ctx.httpUrlOf(rt.leader), apiToken: ctx.access.relayToken });
  const events = new EventBuffer(rt.sm);
  registerEventStream(app, events);
  app.get('/api/v1/openapi.json', { schema: { tags: ['meta'], summary: 'this document' } }, () => openApiDocument(app));
  return { events };
}

/** The generated document plus the Emit request bodies and get_status attachments per job type (src/jobs/types). */
export function openApiDocument(app: FastifyInstance): Record<string, unknown> {
  const doc = structuredClone(app.swagger()) as Record<string, unknown> & {
    paths?: Record<string, Record<string, unknown>>;
    components?: Record<string, Record<string, unknown>>;
  };
  const schemas: Record<string, unknown> = {};
  const served = Object.values(JOB_DEFINITIONS.served());
  for (const def of served) {
    const type = def.name;
    schemas[`Attachment_${type}`] = {
      type: 'object',
      description: def.attachment.description,
      properties: openApiSchema({ properties: attachmentKeys(def) }).properties,
    };
    schemas[`Emit_${type}`] = {
      type: 'object',
      description: `${def.summary} (${def.sync ? 'sync: the answer carries the result' : 'async: answers accept + job_id; poll get_status'})`,
      required: ['job_type'],
      properties: {
        version: { type: 'string', example: '1.0' },
        job_id: { type: 'string', description: type === 'get_status' ? 'the job to report on' : 'ignored' },
        job_type: { type: 'string', enum: [type] },
        timestamp: { type: 'string' },
        user_name: { type: 'string' },
        paras: parasJsonSchema(def.paras),
      },
    };
  }
  doc.components = { ...(doc.components ?? {}), schemas: { ...(doc.components?.schemas ?? {}), ...schemas } };
  const emit = doc.paths?.['/HttpService/Emit']?.post as Record<string, unknown> | undefined;
  if (emit !== undefined) {
    emit.summary = 'the original job API: one JSON envelope per job type';
    emit.requestBody = {
      required: true,
      content: { 'application/json': { schema: { oneOf: served.map((d) => ({ $ref: `#/components/schemas/Emit_${d.name}` })) } } },
    };
    emit.responses = {
      200: {
        description: 'always HTTP 200: status accept | done | failed | a job status, error_code, error_info, job_id, attachment',
        content: { 'text/plain': { schema: { type: 'object' } } },
      },
    };
  }
  return doc;
}
