// Storage-shard work shared by the cluster and shard jobs: placement (§4.1, with anti-affinity), the
// node agent's install/uninstall checked against list_instances first, and replication wiring (GTID,
// semi-sync, replicas read-only, the primary made writable by the manager only). Every function is
// idempotent: it reads the real world before acting, because a new leader reruns interrupted steps.
import mysql, { type Connection, type ConnectionOptions } from 'mysql2/promise';
import type { NodeView, World } from '../actors/index.js';
import { AgentError, type AgentInstance } from '../agent/client.js';
import { ensureReplicationUser, globalStatus, makePrimary, pointReplicaAt, replicaStatus, type Credentials } from '../storage-node/replication.js';
import { checkLeading } from '../reconcile/host.js';
import { JobError, type JobContext } from './engine.js';
import { installMovingOn, portInUse, type MovableInstance } from './port-moves.js';
import { awaitNoPreparedBranches, E_PREPARED_BRANCHES, preparedBranchesText, type BranchHost } from './prepared-branches.js';
import { xaSettings } from '../config/xa-settings.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** Ports per storage instance: P mysql, P+1 exporter, P+2 mgr, P+3 xport (§4.1). */
export const STORAGE_STRIDE = 4;
/** Ports per compute instance: P postgres, P+1 mysql protocol, P+2 exporter. */
export const COMPUTE_STRIDE = 3;

export const E_NO_PLACE = 70128;
export const E_INSTALL = 70146;
export const E_UNINSTALL = 70144;

export interface Placed {
  hostaddr: string;
  port: number;
}

/**
 * Chooses `count` (host, port) pairs on `role` machines: hosts least used first, and a host already
 * holding a node of this group only when every candidate does (anti-affinity where it can). Ports are
 * the lowest free slot of the host's range that keeps `stride` ports clear of every used port.
 * Returns null when there are not enough free slots.
 */
export function place(
  world: World,
  role: 'storage' | 'computer',
  hosts: string[],
  count: number,
  stride: number,
  taken: Placed[] = [],
  /** Hosts that already hold a node of the group (add_nodes: the shard's current nodes). */
  groupHosts: string[] = [],
): Placed[] | null {
  const candidates = (hosts.length > 0 ? hosts : world.ids('machine').map(String)).filter((h) => {
    const m = world.machine(h);
    return m?.roles[role] !== undefined && m.stats !== 'dead';
  });
  const used = new Map<string, number[]>();
  for (const h of candidates) used.set(h, [...world.usedPorts(h, role), ...taken.filter((t) => t.hostaddr === h).map((t) => t.port)]);
  const out: Placed[] = [];
  for (let i = 0; i < count; i++) {
    const inGroup = new Set([...groupHosts, ...out.map((p) => p.hostaddr)]);
    const order = [...candidates].sort(
      (a, b) => Number(inGroup.has(a)) - Number(inGroup.has(b)) || used.get(a)!.length - used.get(b)!.length || (a < b ? -1 : a > b ? 1 : 0),
    );
    let chosen: Placed | null = null;
    for (const h of order) {
      const port = freeSlot(world.machine(h)!.roles[role]!.portRange, used.get(h)!, stride);
      if (port !== null) {
        chosen = { hostaddr: h, port };
        break;
      }
    }
    if (chosen === null) return null;
    used.get(chosen.hostaddr)!.push(chosen.port);
    out.push(chosen);
  }
  return out;
}

function freeSlot(range: { lo: number; hi: number }, used: number[], stride: number): number | null {
  for (let p = range.lo; p + stride - 1 <= range.hi; p += 1) {
    if (used.every((u) => p + stride <= u || u + stride <= p)) return p;
  }
  return null;
}

/** The manager's account on storage nodes (the original's meta_user, created by the agent at install). */
export function storageAccount(ctx: JobContext): Credentials {
  return { user: ctx.cfg.str('meta_user'), password: ctx.cfg.str('meta_pwd') };
}

/** The replication account (storage_repl_user): the same one failover and switchover re-point with, so
 *  it exists on every node (created outside the binlog, so no node gets an errant transaction). */
