// manual_switch (cluster_mgr-api.md §10, cluster_mgr-ha.md §4.3): a planned switchover of an rbr shard's
// primary. The job checks the target on the real nodes (probing the primary first, then the target:
// healthy, replicating from the primary, no errant transactions, at most a few transactions behind);
// a refused target fails the job with nothing changed. Then it takes the shard's failover task (one
// task per shard: an automatic failover cannot start while the switch runs, and the switch cannot
// start while a failover runs), makes the old primary read-only (sessions killed, semi-sync master
// off), waits a bounded time until the target executed everything the old primary did, promotes the
// target, re-points the old primary and the other replicas to it, and records the new primary
// (failover.finish: shard.primary_changed and the node roles; the metadata projection writes
// shard_nodes.member_state and node_map_master from those).
//
// Every step looks at the real world first, so a new leader resumes the job where the old one died.
// A failure before the target could have taken writes rolls back: the old primary is made writable
// again and the task is aborted, so the shard is as it was. A target that may have taken writes is
// never rolled back; the switch is recorded as done instead.
import type { ShardView, NodeView } from '../../actors/index.js';
import { checkSwitchTarget, type SwitchTargetCheck } from '../../shard-ha/decide/elect.js';
import type { Json } from '../../events/schema.js';
import { fence, promote, repoint, waitApplied, StepError, type StepResult } from '../../shard-ha/failover-steps.js';
import type { NodeState, ProbeResult } from '../../storage-node/node-state.js';
import { probeNode } from '../../storage-node/probe.js';
import type { StorageNode } from '../../storage-node/storage-node.js';
import { NodePool } from '../../shard-ha/pool.js';
import { haSettings, type HaSettings } from '../../shard-ha/settings.js';
import { FailoverRows, type StepRow } from '../../shard-ha/failover-rows.js';
import { sleepWhileLeading } from '../../reconcile/host.js';
import { JOB_INTERNAL_ERROR, JobError, registerJobHandler, type JobContext } from '../engine.js';
import { num, optNum, req } from './request.js';

// The original's error numbers (error_code.cc, 70000 + offset) for what can go wrong here.
const E_APPLY_TIMEOUT = 70011; // Consfailover ApplyLog Timeout
const E_NOSWITCH = 70014; // Manual Noswitch Node Exist
const E_CONNECT = 70015; // Async Mysql Connect Poll Error
const E_BUSY_CONNECTIONS = 70016; // DB In Max Connection Status
const E_BUSY_SHARD = 70010; // Consfailover Timeout: another failover/switchover task holds the shard
const E_TARGET_UNALIVE = 70019; // Assign Host Unalive
const E_TARGET_NOT_MAX = 70020; // Assign Host No Maximum GTIDS
const E_TARGET_CONNECT = 70021; // Assign Host Connect Mysql Error
const E_NOT_SOURCE = 70033; // Master hostaddr state is not source
const E_NOT_REPLICA = 70034; // Assign hostaddr state is not replica

/** Steps of the job (job.step_* events; the progress get_status shows). */
const STEPS = ['check', 'take_shard', 'switch', 'record'] as const;
const TOTAL = STEPS.length;

/** Defaults of the tunables (config keys of the same name override them). */
export const SWITCH_DEFAULTS = {
  /** Transactions the target may still lack when it is checked (it catches up after the fence). */
  switchover_max_backlog: 100,
  /** How long the old primary stays read-only waiting for the target to catch up, ms. */
  switchover_catchup_ms: 5_000,
} as const;

