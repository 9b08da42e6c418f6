// Read-only REST views of the world under /api/v1: machines, clusters, shards, nodes, compute nodes,
// jobs and managers. Every answer carries `x-applied-index`; by default it is linearizable (a Raft
// ReadIndex first), `?consistency=local` answers from this member's world at once (possibly stale by
// the replication lag, which `x-applied-index` shows). /api/v1/live is the leader's latest probe of every
// storage node (lag, threads): samples that are never logged, so a follower relays it from the leader.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConfigReader, LeaderState, ReadBarrier, WorldReader } from '../ports/index.js';
import type { LiveReader } from '../shard-ha/ports.js';
import type { JobView } from '../actors/views.js';
import { withoutSecretKeys } from './sync-answers.js';
import { confirmedRead } from './read-index.js';
import { FORWARDED_HEADER, relayHeaders } from './emit-route.js';

const consistencyQuery = {
  type: 'object',
  properties: { consistency: { type: 'string', enum: ['linearizable', 'local'], default: 'linearizable', description: 'linearizable: ReadIndex first; local: this member as it is' } },
} as const;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 } },
} as const;


/** How long a follower waits for the leader's /api/v1/live. */
const LIVE_RELAY_TIMEOUT_MS = 3_000;

export interface RestOptions {
  /** The leader's HTTP base URL (null when unknown). */
  leaderUrl(): string | null;
  /** Sent when relaying to the leader if the API requires a token ('' when not). */
  apiToken: string;
}

/** What the REST views use of the member (ManagerRuntime implements it). */
export interface RestRuntime extends WorldReader, ConfigReader, Pick<LeaderState, 'isLeader'>, ReadBarrier, LiveReader {}

