// rebuild_node (cluster_mgr-api.md §3.9): rebuilds replicas of a shard from a streamed physical copy.
// The parent job chooses the source (the healthy replica with the least delay within
// allow_replica_delay, the primary only when allowed), rebuilds the first node from it, then the
// others in parallel from the first, each as an rb_shard_node child job, as the original did.
//
// One node's rebuild (rb_shard_node) drives the node agents' physical copy (src/agent/copy-*.ts): the
// source agent hands out a one-time ticket, the target agent pulls `mariadb-backup --backup --stream`,
// checks it, prepares it and swaps it in (the old data kept aside with need_backup), then the manager
// re-points the node at the shard's current primary from the copy's GTID position, semi-sync on. Its
// steps carry the original node_mgr's names (XPanel shows them per node). Every step reads the agent's
// state of the copy first, so a new leader resumes polling the same copy instead of starting another;
// the ticket is a secret and never recorded.
import type { NodeView } from '../../actors/index.js';
import { AgentError, type AgentClient } from '../../agent/client.js';
import type { CopyStatus } from '../../agent/copy-target.js';
import { agentPortOf } from '../../agent/for-machine.js';
import type { Json } from '../../events/schema.js';
import { checkLeading } from '../../reconcile/host.js';
import { ensureReplicationUser, pointReplicaAt, replicaStatus, startFromCopyPosition } from '../../storage-node/replication.js';
import { JOB_INTERNAL_ERROR, JobError, type JobContext } from '../engine.js';
import { connectNode, refreshSemiSync, replicationAccount, storageAccount } from '../shard-install.js';
import { num, obj, req, str, type Obj } from './request.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** The original's numbers (src/http/error-codes.ts). */
export const E_RB_NOT_IN_SHARD = 70041;
export const E_RB_NO_SOURCE = 70042;
export const E_RB_NODE_PARAMS = 70044;
/** 'Rebuild Slave Connect Error': the rebuilt node could not be made to replicate. */
export const E_RB_SYNC = 70023;

/** The parent's own steps. */
export const REBUILD_STEPS = ['choose_source', 'rebuild_first', 'rebuild_others'] as const;
/** One node's steps: node_mgr's names in the order they happen here (get_status job_step adds "done"). */
export const RB_NODE_STEPS = ['check_param', 'xtracback_data', 'checksum_data', 'recover_data', 'backup_old_data', 'rebuild_sync'] as const;
const [CHECK, RECEIVE, CHECKSUM, RECOVER, SWAP, SYNC] = RB_NODE_STEPS;

/** One node to rebuild, as the parent's request holds it. */
export interface RbNode {
  node: number;
  hostaddr: string;
  port: number;
  need_backup: number;
  pv_limit: number;
}

export function rbNodesOf(r: Obj): RbNode[] {
  const v = r.rb_nodes;
  if (!Array.isArray(v)) throw new JobError(JOB_INTERNAL_ERROR, 'job request: rb_nodes is not a list');
  return v.map((x) => {
    const o = obj(x);
    return { node: num(o, 'node'), hostaddr: str(o, 'hostaddr'), port: num(o, 'port'), need_backup: num(o, 'need_backup'), pv_limit: num(o, 'pv_limit') };
  });
}

const hp = (n: { hostaddr: string; port: number }): string => `${n.hostaddr}:${n.port}`;

function nodeOf(ctx: JobContext, id: number): NodeView {
  const n = ctx.world.node(id);
  if (n === null) throw new JobError(E_RB_NODE_PARAMS, `node ${id} no longer exists`);
  return n;
}

// ---------------------------------------------------------------------------------------------------
// The parent: rebuild_node