function tunable(ctx: JobContext, key: keyof typeof SWITCH_DEFAULTS): number {
  const v = ctx.cfg.values[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : SWITCH_DEFAULTS[key];
}

/** The storage nodes this job talks to (the HA settings: account, replication account, connect map). */
class Nodes {
  readonly settings: HaSettings;
  private readonly pool: NodePool;
  /** rbr_consfailover rows of this run, written once the shard is no longer in the read-only window. */
  readonly rows: FailoverRows;
  readonly pending: StepRow[] = [];
  constructor(private readonly ctx: JobContext) {
    this.settings = haSettings(ctx.cfg);
    this.pool = new NodePool(this.settings);
    this.rows = new FailoverRows(ctx.cfg, ctx.log);
  }

  /** Writes the pending rows (best effort: FailoverRows logs and forgets a row it could not write). */
  async flushRows(): Promise<void> {
    const rows = this.pending.splice(0);
    for (const r of rows) await this.rows.append(r);
  }

  get(id: number): StorageNode {
    return this.pool.node(this.view(id));
  }

  view(id: number): NodeView {
    const v = this.ctx.world.node(id);
    if (v === null) throw new JobError(JOB_INTERNAL_ERROR, `node ${id} no longer exists`);
    return v;
  }

  async close(): Promise<void> {
    await this.rows.drop();
    await this.pool.close();
  }
}

interface SwitchRequest {
  shard: number;
  from: number;
  to: number | null;
}

function request(ctx: JobContext): SwitchRequest {
  const r = req(ctx);
  return { shard: num(r, 'shard_id'), from: num(r, 'from'), to: optNum(r, 'to') };
}

function shardOf(ctx: JobContext, id: number): ShardView {
  const s = ctx.world.shard(id);
  if (s === null) throw new JobError(JOB_INTERNAL_ERROR, `shard ${id} no longer exists`);
  return s;
}

/** The shard's running task when this job started it, else null. */
function ourTask(ctx: JobContext, s: ShardView): number | null {
  const t = s.task;
  if (t === null || t.kind !== 'switchover') return null;
  return t.evidence.facts.job === ctx.job.id ? t.task : null;
}

function taskOf(ctx: JobContext, req: SwitchRequest): number {
  const t = ourTask(ctx, shardOf(ctx, req.shard));
  if (t === null) throw new JobError(JOB_INTERNAL_ERROR, `shard ${req.shard} no longer runs this job's switchover task`);
  return t;
}

const addr = (v: NodeView): string => `${v.hostaddr}_${v.port}`;

/** Records one step of the task (shard.failover_step) and queues its rbr_consfailover row. */
async function failoverStep(
  ctx: JobContext,
  nodes: Nodes,
  req: SwitchRequest,
  step: 'elect' | 'fence' | 'drain' | 'promote' | 'repoint',
  info: string,
  o: { ok?: boolean; candidate?: number } = {},
): Promise<void> {
  const task = taskOf(ctx, req);
  const ok = o.ok ?? true;
  await ctx.exec({
    kind: 'failover.step',
    shard: req.shard,
    task,
    step,
    ok,
    info: info.slice(0, 1000),
    ...(o.candidate !== undefined ? { candidate: o.candidate } : {}),
  });
  const cand = o.candidate ?? shardOf(ctx, req.shard).task?.candidate ?? null;
  nodes.pending.push({
    shard: shardOf(ctx, req.shard),
    task,
    kind: 'switchover',
    step,
    oldHost: addr(nodes.view(req.from)),
    newHost: cand === null ? null : addr(nodes.view(cand)),
    info,
    at: Date.now(),
    errCode: ok ? 0 : 1,
    errMsg: ok ? null : info,
  });
}

/** The task's outcome row ("end"), written with whatever step rows are still pending. */
async function endRow(ctx: JobContext, nodes: Nodes, s: ShardView, task: number, from: number, to: number | null, code: number, info: string): Promise<void> {
  nodes.pending.push({
    shard: s,
    task,
    kind: 'switchover',
    step: 'end',
    oldHost: addr(nodes.view(from)),
    newHost: to === null ? null : addr(nodes.view(to)),
    info,
    at: Date.now(),
    errCode: code,
    errMsg: code === 0 ? null : info,
  });
  await nodes.flushRows();
  ctx.signal.throwIfAborted();
}

/** A refused target as a job error: the original's number for the reason. */
function checkError(c: Extract<SwitchTargetCheck, { ok: false }>): JobError {
  const code: Record<string, number> = {
    'target-is-primary': E_NOT_REPLICA,
    'target-not-promotable': E_NOT_REPLICA,
    'target-not-replica': E_NOT_REPLICA,
    'target-follows-other': E_NOT_REPLICA,
    'primary-unavailable': E_CONNECT,
    'target-unavailable': E_TARGET_CONNECT,
    'target-replication-broken': E_TARGET_UNALIVE,
    'target-errant': E_TARGET_NOT_MAX,
    'target-not-caught-up': E_TARGET_NOT_MAX,
  };
  return new JobError(code[c.code] ?? E_TARGET_UNALIVE, `${c.code}: ${c.message}`);
}

function probeError(p: ProbeResult, role: 'primary' | 'target'): JobError | null {
  if (p.status === 'ok') return null;
  const why = `${role} ${p.address} is ${p.status}${p.error ? `: ${p.error.message}` : ''}`;
  if (p.status === 'alive-busy') return new JobError(E_BUSY_CONNECTIONS, why);
  return new JobError(role === 'primary' ? E_CONNECT : E_TARGET_CONNECT, why);
}

/** The old primary as it must be for a switch: reachable, writable or fenced by us, no source. */
function checkPrimaryState(st: NodeState, address: string): JobError | null {
  if (st.replication !== null) return new JobError(E_NOT_SOURCE, `${address} replicates from ${st.replication.source}: it is not a primary`);
  return null;
}

const busy = (s: ShardView): JobError =>
  new JobError(E_BUSY_SHARD, `shard ${s.id} is busy with ${s.task!.kind} task ${s.task!.task}: try again when it has ended`);
const notPrimary = (s: ShardView, req: SwitchRequest): JobError =>
  new JobError(E_NOT_SOURCE, `node ${req.from} is no longer the primary of shard ${s.id} (now ${s.primary ?? 'none'})`);

/** Takes the shard's failover task (refused while another task runs or a no-switch window is on). */
async function takeShard(ctx: JobContext, req: SwitchRequest, target: { node: number; backlog: number }, nodes: Nodes): Promise<number> {
  const task = await ctx.step('take_shard', TOTAL, async () => {
    const s = shardOf(ctx, req.shard);
    const mine = ourTask(ctx, s);
    if (mine !== null) return mine; // started before a leader change
    if (s.task !== null) throw busy(s);
    if (s.primary !== req.from) throw notPrimary(s, req);
    if (s.noSwitch !== null && s.noSwitch.until > Date.now()) {
      throw new JobError(E_NOSWITCH, `shard ${s.id} is in a no-switch window until ${new Date(s.noSwitch.until).toISOString()}`);
    }
    await ctx.exec({
      kind: 'failover.start',
      shard: s.id,
      failoverKind: 'switchover',
      ...(req.to !== null ? { target: req.to } : {}),
      term: ctx.term,
      evidence: {
        observer: ctx.runtime.cfg.selfId,
        summary: `manual_switch job ${ctx.job.id}`,
        facts: { job: ctx.job.id, from: req.from, to: req.to ?? 'elect' },
      },
    });
    const v = nodes.view(target.node);
    await failoverStep(ctx, nodes, req, 'elect', `${addr(v)} passed the checks, ${target.backlog} transactions behind`, { candidate: target.node });
    return taskOf(ctx, req);
  });
  return Number(task);
}

interface Ranked {
  node: number;
  backlog: number;
  priority: number;
}

/** Probes the primary, then the target(s); the target passes checkSwitchTarget or the job fails. */
async function checkTarget(ctx: JobContext, req: SwitchRequest, nodes: Nodes): Promise<{ node: number; backlog: number }> {
  const chosen = await ctx.step('check', TOTAL, async () => {
    const s = shardOf(ctx, req.shard);
    if (ourTask(ctx, s) === null) {
      if (s.task !== null) throw busy(s);
      if (s.primary !== req.from) throw notPrimary(s, req);
    }
    const maxBacklog = tunable(ctx, 'switchover_max_backlog');
    const primary = nodes.get(req.from);
    const pp = await probeNode(primary, { signal: ctx.signal, deadlineMs: 3_000 });
    const pe = probeError(pp, 'primary');
    if (pe !== null) throw pe;
    const stateErr = checkPrimaryState(pp.state!, pp.address);
    if (stateErr !== null) throw stateErr;
    const candidates = req.to !== null ? [req.to] : shardOf(ctx, req.shard).nodes.filter((n) => n !== req.from);
    if (candidates.length === 0) throw new JobError(E_NOT_REPLICA, `shard ${req.shard} has no replica to switch to`);
    const probes = await Promise.all(candidates.map((id) => probeNode(nodes.get(id), { signal: ctx.signal, deadlineMs: 3_000 })));
    const passed: Ranked[] = [];
    const refused: JobError[] = [];
    for (const [i, id] of candidates.entries()) {
      const v = nodes.view(id);
      const p = probes[i]!;
      const pe2 = probeError(p, 'target');
      if (pe2 !== null) {
        refused.push(pe2);
        continue;
      }
      if (v.repair !== 'ok' || v.health === 'dead' || v.health === 'unreachable') {
        refused.push(new JobError(E_TARGET_UNALIVE, `${addr(v)} is ${v.repair !== 'ok' ? v.repair : v.health}`));
        continue;
      }
      const c = checkSwitchTarget(p, pp, { maxBacklog, gtid: primary.flavor.gtid });
      if (!c.ok) {
        refused.push(checkError(c));
        continue;
      }
      passed.push({ node: id, backlog: primary.flavor.gtid.backlog(p.state!.gtid.executed, pp.state!.gtid.executed), priority: v.masterPriority });
    }
    if (passed.length === 0) {
      const first = refused[0]!;
      const info = refused.length === 1 ? first.info : `no replica can take over: ${refused.map((e) => e.info).join('; ')}`;
      throw new JobError(first.code, info.slice(0, 900));
    }
    passed.sort((a, b) => b.priority - a.priority || a.backlog - b.backlog || a.node - b.node);
    const best = passed[0]!;
    return { node: best.node, backlog: best.backlog };
  });
  return { node: Number(chosen.node), backlog: Number(chosen.backlog) };
}

/**
 * The write-unavailable part, as one recorded step so that no Raft round trip sits between its
 * effects: the old primary read-only (its client sessions killed, its semi-sync master side off),
 * a bounded wait until the target executed everything the old primary did, the target promoted.
 * Rerun after a leader change it finds each effect done (fenced, caught up, promoted) and goes on.
 * The task's step records (rbr_consfailover rows) are proposed after the promotion.
 */
async function switchOver(ctx: JobContext, req: SwitchRequest, target: number, nodes: Nodes): Promise<{ [k: string]: Json }> {
  const done = await ctx.step('switch', TOTAL, async () => {
    const old = nodes.get(req.from);
    const t = nodes.get(target);
    const t0 = performance.now();
    const f = await guarded(ctx, E_CONNECT, `fence ${old.address}`, () => fence(old, ctx.signal, { keepUsers: [nodes.settings.storage.user] }));
    if (!f.reachable) throw new JobError(E_CONNECT, `old primary ${old.address} became unreachable: ${f.detail}`);
    const st = await guarded(ctx, E_CONNECT, `read ${old.address}`, () => old.run((sql) => old.flavor.readState(sql), { signal: ctx.signal, deadlineMs: 3_000 }));
    if (!st.readOnly) throw new JobError(JOB_INTERNAL_ERROR, `old primary ${old.address} is writable again: not switching`);
    const position = st.gtid.executed;
    const bound = tunable(ctx, 'switchover_catchup_ms');
    let w: StepResult;
    try {
      w = await waitApplied(t, position, bound, ctx.signal);
    } catch (e) {
      if (e instanceof StepError && e.code === 'timeout') {
        throw new JobError(E_APPLY_TIMEOUT, `target ${t.address} did not catch up with ${old.address} within ${bound} ms: ${e.message}`, { cause: e });
      }
      throw asJobError(ctx, E_TARGET_UNALIVE, `wait for ${t.address} to catch up`, e);
    }
    const p = await guarded(ctx, E_TARGET_CONNECT, `promote ${t.address}`, () => promote(t, ctx.signal, { mustContain: position }));
    const readOnlyMs = Math.round(performance.now() - t0);
    // Writes on the target wait for a semi-sync ACK: the replicas follow it at once. A node that
    // cannot is reported (the switch is done; the HA loops repair it), not a failure of the job.
    const rep = await repointOthers(ctx, req, target, nodes);
    // The records follow the effects.
    await failoverStep(ctx, nodes, req, 'fence', `${old.address}: ${f.detail} (${f.ms} ms)`);
    await failoverStep(ctx, nodes, req, 'drain', `${t.address} executed ${position || '(nothing)'} in ${w.ms} ms`, { candidate: target });
    await failoverStep(ctx, nodes, req, 'promote', `${t.address}: ${p.detail} (${p.ms} ms)`, { candidate: target });
    await failoverStep(ctx, nodes, req, 'repoint', rep.lines.join('; '), { ok: rep.failed === 0 });
    const failedLines = rep.lines.filter((l) => l.startsWith('failed')).join('; ').slice(0, 400);
    return { position, readonly_ms: readOnlyMs, fence_ms: f.ms, drain_ms: w.ms, promote_ms: p.ms, repoint_ms: rep.ms, repoint_failed: failedLines };
  });
  return done;
}

/** Every other node of the shard (the old primary too) follows the new primary, all at once. */
async function repointOthers(ctx: JobContext, req: SwitchRequest, target: number, nodes: Nodes): Promise<{ lines: string[]; failed: number; ms: number }> {
  const t0 = performance.now();
  const np = nodes.get(target);
  const repl = nodes.settings.repl;
  const others = shardOf(ctx, req.shard).nodes.filter((n) => n !== target);
  const results = await Promise.allSettled(
    others.map(async (id) => {
      const v = nodes.view(id);
      if (id !== req.from && v.repair !== 'ok') return `${addr(v)}: skipped (${v.repair})`;
      const r = await repoint(nodes.get(id), np, repl, ctx.signal);
      return `${addr(v)}: ${r.detail}`;
    }),
  );
  ctx.signal.throwIfAborted();
  const lines: string[] = [];
  let failed = 0;
  for (const [i, r] of results.entries()) {
    if (r.status === 'fulfilled') lines.push(r.value);
    else {
      failed++;
      lines.push(`failed: ${addr(nodes.view(others[i]!))}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
      ctx.log.warn({ node: others[i], err: r.reason as Error }, 'could not re-point a node to the new primary');
    }
  }
  return { lines, failed, ms: Math.round(performance.now() - t0) };
}

async function record(ctx: JobContext, req: SwitchRequest, target: number): Promise<void> {
  await ctx.step('record', TOTAL, async () => {
    const s = shardOf(ctx, req.shard);
    if (s.primary === target && ourTask(ctx, s) === null) return; // recorded before a leader change
    await ctx.exec({ kind: 'failover.finish', shard: req.shard, task: taskOf(ctx, req), primary: target, term: ctx.term });
  });
}

/**
 * Storage errors fail the job (its rollback reopens the old primary and releases the shard): a
 * switchover that meets a broken node stops cleanly rather than holding the shard's task while it
 * retries, because a held task also holds off the automatic failover.
 */
async function guarded<T>(ctx: JobContext, code: number, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw asJobError(ctx, code, what, e);
  }
}

function asJobError(ctx: JobContext, code: number, what: string, e: unknown): unknown {
  if (ctx.signal.aborted || e instanceof JobError) return e;
  if (e instanceof StepError) return new JobError(e.code === 'errant' ? E_TARGET_NOT_MAX : code, `${what}: ${e.message}`, { cause: e });
  return new JobError(code, `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

async function manualSwitch(ctx: JobContext): Promise<Json> {
  const r = request(ctx);
  const nodes = new Nodes(ctx);
  const t0 = Date.now();
  try {
    // failover_step_delay_ms (chaos testing only, 0 in production) pauses before each step, so a
    // test can kill the leader between steps and see the next one resume the job.
    const pause = (): Promise<void> => sleepWhileLeading(nodes.settings.stepDelayMs, ctx.signal);
    await pause();
    const chosen = await checkTarget(ctx, r, nodes);
    await pause();
    const task = await takeShard(ctx, r, chosen, nodes);
    const target = chosen.node;
    await pause();
    const sw = await switchOver(ctx, r, target, nodes);
    await pause();
    await record(ctx, r, target);
    const tv = nodes.view(target);
    const ov = nodes.view(r.from);
    await endRow(ctx, nodes, shardOf(ctx, r.shard), task, r.from, target, 0, `node ${target} is the primary of shard ${r.shard}`);
    ctx.log.info({ shard: r.shard, task, from: addr(ov), to: addr(tv), ms: Date.now() - t0 }, 'switchover done');
    return { shard_id: r.shard, task, old_master: addr(ov), new_master: addr(tv), ...sw };
  } finally {
    await nodes.close();
  }
}

/**
 * After a failure: when the target cannot have taken a write (still read-only), the old primary is
 * made writable again and the task is aborted: the shard is as before. When the target was made
 * writable (the failure came after the promotion), rolling back would make two writable primaries:
 * the switch is recorded instead. The task is always released, so an automatic failover can run.
 */
async function rollback(ctx: JobContext, err: JobError): Promise<void> {
  const r = request(ctx);
  const s = shardOf(ctx, r.shard);
  const task = ourTask(ctx, s);
  if (task === null) return; // the task was never taken, or has ended
  const switchStarted = ctx.job.steps.some((x) => x.step === 'switch');
  const nodes = new Nodes(ctx);
  const notes: string[] = [];
  try {
    const target = s.task?.candidate ?? r.to;
    // Writable, or unknown (unreachable): the target may have taken writes; never reopen the old one.
    let mayHaveWritten = false;
    if (target !== null && switchStarted) {
      const tp = await probeNode(nodes.get(target), { signal: ctx.signal, deadlineMs: 3_000 });
      mayHaveWritten = tp.status !== 'ok' || !tp.state!.readOnly;
      if (tp.status === 'ok' && !tp.state!.readOnly) {
        // Forward, not back: the others follow the target (best effort) and it is recorded.
        const np = nodes.get(target);
        const others = s.nodes.filter((n) => n !== target && (n === r.from || nodes.view(n).repair === 'ok'));
        const rs = await Promise.allSettled(others.map((id) => repoint(nodes.get(id), np, nodes.settings.repl, ctx.signal)));
        ctx.signal.throwIfAborted();
        await ctx.exec({ kind: 'failover.finish', shard: r.shard, task, primary: target, term: ctx.term });
        await endRow(ctx, nodes, s, task, r.from, target, 0, `node ${target} is the primary of shard ${r.shard} (after: ${err.info})`);
        const failed = rs.filter((x) => x.status === 'rejected').length;
        ctx.log.warn({ shard: r.shard, target, repoint_failed: failed }, 'switchover failed after the promotion: the target is recorded as the primary');
        return;
      }
      if (tp.status === 'ok' && tp.state!.replication === null) {
        // Read-only, so it took no write, but the promotion had begun (replication reset): it
        // follows the old primary again before that one reopens.
        try {
          await repoint(nodes.get(target), nodes.get(r.from), nodes.settings.repl, ctx.signal);
          notes.push(`target ${nodes.get(target).address} follows the old primary again`);
        } catch (e) {
          if (ctx.signal.aborted) throw e;
          notes.push(`target ${nodes.get(target).address} could not follow the old primary again: ${(e as Error).message}`);
        }
      }
    }
    if (switchStarted && !mayHaveWritten) {
      const old = nodes.get(r.from);
      try {
        const st = await old.run((sql) => old.flavor.readState(sql), { signal: ctx.signal, deadlineMs: 3_000 });
        if (st.replication !== null) notes.push(`old primary ${old.address} replicates from ${st.replication.source}: left read-only`);
        else {
          const u = await promote(old, ctx.signal, { deadlineMs: 5_000 });
          notes.push(`old primary ${old.address} writable again (${u.detail})`);
        }
      } catch (e) {
        if (ctx.signal.aborted) throw e;
        notes.push(`old primary ${old.address} could not be made writable again: ${(e as Error).message}`);
      }
    } else if (mayHaveWritten) notes.push('the target could not be reached, it may have been promoted: the old primary stays read-only');
    const reason = [err.info, ...notes].join('; ').slice(0, 1000);
    await ctx.exec({ kind: 'failover.abort', shard: r.shard, task, code: err.code, reason });
    await endRow(ctx, nodes, s, task, r.from, null, err.code, reason);
    ctx.log.warn({ shard: r.shard, task, code: err.code, notes }, 'switchover rolled back');
  } finally {
    await nodes.close();
  }
}

registerJobHandler('manual_switch', manualSwitch, { rollback });