export function replicationAccount(ctx: JobContext): Credentials {
  return { user: ctx.cfg.str('storage_repl_user'), password: ctx.cfg.str('storage_repl_pwd') };
}

/** `extra`: further mysql2 options (e.g. a table move's exact value types). */
export async function connectNode(ctx: JobContext, n: { hostaddr: string; port: number }, extra: Omit<ConnectionOptions, 'host' | 'port' | 'user' | 'password'> = {}): Promise<Connection> {
  const a = storageAccount(ctx);
  try {
    return await mysql.createConnection({
      ...extra,
      host: n.hostaddr,
      port: n.port,
      user: a.user,
      password: a.password,
      connectTimeout: ctx.cfg.int('mysql_connect_timeout') * 1000,
    });
  } catch (e) {
    throw new Error(`cannot connect to storage node ${n.hostaddr}:${n.port}: ${(e as Error).message}`, { cause: e });
  }
}

/** The agent's record of an instance on `port`, or null (an original node_mgr cannot list: null). */
async function listed(ctx: JobContext, host: string, port: number, type: 'storage' | 'computer'): Promise<AgentInstance | null> {
  try {
    const l = await ctx.agent(host).listInstances({ port, type });
    return l.instances.find((i) => i.port === port) ?? null;
  } catch (e) {
    if (e instanceof AgentError && e.kind === 'failed') return null;
    throw e;
  }
}

/** Waits while the agent is busy with the instance (a job of a dead leader may still be running). */
async function settled(ctx: JobContext, host: string, port: number, type: 'storage' | 'computer'): Promise<AgentInstance | null> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    checkLeading(ctx.signal);
    const i = await listed(ctx, host, port, type);
    if (i === null || (!i.busy && i.status !== 'installing' && i.status !== 'uninstalling')) return i;
    if (Date.now() > deadline) throw new Error(`instance ${host}:${port} stays busy on its agent`);
    await sleep(200);
  }
}

/** Installs a storage node unless its agent already runs it; a port its agent cannot bind moves it on. */
export async function ensureStorageInstalled(ctx: JobContext, n: NodeView, isMaster: boolean, bufferMb: number, dbCfg: number): Promise<void> {
  await installMovingOn(ctx, movableNode(ctx, n.id), E_INSTALL, (at) => installNodeAt(ctx, n.id, at, isMaster, bufferMb, dbCfg));
}

/** A storage node for installMovingOn: it moves to the lowest free slot of its machine's storage range. */
function movableNode(ctx: JobContext, id: number): MovableInstance {
  return {
    agg: `node/${id}`,
    at: () => ctx.world.node(id),
    nextPort: (host, taken) => place(ctx.world, 'storage', [host], 1, STORAGE_STRIDE, taken)?.[0]?.port ?? null,
  };
}

async function installNodeAt(ctx: JobContext, id: number, at: Placed, isMaster: boolean, bufferMb: number, dbCfg: number): Promise<void> {
  const have = await settled(ctx, at.hostaddr, at.port, 'storage');
  if (have?.status === 'running') return;
  const agent = ctx.agent(at.hostaddr);
  // A stopped or dead leftover of an interrupted install is not trusted: it is reinstalled.
  if (have !== null) await agent.uninstallMysql({ port: at.port }, { requestId: `job${ctx.job.id}-node${id}-clean` });
  checkLeading(ctx.signal);
  try {
    await agent.installMysql(
      { port: at.port, innodbBufferSizeMb: Math.max(bufferMb, 1), isMaster, dbCfg, admin: storageAccount(ctx) },
      { requestId: `job${ctx.job.id}-node${id}` },
    );
  } catch (e) {
    if (portInUse(e)) throw e; // installMovingOn moves the node on
    throw asJobError(e, E_INSTALL, `install_mysql on ${at.hostaddr}:${at.port}`);
  }
}

/** The agent's `failed` answer is the job's failure; an unreachable or slow agent is transient (the
 *  engine retries the step, which checks list_instances first). */