/** Seconds_Behind_Master of a replica that replicates (both threads running), else the reason it cannot be a source. */
async function delayOf(ctx: JobContext, n: NodeView): Promise<number | string> {
  const c = await connectNode(ctx, n).catch((e: Error) => e);
  if (c instanceof Error) return `unreachable (${c.message})`;
  try {
    const st = await replicaStatus(c);
    if (st === null) return 'not a replica';
    if (st.ioRunning !== 'Yes' || st.sqlRunning !== 'Yes' || st.secondsBehind === null) return `not replicating (io ${st.ioRunning}, sql ${st.sqlRunning})`;
    return st.secondsBehind;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * The source: the healthy replica (not in `exclude`) with the least delay within `maxDelay` seconds;
 * the primary when none qualifies and `allowMaster`.
 */
export async function chooseSource(
  ctx: JobContext,
  shard: number,
  exclude: ReadonlySet<number>,
  maxDelay: number,
  allowMaster: boolean,
): Promise<{ source: number; delay: number; why: string }> {
  const primary = ctx.world.primaryOf(shard);
  if (primary === null) throw new JobError(E_RB_NO_SOURCE, `shard ${shard} has no primary: nothing to rebuild from`);
  const seen: string[] = [];
  let best: { id: number; delay: number } | null = null;
  for (const id of ctx.world.nodesOf(shard)) {
    const n = ctx.world.node(id)!;
    if (id === primary || exclude.has(id)) continue;
    if (n.repair !== 'ok' || n.status !== 'active') {
      seen.push(`${hp(n)} ${n.repair !== 'ok' ? n.repair : n.status}`);
      continue;
    }
    const d = await delayOf(ctx, n);
    if (typeof d === 'string') seen.push(`${hp(n)} ${d}`);
    else if (d > maxDelay) seen.push(`${hp(n)} ${d} s behind`);
    else if (best === null || d < best.delay) best = { id, delay: d };
  }
  if (best !== null) return { source: best.id, delay: best.delay, why: 'the replica with the least delay' };
  const others = seen.length > 0 ? seen.join('; ') : 'no other replica';
  if (allowMaster) return { source: primary, delay: 0, why: `the primary (no replica qualifies: ${others})` };
  throw new JobError(
    E_RB_NO_SOURCE,
    `no replica of shard ${shard} can be the source within allow_replica_delay ${maxDelay} s (${others}); send allow_pull_from_master "1" to copy from the primary`,
  );
}

/** The request of one node's rebuild (an rb_shard_node child of rebuild_node or add_nodes). */
export function rbNodeRequest(cluster: number, shard: number, n: RbNode, source: number): { [k: string]: Json } {
  return { cluster_id: cluster, shard_id: shard, node: n.node, hostaddr: n.hostaddr, port: n.port, source, pv_limit: n.pv_limit, need_backup: n.need_backup };
}

const childRequest = (r: Obj, n: RbNode, source: number) => rbNodeRequest(num(r, 'cluster_id'), num(r, 'shard_id'), n, source);

export async function rebuildNode(ctx: JobContext): Promise<Json> {
  const r = req(ctx);
  const nodes = rbNodesOf(r);
  const total = REBUILD_STEPS.length;
  const chosen = obj(
    await ctx.step(REBUILD_STEPS[0], total, async () => {
      const exclude = new Set(nodes.map((n) => n.node));
      const c = await chooseSource(ctx, num(r, 'shard_id'), exclude, num(r, 'allow_replica_delay'), num(r, 'allow_pull_from_master') === 1);
      const n = nodeOf(ctx, c.source);
      ctx.log.info({ job: ctx.job.id, shard: num(r, 'shard_id'), source: hp(n), why: c.why }, 'rebuild_node: source chosen');
      return { source: c.source, source_host: hp(n), delay_s: c.delay, why: c.why };
    }),
  );
  const [first, ...rest] = nodes;
  const firstResult = await ctx.child(REBUILD_STEPS[1], total, 'rb_shard_node', childRequest(r, first!, num(chosen, 'source')));
  const results: Json[] = [firstResult];
  if (rest.length > 0) {
    // The others pull from the first rebuilt node, in parallel (the original's order).
    const ids = await ctx.step(REBUILD_STEPS[2], total, async () => {
      const out: number[] = [];
      for (const n of rest) out.push(await ctx.spawnChild(`rebuild_${n.node}`, 'rb_shard_node', childRequest(r, n, first!.node)));
      return out;
    });
    const settled = await Promise.allSettled(ids.map((id) => ctx.waitChild(id)));
    const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [`${hp(rest[i]!)}: ${(s.reason as Error).message}`] : []));
    for (const s of settled) if (s.status === 'fulfilled') results.push(s.value);
    if (failed.length > 0) throw new JobError(firstFailureCode(settled), `${failed.length} of ${nodes.length} nodes not rebuilt: ${failed.join('; ')}`.slice(0, 1000));
  }
  return { cluster_id: num(r, 'cluster_id'), shard_id: num(r, 'shard_id'), source: str(chosen, 'source_host'), nodes: results };
}

function firstFailureCode(settled: PromiseSettledResult<unknown>[]): number {
  for (const s of settled) if (s.status === 'rejected' && s.reason instanceof JobError) return s.reason.code;
  return JOB_INTERNAL_ERROR;
}

/** A failed rebuild_node leaves every node as its child left it; only running children are waited for. */
export async function rebuildNodeRollback(ctx: JobContext): Promise<void> {
  await ctx.waitChildren();
}

// ---------------------------------------------------------------------------------------------------
// One node: rb_shard_node

