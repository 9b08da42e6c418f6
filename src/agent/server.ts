// The agent's HTTP side, as node_mgr serves it: POST /HttpService/Emit takes the job as the raw body
// (whatever the content type says), holds the call open until the job is done and answers text/plain
// JSON. Also GET /healthz. Requests that never reach a job (too large, unreadable) still get a
// node_mgr-shaped `failed` answer.
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from '../log/logger.js';
import { LogRateLimit } from '../log/rate-limit.js';
import { VERSION } from '../version.js';
import { Agent } from './agent.js';
import { COPY_STREAM_PATH, serveCopyStream } from './copy-source.js';
import type { AgentConfig } from './config.js';
import { formatAnswer } from './protocol.js';

export interface RunningAgent {
  agent: Agent;
  app: FastifyInstance;
  /** http://host:port */
  url: string;
  close(): Promise<void>;
}

export async function runAgent(cfg: AgentConfig, log: Logger): Promise<RunningAgent> {
  const agent = new Agent(cfg, log);
  await agent.open();
  const https = cfg.tls ? { cert: readFileSync(cfg.tls.certFile), key: readFileSync(cfg.tls.keyFile) } : null;
  const app = Fastify({ logger: false, bodyLimit: cfg.maxBodyBytes, forceCloseConnections: false, ...(https ? { https } : {}) });
  const refusals = new LogRateLimit();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.post('/HttpService/Emit', async (req, reply) => {
    const refusal = refuse(cfg, req);
    if (refusal) {
      const client = plainAddress(req.socket.remoteAddress);
      const r = refusals.take(client);
      if (r.log) log.warn({ client, why: refusal.info, ...(r.suppressed ? { suppressed: r.suppressed } : {}) }, 'refused a caller');
      return reply.code(refusal.http).type('text/plain').send(formatAnswer('', '', { status: 'failed', info: refusal.info }));
    }
    const text = await agent.handle(typeof req.body === 'string' ? req.body : '');
    return reply.type('text/plain').send(text);
  });
  // Called by another agent, not by a manager: it holds a one-time ticket instead of this agent's token,
  // and is not in allowed_clients (the managers' addresses).
  app.get(COPY_STREAM_PATH, async (req, reply) => {
    const ticket = bearerOf(req);
    const taken = ticket === '' ? null : agent.tickets.take(ticket);
    if (taken === null) {
      const client = plainAddress(req.socket.remoteAddress);
      const r = refusals.take(client);
      if (r.log) log.warn({ client, why: 'copy stream without a valid ticket' }, 'refused a caller');
      return reply.code(401).type('text/plain').send(formatAnswer('', '', { status: 'failed', info: 'missing, used or expired copy ticket' }));
    }
    reply.hijack();
    await serveCopyStream({ registry: agent.registry, log, account: taken.account }, taken.port, reply.raw);
  });
  app.get('/healthz', async (_req, reply) =>
    reply.send({ status: 'ok', service: 'cluster-mgr agent', version: VERSION, local_ip: cfg.localIp }),
  );
  app.setErrorHandler(async (err: { statusCode?: number; message?: string; code?: string }, req, reply) => {
    const info =
      err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? `request body is larger than ${cfg.maxBodyBytes} bytes (max_body_bytes)`
        : `request refused: ${err.message ?? 'unknown error'}`;
    log.warn({ url: req.url, code: err.code, info }, 'refused a request before it reached a job');
    return reply
      .code(err.statusCode && err.statusCode < 500 ? err.statusCode : 500)
      .type('text/plain')
      .send(formatAnswer('', '', { status: 'failed', info }));
  });
  try {
    await app.listen({ host: cfg.httpHost, port: cfg.httpPort });
  } catch (e) {
    await agent.close();
    throw new Error(`agent cannot listen on ${cfg.httpHost}:${cfg.httpPort}: ${(e as Error).message}`, { cause: e });
  }
  const url = `${https ? 'https' : 'http'}://${cfg.httpHost.includes(':') ? `[${cfg.httpHost}]` : cfg.httpHost}:${cfg.httpPort}`;
  log.info({ url, base_dir: cfg.baseDir, instances: agent.registry.all().length }, 'agent listening');
  return {
    agent,
    app,
    url,
    async close() {
      await app.close();
      await agent.close();
    },
  };
}

/** "::ffff:10.0.0.1" is how an IPv4 caller looks on a dual-stack socket. */
function plainAddress(a: string | undefined): string {
  return (a ?? '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
}

function bearerOf(req: FastifyRequest): string {
  return /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
}

/** Why this caller may not call the agent, or null. Checked before the body is looked at. */
function refuse(cfg: AgentConfig, req: FastifyRequest): { http: number; info: string } | null {
  const from = plainAddress(req.socket.remoteAddress);
  if (cfg.allowedClients.length > 0 && !cfg.allowedClients.includes(from)) {
    return { http: 403, info: `caller ${from} is not in the agent's allowed_clients` };
  }
  if (cfg.apiToken !== '') {
    const got = Buffer.from(bearerOf(req));
    const want = Buffer.from(cfg.apiToken);
    if (got.length !== want.length || !timingSafeEqual(got, want)) {
      return { http: 401, info: 'missing or wrong bearer token (the agent has api_token set)' };
    }
  }
  return null;
}