function asJobError(e: unknown, code: number, what: string): Error {
  if (e instanceof AgentError && e.kind === 'failed') return new JobError(code, `${what}: ${e.message}`.slice(0, 900), { cause: e });
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * Before a cluster's shards and commit_log_<cluster> go: waits for the XA resolver to end every branch
 * still prepared on the shards' primaries, and fails naming them when some remain (prepared-branches.ts).
 */
export async function ensureNoPreparedBranches(ctx: JobContext, cluster: number): Promise<void> {
  const hosts: BranchHost[] = [];
  for (const shard of ctx.world.cluster(cluster)?.shards ?? []) {
    const p = ctx.world.primaryOf(shard);
    const n = p === null ? null : ctx.world.node(p);
    if (n !== null) hosts.push({ shard, hostaddr: n.hostaddr, port: n.port });
  }
  const xa = xaSettings(ctx.cfg);
  const r = await awaitNoPreparedBranches({
    hosts,
    connect: (h) => connectNode(ctx, h),
    waitMs: xa.windows.safetyMs + 2 * xa.scanMs,
    pollMs: Math.min(xa.scanMs, 1_000),
    signal: ctx.signal,
  });
  if (r.branches.length > 0) throw new JobError(E_PREPARED_BRANCHES, preparedBranchesText(cluster, r.branches, r.waitedMs));
  if (r.unreachable.length > 0) ctx.log.warn({ cluster, primaries: r.unreachable }, 'prepared XA branches not checked on unreachable primaries; they go with the cluster');
}

/** Removes a storage instance; nothing there is success (rollbacks may send it twice). */
export async function ensureStorageUninstalled(ctx: JobContext, n: { hostaddr: string; port: number }): Promise<void> {
  if (ctx.world.machine(n.hostaddr) === null) return;
  await settled(ctx, n.hostaddr, n.port, 'storage');
  try {
    await ctx.agent(n.hostaddr).uninstallMysql({ port: n.port }, { requestId: `job${ctx.job.id}-uninstall-${n.port}` });
  } catch (e) {
    throw asJobError(e, E_UNINSTALL, `uninstall_mysql on ${n.hostaddr}:${n.port}`);
  }
}

export async function ensureComputeUninstalled(ctx: JobContext, c: { hostaddr: string; port: number; id: number }): Promise<void> {
  if (ctx.world.machine(c.hostaddr) === null) return;
  await settled(ctx, c.hostaddr, c.port, 'computer');
  try {
    await ctx.agent(c.hostaddr).uninstallPostgres({ pgPort: c.port, bindAddress: c.hostaddr, computeNodeId: c.id }, { requestId: `job${ctx.job.id}-uninstall-${c.port}` });
  } catch (e) {
    throw asJobError(e, 70149, `uninstall_postgres on ${c.hostaddr}:${c.port}`);
  }
}

/**
 * Makes the shard's recorded primary (or, with none yet, its first node) the writable semi-sync
 * primary and every other node a read-only replica of it; waits until they replicate. The world learns
 * the primary and its write access before the server is made writable.
 */
export async function wireShard(ctx: JobContext, shard: number, timeoutMs = 30_000): Promise<void> {
  const s = ctx.world.shard(shard);
  if (s === null) throw new JobError(70140, `shard ${shard} does not exist`);
  let primary = s.primary;
  if (primary === null) {
    primary = s.nodes[0]!;
    await ctx.exec({ kind: 'shard.set_primary', shard, node: primary, term: s.primaryTerm + 1 });
  }
  const pn = ctx.world.node(primary)!;
  if (pn.access !== 'writable') await ctx.exec({ kind: 'node.set_access', node: primary, access: 'writable' });
  const replicas = ctx.world.nodesOf(shard).filter((id) => id !== primary).map((id) => ctx.world.node(id)!);
  const pc = await connectNode(ctx, pn);
  try {
    await ensureReplicationUser(pc, replicationAccount(ctx));
    await makePrimary(pc);
    await semiSyncFor(pc, replicas.length);
    await Promise.all(replicas.map((r) => followPrimary(ctx, r, pn, timeoutMs)));
    await waitFor(ctx, `${replicas.length} semi-sync replicas on ${pn.hostaddr}:${pn.port}`, timeoutMs, async () =>
      Number(await globalStatus(pc, 'Rpl_semi_sync_master_clients')) >= replicas.length,
    );
  } finally {
    await pc.end().catch(() => undefined);
  }
}

/**
 * Semi-sync on the primary exactly when it has replicas to wait for. Nodes wait for an ack without an
 * async fallback (design §3.6), so a lone primary with semi-sync on would block every commit; a shard
 * that has no replica (nodes=1, or its last replica deleted) is explicitly asynchronous instead.
 */
export async function semiSyncFor(primary: Connection, replicas: number): Promise<void> {
  await primary.query('SET GLOBAL rpl_semi_sync_master_enabled = ?', [replicas > 0 ? 'ON' : 'OFF']);
}

/** Connects to the shard's primary and sets semi-sync for the replicas it has now. */
export function refreshSemiSync(ctx: JobContext, shard: number): Promise<void> {
  return refreshSemiSyncWithout(ctx, shard, null);
}

/** The same, counting the replicas other than `leaving` (a node about to be removed). */
export async function refreshSemiSyncWithout(ctx: JobContext, shard: number, leaving: number | null): Promise<void> {
  const primary = ctx.world.primaryOf(shard);
  if (primary === null || primary === leaving) return;
  const replicas = ctx.world.nodesOf(shard).filter((id) => id !== primary && id !== leaving).length;
  const c = await connectNode(ctx, ctx.world.node(primary)!);
  try {
    await semiSyncFor(c, replicas);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Points a replica at the primary unless it already replicates from it. */
export async function followPrimary(ctx: JobContext, r: NodeView, p: NodeView, timeoutMs: number): Promise<void> {
  const rc = await connectNode(ctx, r);
  try {
    const st = await replicaStatus(rc);
    const ok = st !== null && st.masterHost === p.hostaddr && st.masterPort === p.port && st.ioRunning === 'Yes' && st.sqlRunning === 'Yes';
    // Every node holds the replication account: a replica promoted later must let the others follow it.
    await ensureReplicationUser(rc, replicationAccount(ctx));
    if (!ok) await pointReplicaAt(rc, { host: p.hostaddr, port: p.port }, replicationAccount(ctx));
    await waitFor(ctx, `replica ${r.hostaddr}:${r.port} to follow ${p.hostaddr}:${p.port}`, timeoutMs, async () => {
      const now = await replicaStatus(rc);
      if (now?.lastSqlError) throw new JobError(E_INSTALL, `replica ${r.hostaddr}:${r.port}: ${now.lastSqlError}`.slice(0, 900));
      return now?.ioRunning === 'Yes' && now.sqlRunning === 'Yes';
    });
  } finally {
    await rc.end().catch(() => undefined);
  }
}

async function waitFor(ctx: JobContext, what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    checkLeading(ctx.signal);
    try {
      if (await check()) return;
    } catch (e) {
      if (e instanceof JobError) throw e;
      last = e;
    }
    if (Date.now() > deadline) throw new JobError(E_INSTALL, `timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`.slice(0, 900));
    await sleep(100);
  }
}

/** Marks a set-up shard and its nodes in use. */
export async function activateShard(ctx: JobContext, shard: number): Promise<void> {
  for (const id of ctx.world.nodesOf(shard)) {
    if (ctx.world.node(id)!.status === 'creating') await ctx.exec({ kind: 'node.set_status', node: id, status: 'active' });
  }
  if (ctx.world.shard(shard)!.status === 'creating') await ctx.exec({ kind: 'shard.set_status', shard, status: 'inuse' });
}

/** Uninstalls every node of a shard, then removes it from the world (and so from the metadata). */
export async function removeShard(ctx: JobContext, shard: number): Promise<void> {
  const s = ctx.world.shard(shard);
  if (s === null) return;
  await Promise.all(s.nodes.map((id) => ensureStorageUninstalled(ctx, ctx.world.node(id)!)));
  if (ctx.world.shard(shard) !== null) await ctx.exec({ kind: 'shard.delete', shard });
}