interface NodeJob {
  shard: number;
  node: number;
  source: number;
  pvLimit: number;
  needBackup: boolean;
  copyId: string;
}

function nodeJob(ctx: JobContext): NodeJob {
  const r = req(ctx);
  return {
    shard: num(r, 'shard_id'),
    node: num(r, 'node'),
    source: num(r, 'source'),
    pvLimit: num(r, 'pv_limit'),
    needBackup: num(r, 'need_backup') === 1,
    copyId: `rebuild-job${ctx.job.id}`,
  };
}

/** The agent's state of this job's copy, or null when the agent does not know it (never started, or it restarted). */
async function copyState(agent: AgentClient, copyId: string): Promise<CopyStatus | null> {
  try {
    return await agent.copyStatus({ copyId });
  } catch (e) {
    if (e instanceof AgentError && e.reason === 'unknown_copy') return null;
    throw e;
  }
}

function copyFailed(j: NodeJob, target: NodeView, st: CopyStatus): JobError {
  return new JobError(JOB_INTERNAL_ERROR, `copy ${j.copyId} to ${hp(target)} ${st.step}: ${st.error ?? 'no reason given'}`.slice(0, 900));
}

const MB = 1024 * 1024;
/** How often a streaming copy's progress is recorded in the job (get_status), ms. */
const REPORT_MS = 5_000;

/**
 * Polls the target agent until the copy has left the steps in `while` (or ended); fails the job when
 * it failed or was aborted. Logs progress every 10 s while bytes arrive.
 */
async function copyPast(ctx: JobContext, j: NodeJob, target: NodeView, agent: AgentClient, during: readonly string[]): Promise<CopyStatus> {
  let lastLog = Date.now();
  let lastReport = 0;
  for (;;) {
    checkLeading(ctx.signal);
    const st = await copyState(agent, j.copyId);
    if (st === null) {
      throw new JobError(
        JOB_INTERNAL_ERROR,
        `the agent of ${target.hostaddr} no longer knows copy ${j.copyId} (it restarted and removed what it had received); the node's data dir is unchanged unless the swap had finished: run rebuild_node again`,
      );
    }
    if (st.step === 'failed' && st.interrupted === true && during.includes('receiving')) {
      // The target's agent went away while receiving: nothing was swapped, so the copy starts again.
      ctx.log.warn({ job: ctx.job.id, node: hp(target), error: st.error }, 'rebuild: the copy was cut by an agent restart; starting it again');
      await ensureCopyStarted(ctx, j, target, agent);
      continue;
    }
    if (st.step === 'failed' || st.step === 'aborted') throw copyFailed(j, target, st);
    if (!during.includes(st.step)) return st;
    // get_status shows the bytes as they arrive (one Raft entry per REPORT_MS while streaming).
    if (st.step === 'receiving' && Date.now() - lastReport >= REPORT_MS) {
      lastReport = Date.now();
      await ctx.report({ bytes: st.bytes, mb_per_s: +(st.rate_bytes_per_sec / MB).toFixed(1) });
    }
    if (Date.now() - lastLog >= 10_000) {
      lastLog = Date.now();
      ctx.log.info(
        { job: ctx.job.id, node: hp(target), step: st.step, mb: Math.round(st.bytes / MB), mb_per_s: +(st.rate_bytes_per_sec / MB).toFixed(1), pv_limit_mb: st.pv_limit_mb },
        'rebuild: copying',
      );
    }
    await sleep(500, undefined, { signal: ctx.signal }).catch(() => undefined);
  }
}

/** Starts the copy unless the agent already has it (running, or done: a new leader resuming). */
async function ensureCopyStarted(ctx: JobContext, j: NodeJob, target: NodeView, agent: AgentClient): Promise<void> {
  const st = await copyState(agent, j.copyId);
  if (st !== null && st.step !== 'failed' && st.step !== 'aborted') return;
  const src = nodeOf(ctx, j.source);
  const srcAgentPort = agentPortOf(ctx.world, src.hostaddr);
  if (srcAgentPort === null) throw new JobError(E_RB_NODE_PARAMS, `source ${hp(src)}: machine ${src.hostaddr} is not registered`);
  // The offer says how big the data is (the target checks its free disk) and whether the source serves HTTPS.
  const offer = await ctx.agent(src.hostaddr).prepareCopy({ port: src.port, account: storageAccount(ctx) });
  checkLeading(ctx.signal);
  await agent.startCopy({
    copyId: j.copyId,
    port: target.port,
    sourceHost: src.hostaddr,
    sourceAgentPort: srcAgentPort,
    ticket: offer.ticket,
    pvLimitMb: j.pvLimit,
    needBackup: j.needBackup,
    ...(typeof offer.data_bytes === 'number' ? { sourceBytes: offer.data_bytes } : {}),
    ...(typeof offer.tls === 'boolean' ? { sourceTls: offer.tls } : {}),
  });
  ctx.log.info({ job: ctx.job.id, node: hp(target), source: hp(src), pv_limit_mb: j.pvLimit, need_backup: j.needBackup, retry: st !== null }, 'rebuild: copy started');
}

