// Shared by the switchover tests and the failover/switchover benchmarks: the public Emit API as a
// client sends it, a compute-node-like discovery of the shard's writable primary on the real nodes,
// and a read of each node's real role.
import mysql from 'mysql2/promise';
import type { MariaDbInstance } from '../../src/launcher/index.js';
import type { ContinuousWriter } from '../chaos/writer.js';
import { replicaStatus, type Endpoint } from '../../src/storage-node/replication.js';
import { NODE_IDS, SHARD_ID, waitFor, type HaCluster } from '../helpers/ha-cluster.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface EmitAnswer {
  status: string;
  error_code: string;
  error_info: string;
  job_id: string;
  job_type?: string;
  attachment: Record<string, unknown> | null;
}

/** POST /HttpService/Emit to the leader (any member relays; the leader answers without a hop). */
export async function emit(ha: HaCluster, jobType: string, paras: Record<string, unknown>, jobId = ''): Promise<EmitAnswer> {
  const l = await ha.leader();
  const members = l ? [l.m, ...ha.group.alive().filter((m) => m !== l.m)] : ha.group.alive();
  let last: unknown = null;
  for (const m of members) {
    try {
      const r = await ha.group.fetch(m, '/HttpService/Emit', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ version: '1.0', job_id: jobId, job_type: jobType, timestamp: String(Math.floor(Date.now() / 1000)), user_name: 'switch-test', paras }),
        signal: AbortSignal.timeout(10_000),
      });
      return (await r.json()) as EmitAnswer;
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`no member answered ${jobType}: ${last instanceof Error ? last.message : String(last)}`, { cause: last });
}

/** Polls get_status until the job has ended. */
export async function waitJob(ha: HaCluster, jobId: string, timeoutMs = 60_000): Promise<EmitAnswer> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const a = await emit(ha, 'get_status', {}, jobId).catch(() => null);
    // An answer about the job names its type; a member that cannot answer now (no leader during an
    // election) answers "failed" without it: retry.
    const aboutJob = a !== null && a.job_id === jobId && a.job_type !== undefined && a.job_type !== '' && a.job_type !== 'get_status';
    if (aboutJob && (a.status === 'done' || a.status === 'failed')) return a;
    if (Date.now() > end) throw new Error(`job ${jobId} has not ended after ${timeoutMs} ms: ${JSON.stringify(a)}`);
    await sleep(50);
  }
}

export const hostPort = (i: MariaDbInstance): string => `${i.host}_${i.port}`;

/** A node a writer can ask for its real role: a launched instance, or any node with a way in. */
export interface RoleTarget {
  host: string;
  port: number;
  connect(extra?: Partial<mysql.ConnectionOptions>): Promise<mysql.Connection>;
}

/** A node's real role as the storage server says it. */
export interface RealRole {
  port: number;
  reachable: boolean;
  readOnly: boolean | null;
  /** host:port it replicates from, or null. */
  source: string | null;
  io: string | null;
  sql: string | null;
  gtid: string | null;
}

export async function realRole(i: RoleTarget, timeoutMs = 1_000): Promise<RealRole> {
  let c: mysql.Connection | null = null;
  try {
    c = await i.connect({ connectTimeout: timeoutMs });
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT @@GLOBAL.read_only AS ro, @@GLOBAL.gtid_current_pos AS g');
    const st = await replicaStatus(c);
    return {
      port: i.port,
      reachable: true,
      readOnly: Number(rows[0]!.ro) === 1,
      source: st ? `${st.masterHost}:${st.masterPort}` : null,
      io: st?.ioRunning ?? null,
      sql: st?.sqlRunning ?? null,
      gtid: String(rows[0]!.g),
    };
  } catch {
    return { port: i.port, reachable: false, readOnly: null, source: null, io: null, sql: null, gtid: null };
  } finally {
    c?.destroy();
  }
}

/** The one writable node without a replication source, as a compute node would find it; null if none or several. */
export async function findWritablePrimary(nodes: readonly RoleTarget[], timeoutMs = 500): Promise<Endpoint | null> {
  const roles = await Promise.all(nodes.map((n) => realRole(n, timeoutMs)));
  const writable = nodes.filter((_, k) => roles[k]!.reachable && roles[k]!.readOnly === false && roles[k]!.source === null);
  return writable.length === 1 ? { host: writable[0]!.host, port: writable[0]!.port } : null;
}

/**
 * A writer's getPrimary: keeps the endpoint it found while writes succeed; after a failed write it
 * looks again on the real nodes (how a compute node reacts to a read-only error or a lost connection).
 */
export function primaryFinder(nodes: readonly RoleTarget[], writer: () => ContinuousWriter | null): () => Promise<Endpoint | null> {
  let current: Endpoint | null = null;
  let failures = -1;
  return async () => {
    const w = writer();
    const f = w ? w.failed.length : 0;
    if (current === null || f !== failures) {
      failures = f;
      current = await findWritablePrimary(nodes);
    }
    return current;
  };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Every node alive and healthy in the world, the replicas replicating from the primary for real. */
export async function settled(ha: HaCluster, timeoutMs: number): Promise<number> {
  return waitFor(
    'a settled 3-node shard',
    async () => {
      const v = await ha.view();
      const s = v?.shards.find((x) => x.id === SHARD_ID);
      if (!v || !s || s.primary === null || s.task !== null) return undefined;
      const nodes = v.nodes.filter((n) => n.shard === SHARD_ID);
      if (nodes.length !== 3 || nodes.some((n) => n.health !== 'alive' || n.repair !== 'ok')) return undefined;
      const p = ha.instance(s.primary);
      const roles = await Promise.all(NODE_IDS.filter((id) => id !== s.primary).map((id) => realRole(ha.instance(id))));
      return roles.every((r) => r.source === p.address && r.io === 'Yes' && r.sql === 'Yes' && r.readOnly === true) ? s.primary : undefined;
    },
    timeoutMs,
  );
}
