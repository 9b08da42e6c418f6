// One cluster_mgr member process: configuration, logging, its data directory, the manager runtime
// (Raft + world + reconcilers + mirror) and its HTTP server.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../config/load.js';
import { describeConfig } from '../config/load.js';
import { memberSecrets } from '../config/member-secrets.js';
import type { Logger } from '../log/logger.js';
import { lockDataDir } from '../raft/storage/data-dir-lock.js';
import { ManagerRuntime } from './runtime.js';
import { VERSION } from '../version.js';
import { viewDigest } from '../audit/view-digest.js';
import { mountApi, prepareApi, type ApiContext } from '../http/api.js';
import { loadApiAccess } from '../http/api-access.js';
import { withoutSecretKeys } from '../http/sync-answers.js';
import { registerStatusPage } from '../http/status-page.js';
import { registerMetrics } from '../metrics/http.js';

/**
 * Extra HTTP routes of a member (e.g. the web status page, src/http/status-page.ts): append a
 * registration function here; it runs after the API is mounted, behind the same auth.
 */
const EXTRA_ROUTES: ReadonlyArray<(app: FastifyInstance, ctx: ApiContext) => void | Promise<void>> = [registerStatusPage];

export interface MemberHandle {
  http: FastifyInstance;
  runtime: ManagerRuntime;
  url: string;
  stop(): Promise<void>;
}

export async function startMember(cfg: Config, log: Logger): Promise<MemberHandle> {
  // Before anything starts: a member that would serve an open API by mistake does not start at all, and
  // a missing secret file stops the start before anything is held.
  const access = loadApiAccess(cfg);
  const secrets = memberSecrets(cfg);
  const lock = lockDataDir(cfg.dataDir);
  const startedAt = Date.now();
  log.info({ config_file: cfg.configFile, config: describeConfig(cfg) }, 'cluster_mgr member starting');
  for (const w of [...access.warnings, ...secrets.warnings]) log.warn({ security: true }, w);
  let runtime: ManagerRuntime;
  try {
    runtime = await ManagerRuntime.start(cfg, log);
  } catch (e) {
    lock.release();
    throw e;
  }
  // Routes do not care which server carries them: one instance type for both.
  const http: FastifyInstance =
    access.tls !== null ? Fastify({ logger: false, bodyLimit: 1024 * 1024, https: access.tls }) : Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  // Members of a group share their TLS setting: a leader is reached the way this member is served.
  const scheme = access.tls !== null ? 'https' : 'http';
  const httpUrlOf = (memberId: string | null): string | null => {
    if (!memberId) return null;
    const m = runtime.world.manager(memberId);
    const p = cfg.peers.find((x) => x.id === memberId);
    const host = m?.host ?? p?.host;
    const port = m?.httpPort ?? p?.httpPort;
    return host && port ? `${scheme}://${host}:${port}` : null;
  };
  const api: ApiContext = { runtime, httpUrlOf, access };
  // Swagger and auth first: they must see every route registered after them.
  await prepareApi(http, api);
  registerMetrics(http, runtime.metrics);
  http.get('/healthz', () => ({
    status: 'ok',
    member: cfg.selfId,
    version: VERSION,
    uptime_s: Math.round((Date.now() - startedAt) / 1000),
  }));
  // Ready: the group has a leader and this member has applied what it knows to be committed.
  http.get('/readyz', async (_req, reply) => {
    const d = runtime.describe();
    const ready = d.leader !== null && d.applied >= d.commit;
    return reply.code(ready ? 200 : 503).send({ ready, leader: d.leader, applied: d.applied, commit: d.commit });
  });
  // For load balancers and clients that must reach the leader (writes go there).
  http.get('/api/v1/leader', async (_req, reply) => {
    const leader = runtime.leader;
    const body = { is_leader: runtime.isLeader, leader, leader_url: httpUrlOf(leader), term: runtime.term };
    return reply.code(runtime.isLeader ? 200 : 503).send(body);
  });
  // The whole world as this member applied it (secrets are never part of views).
  http.get('/api/v1/view', () => {
    const v = runtime.world.view();
    // Job results are written by job handlers: keys that name secrets are dropped here too.
    return { ...v, jobs: v.jobs.map((j) => withoutSecretKeys(j)) };
  });
  http.get('/api/v1/member', () => ({ ...runtime.describe(), digest: runtime.world.digest(), view_digest: viewDigest(runtime.world) }));
  // POST /HttpService/Emit, the REST views, /api/v1/events and /api/v1/openapi.json.
  mountApi(http, api);
  for (const register of EXTRA_ROUTES) await register(http, api);
  const host = cfg.str('http_bind') || cfg.str('local_ip');
  const port = cfg.int('brpc_http_port');
  try {
    await http.listen({ host, port });
  } catch (e) {
    await runtime.stop();
    lock.release();
    throw new Error(`cannot listen on ${host}:${port} (brpc_http_port, ${cfg.sources.brpc_http_port}): ${(e as Error).message}`, { cause: e });
  }
  const url = `${scheme}://${host}:${port}`;
  log.info({ url, data_dir: cfg.dataDir, raft: cfg.selfId, peers: cfg.peers.map((p) => p.id) }, 'cluster_mgr member serving HTTP');
  return {
    http,
    runtime,
    url,
    async stop() {
      await http.close();
      await runtime.stop();
      lock.release();
      log.info('cluster_mgr member stopped');
    },
  };
}