/** Waits until the rebuilt node replicates from the shard's current primary with both threads. */
async function syncNode(ctx: JobContext, j: NodeJob, target: NodeView, pos: { gtid: string; file: string }): Promise<{ primary: string; seconds_behind: number | null }> {
  const primaryId = ctx.world.primaryOf(j.shard);
  if (primaryId === null) throw new JobError(E_RB_SYNC, `shard ${j.shard} has no primary to replicate from`);
  const p = nodeOf(ctx, primaryId);
  const deadline = Date.now() + 120_000;
  let c = await connectWithin(ctx, target, deadline);
  try {
    const st = await replicaStatus(c);
    const following = st !== null && st.masterHost === p.hostaddr && st.masterPort === p.port && st.ioRunning === 'Yes' && st.sqlRunning === 'Yes';
    if (!following) {
      // A node never pointed anywhere since the copy starts from the copy's position; one a dead
      // leader already pointed keeps its own position (it has applied more since).
      if (st === null || st.masterHost === '') {
        // An empty GTID with a binlog file: the source had never binlogged a transaction (log_slave_updates
        // is on everywhere), so the node replicates from the start. No file at all: no position to trust.
        if (pos.gtid === '' && pos.file === '') throw new JobError(E_RB_SYNC, `the copy of ${hp(target)} has no binlog position (mariadb_backup_binlog_info missing)`);
        await startFromCopyPosition(c, pos.gtid);
      }
      await ensureReplicationUser(c, replicationAccount(ctx));
      await pointReplicaAt(c, { host: p.hostaddr, port: p.port }, replicationAccount(ctx));
    }
    for (;;) {
      checkLeading(ctx.signal);
      const now = await replicaStatus(c).catch(async () => {
        await c.end().catch(() => undefined);
        c = await connectWithin(ctx, target, deadline);
        return replicaStatus(c);
      });
      if (now?.lastSqlError) throw new JobError(E_RB_SYNC, `${hp(target)} replicating from ${hp(p)}: ${now.lastSqlError}`.slice(0, 900));
      if (now?.lastIoError && Date.now() > deadline) throw new JobError(E_RB_SYNC, `${hp(target)} cannot reach ${hp(p)}: ${now.lastIoError}`.slice(0, 900));
      if (now?.ioRunning === 'Yes' && now.sqlRunning === 'Yes') return { primary: hp(p), seconds_behind: now.secondsBehind };
      if (Date.now() > deadline) throw new JobError(E_RB_SYNC, `${hp(target)} does not replicate from ${hp(p)} after 120 s (io ${now?.ioRunning ?? '?'}, sql ${now?.sqlRunning ?? '?'})`);
      await sleep(200);
    }
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function connectWithin(ctx: JobContext, n: NodeView, deadline: number) {
  for (;;) {
    checkLeading(ctx.signal);
    try {
      return await connectNode(ctx, n);
    } catch (e) {
      if (Date.now() > deadline) throw new JobError(E_RB_SYNC, `${(e as Error).message}`.slice(0, 900));
      await sleep(500);
    }
  }
}

/** How long a node's agent may be unreachable (restarting, its host rebooting) before the rebuild fails. */
const AGENT_WAIT_MS = 120_000;

/** Calls the agent, waiting while it cannot be reached; its refusal fails the job at once. */
async function reachable<T>(ctx: JobContext, n: NodeView, call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + AGENT_WAIT_MS;
  for (;;) {
    checkLeading(ctx.signal);
    try {
      return await call();
    } catch (e) {
      const transient = e instanceof AgentError && (e.kind === 'network' || e.kind === 'timeout');
      if (!transient || Date.now() > deadline) {
        const why = transient ? `unreachable for ${AGENT_WAIT_MS / 1000} s: ` : '';
        throw new JobError(E_RB_NODE_PARAMS, `the agent of ${n.hostaddr} (node ${hp(n)}): ${why}${(e as Error).message}`.slice(0, 900));
      }
      await sleep(1_000);
    }
  }
}

export async function rebuildOneNode(ctx: JobContext): Promise<Json> {
  const j = nodeJob(ctx);
  const total = RB_NODE_STEPS.length;
  const target = nodeOf(ctx, j.node);
  const agent = ctx.agent(target.hostaddr);
  const src = await ctx.step(CHECK, total, async () => {
    if (ctx.world.shardOf(j.node) !== j.shard) throw new JobError(E_RB_NOT_IN_SHARD, `${hp(target)} is no longer a node of shard ${j.shard}`);
    if (ctx.world.primaryOf(j.shard) === j.node) throw new JobError(E_RB_NOT_IN_SHARD, `${hp(target)} is the primary of shard ${j.shard}: switch it first`);
    const s = nodeOf(ctx, j.source);
    if (ctx.world.shardOf(j.source) !== j.shard) throw new JobError(E_RB_NO_SOURCE, `source ${hp(s)} is no longer a node of shard ${j.shard}`);
    // The instance must exist on its agent: the copy replaces its data, not its configuration.
    const listed = await reachable(ctx, target, () => agent.listInstances({ port: target.port, type: 'storage' }));
    if (!listed.instances.some((i) => i.port === target.port)) {
      throw new JobError(E_RB_NODE_PARAMS, `the agent of ${target.hostaddr} has no storage instance on port ${target.port}: delete the node and add it again (add_nodes)`);
    }
    return { source: hp(s) };
  });
  const t0 = Date.now();
  const recv = obj(
    await ctx.step(RECEIVE, total, async () => {
      await ensureCopyStarted(ctx, j, target, agent);
      const st = await copyPast(ctx, j, target, agent, ['queued', 'receiving']);
      const seconds = st.avg_bytes_per_sec > 0 ? st.bytes / st.avg_bytes_per_sec : (Date.now() - t0) / 1000;
      return { bytes: st.bytes, seconds: +seconds.toFixed(1), mb_per_s: +(st.avg_bytes_per_sec / MB).toFixed(1), pv_limit_mb: st.pv_limit_mb };
    }),
  );
  const sum = obj(await ctx.step(CHECKSUM, total, async () => ({ sha256: (await copyPast(ctx, j, target, agent, ['verifying'])).sha256 ?? '' })));
  const pos = obj(
    await ctx.step(RECOVER, total, async () => {
      const st = await copyPast(ctx, j, target, agent, ['preparing']);
      return { gtid: st.gtid ?? '', binlog_file: st.binlog_file ?? '', binlog_pos: st.binlog_pos ?? 0 };
    }),
  );
  const swap = obj(
    await ctx.step(SWAP, total, async () => {
      const st = await copyPast(ctx, j, target, agent, ['swapping', 'starting']);
      return { old_datadir: st.old_datadir ?? (j.needBackup ? '' : 'removed') };
    }),
  );
  const sync = obj(
    await ctx.step(SYNC, total, async () => {
      const out = await syncNode(ctx, j, target, { gtid: typeof pos.gtid === 'string' ? pos.gtid : '', file: typeof pos.binlog_file === 'string' ? pos.binlog_file : '' });
      // The primary waits for this replica's acks again; the agent's keepalive restarts it if it dies.
      await refreshSemiSync(ctx, j.shard);
      await agent.setKeepalive({ port: target.port, keepalive: true, type: 'storage' }).catch((e: Error) => ctx.log.warn({ node: hp(target), err: e.message }, 'rebuild: keepalive not switched on'));
      const n = nodeOf(ctx, j.node);
      if (n.repair !== 'ok') await ctx.exec({ kind: 'node.rejoin', node: n.id, method: 'rebuild' });
      return out;
    }),
  );
  ctx.log.info({ job: ctx.job.id, node: hp(target), source: (src as Obj).source, ...recv, primary: sync.primary }, 'rebuild: node rebuilt and replicating');
  return { node_id: j.node, hostaddr: target.hostaddr, port: target.port, source: (src as Obj).source ?? '', ...recv, sha256: sum.sha256 ?? '', gtid: pos.gtid ?? '', old_datadir: swap.old_datadir ?? '', primary: sync.primary ?? '' };
}

/** A failed node rebuild: stop the copy if it still runs (the agent leaves the old data in place). */
export async function rebuildOneNodeRollback(ctx: JobContext): Promise<void> {
  const j = nodeJob(ctx);
  const n = ctx.world.node(j.node);
  if (n === null) return;
  const agent = ctx.agent(n.hostaddr);
  const st = await copyState(agent, j.copyId).catch(() => null);
  if (st !== null && st.finished_at === null) await agent.abortCopy({ copyId: j.copyId }).catch((e: Error) => ctx.log.warn({ node: hp(n), err: e.message }, 'rebuild: abort_copy failed'));
}