export function registerRestRoutes(app: FastifyInstance, rt: RestRuntime, o: RestOptions): void {
  /** ReadIndex unless the caller accepts a local read; false when the answer was already sent. */
  const fresh = async (req: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    const q = req.query as { consistency?: string };
    if (q.consistency !== 'local') {
      try {
        await confirmedRead(rt);
      } catch (e) {
        await reply.code(503).send({ error: `cannot serve a linearizable read now (${(e as Error).message}); retry, or pass ?consistency=local for this member's possibly stale view` });
        return false;
      }
    }
    void reply.header('x-applied-index', String(rt.world.applied));
    return true;
  };
  const notFound = (reply: FastifyReply, what: string) => reply.code(404).send({ error: `${what} does not exist`, field: 'id' });
  const list = (tag: string, path: string, summary: string, read: (req: FastifyRequest) => unknown) =>
    app.get(path, { schema: { tags: [tag], summary, querystring: consistencyQuery } }, async (req, reply) => {
      if (!(await fresh(req, reply))) return reply;
      return read(req);
    });
  const one = (tag: string, path: string, summary: string, read: (id: number) => unknown, what: string) =>
    app.get(path, { schema: { tags: [tag], summary, params: idParams, querystring: consistencyQuery } }, async (req, reply) => {
      if (!(await fresh(req, reply))) return reply;
      const id = (req.params as { id: number }).id;
      const v = read(id);
      return v === null ? notFound(reply, `${what} ${id}`) : v;
    });
  const w = () => rt.world;

  list('topology', '/api/v1/machines', 'registered servers and their roles', () => w().ids('machine').map((h) => w().machine(h)));
  app.get(
    '/api/v1/machines/:host',
    { schema: { tags: ['topology'], summary: 'one server', params: { type: 'object', required: ['host'], properties: { host: { type: 'string', maxLength: 253 } } }, querystring: consistencyQuery } },
    async (req, reply) => {
      if (!(await fresh(req, reply))) return reply;
      const host = (req.params as { host: string }).host;
      return w().machine(host) ?? reply.code(404).send({ error: `machine ${host.slice(0, 80)} is not registered`, field: 'host' });
    },
  );
  list('topology', '/api/v1/clusters', 'clusters', () => w().ids('cluster').map((id) => w().cluster(id)));
  one('topology', '/api/v1/clusters/:id', 'one cluster with its shards, nodes and compute nodes', (id) => {
    const c = w().cluster(id);
    if (c === null) return null;
    const shards = c.shards.map((s) => ({ ...w().shard(s)!, nodeViews: w().nodesOf(s).map((n) => w().node(n)) }));
    return { ...c, shardViews: shards, compViews: c.comps.map((x) => w().comp(x)) };
  }, 'cluster');
  list('topology', '/api/v1/shards', 'storage shards', () => w().ids('shard').map((id) => w().shard(id)));
  one('topology', '/api/v1/shards/:id', 'one shard', (id) => w().shard(id), 'shard');
  list('topology', '/api/v1/nodes', 'storage nodes', () => w().ids('node').map((id) => w().node(id)));
  one('topology', '/api/v1/nodes/:id', 'one storage node', (id) => w().node(id), 'node');
  list('topology', '/api/v1/comps', 'compute nodes', () => w().ids('comp').map((id) => w().comp(id)));
  one('topology', '/api/v1/comps/:id', 'one compute node', (id) => w().comp(id), 'compute node');
  list('manager', '/api/v1/managers', 'manager members recorded in the log', () => w().ids('manager').map((id) => w().manager(id)));
  list('backup', '/api/v1/backup-storages', 'backup storages: kind and settings (S3 keys only as where a member reads them)', () => w().view().backupStorages);
  app.get(
    '/api/v1/backups',
    {
      schema: {
        tags: ['backup'],
        summary: 'shard backups (shard_coldbackup jobs), oldest first: storage, node, keys, sizes, SHA-256, GTID position',
        querystring: { type: 'object', properties: { ...consistencyQuery.properties, cluster_id: { type: 'integer', minimum: 1, maximum: 4_294_967_295 } } },
      },
    },
    async (req, reply) => {
      if (!(await fresh(req, reply))) return reply;
      const cluster = (req.query as { cluster_id?: number }).cluster_id;
      return w().backups().filter((b) => cluster === undefined || b.cluster_id === cluster);
    },
  );

  app.get(
    '/api/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'jobs, newest first',
        querystring: {
          type: 'object',
          properties: {
            ...consistencyQuery.properties,
            status: { type: 'string', enum: ['not_started', 'ongoing', 'done', 'failed', 'active'] },
            job_type: { type: 'string', maxLength: 64 },
            cluster_id: { type: 'integer', minimum: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 },
          },
        },
      },
    },
    async (req, reply) => {
      if (!(await fresh(req, reply))) return reply;
      const q = req.query as { status?: string; job_type?: string; cluster_id?: number; limit: number };
      const out: JobView[] = [];
      const ids = w().ids('job').sort((a, b) => b - a);
      for (const id of ids) {
        const j = w().job(id)!;
        if (q.status === 'active' ? j.status === 'done' || j.status === 'failed' : q.status !== undefined && j.status !== q.status) continue;
        if (q.job_type !== undefined && j.jobType !== q.job_type) continue;
        if (q.cluster_id !== undefined && j.cluster !== q.cluster_id) continue;
        out.push(withoutSecretKeys(j) as JobView);
        if (out.length >= q.limit) break;
      }
      return { jobs: out, total: ids.length };
    },
  );
  app.get(
    '/api/v1/live',
    { schema: { tags: ['health'], summary: "the leader's latest probe of every storage node and metadata node: lag (transactions and seconds behind), replication threads, read-only; samples, never logged (a follower relays the leader's)" } },
    async (req, reply) => {
      if (rt.isLeader) {
        const live = rt.live();
        if (live !== null) return live;
        return reply.code(503).send({ error: 'this leader has not started probing yet; retry in a second' });
      }
      // Relayed once at most: two members that each believe the other leads must not bounce it.
      if (req.headers[FORWARDED_HEADER] !== undefined) return reply.code(503).send({ error: 'this member is not the leader (the request was relayed here): retry' });
      const url = o.leaderUrl();
      if (url === null) return reply.code(503).send({ error: 'no manager leader is known at the moment (election in progress?); retry in a few seconds' });
      try {
        const res = await fetch(`${url}/api/v1/live`, { headers: relayHeaders(rt.cfg.selfId, o.apiToken), signal: AbortSignal.timeout(LIVE_RELAY_TIMEOUT_MS) });
        return reply.code(res.status).send(await res.json());
      } catch (e) {
        return reply.code(502).send({ error: `the leader at ${url} did not answer (${(e as Error).message})` });
      }
    },
  );
  one('jobs', '/api/v1/jobs/:id', 'one job: status, current step, progress, steps, result', (id) => {
    const j = w().job(id);
    return j === null ? null : withoutSecretKeys(j);
  }, 'job');
}
