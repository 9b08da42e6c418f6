// Automatic failover of rbr shards, keyed by shard. When the world says the primary is dead (the probe
// observer concluded it with the replicas' corroboration) and the gate allows it (anti-flapping
// interval, no-switch window), the leader runs the failover as recorded steps:
//   failover.start → detect → freeze (stop IO) → elect (none: divergence alarm, abort, no promotion)
//   → drain (wait applied) → fence (old primary) → repoint (others) → promote → failover.finish
// Each step's effect is idempotent and checks the real world first; each is recorded as an event
// (and an rbr_consfailover row) before the next starts, so a new leader reads the task's last
// recorded step and continues after it. Every effect runs under the leader's term and AbortSignal.
import type { NodeView, ShardView } from '../actors/index.js';
import type { FailoverStep } from '../events/vocab.js';
import { chooseCandidate, failoverGate, type Choice } from './decide/index.js';
import type { ManagerRuntime } from '../member/runtime.js';
import { checkLeading, sleepWhileLeading, type LeaderContext, type Reconciler } from '../reconcile/host.js';
import { fence, promote, repoint, stopIoThreads, StepError, waitApplied, type FenceResult, type StepResult } from './failover-steps.js';
import { probeNode } from '../storage-node/probe.js';
import { agentForMachine } from '../agent/for-machine.js';
import type { FailoverRows } from './failover-rows.js';
import type { ProbeObserver } from './observer.js';
import type { NodePool } from './pool.js';
import { evidence, propose } from './propose.js';
import type { HaSettings } from './settings.js';

/** The steps in order; a task's last recorded step says where a new leader continues. */
export const FAILOVER_ORDER: readonly FailoverStep[] = ['detect', 'freeze', 'elect', 'drain', 'fence', 'repoint', 'promote'];

/** How long the fence step lets a pending SQL fence of the old primary run before its agent kills it. */
const FENCE_GRACE_MS = 300;

/** Error numbers of the original (70000 + n) for an aborted failover. */
const CODE = { applyTimeout: 70011, noMaxGtid: 70020, noSurvivors: 70022 } as const;

const hostOf = (n: Pick<NodeView, 'hostaddr' | 'port'> | null | undefined): string => (n ? `${n.hostaddr}_${n.port}` : 'unknown');
const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

interface Run {
  shard: ShardView;
  task: number;
  old: NodeView;
  candidate: NodeView | null;
  target: string | null;
  /**
   * Effects started ahead of their record, to save time: the old primary is fenced while the
   * replicas freeze and the candidate drains, and the candidate is promoted while the others are
   * re-pointed (a replica that connects before or after the promotion registers as a semi-sync
   * client either way). Records stay in order; a new leader redoes an unrecorded effect (each is
   * idempotent).
   */
  fencing?: Promise<FenceResult>;
  promoting?: Promise<StepResult>;
}

/** The SQL fence, and when SQL could not reach the old primary, what its machine's agent did. */
interface OldPrimaryFence extends FenceResult {
  /** The agent killed the server (kill -9; it restarts read-only after the agent's restart delay). */
  processKilled: boolean;
  agentNote: string;
}

/** `p`'s value if it settles within `ms`, else null (a rejection is passed on). */
function within<T>(p: Promise<T>, ms: number, signal: AbortSignal): Promise<T | null> {
  return Promise.race([p, sleepWhileLeading(ms, signal).then(() => null)]);
}

/** Starts `p` now; a rejection is kept for whoever awaits it, and never unhandled meanwhile. */
function early<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

export class FailoverReconciler implements Reconciler {
  readonly name = 'shard-failover';
  private readonly gateNote = new Map<number, string>();
  /** A gate that says "not before T" gets a rerun at T: no event marks a window's end or an interval's. */
  private readonly gateTimers = new Map<number, NodeJS.Timeout>();

  constructor(
    private readonly rt: ManagerRuntime,
    private readonly pool: NodePool,
    private readonly rows: FailoverRows,
    private readonly observer: ProbeObserver,
    private readonly s: HaSettings,
  ) {}

  private isRbr(shard: number): boolean {
    const sh = this.rt.world.shard(shard);
    return sh !== null && this.rt.world.cluster(sh.cluster)?.haMode === 'rbr';
  }

  keys(): string[] {
    return this.rt.world
      .ids('shard')
      .filter((id) => this.isRbr(id))
      .map(String);
  }

  affected(changed: ReadonlySet<string>): string[] {
    const out = new Set<number>();
    for (const agg of changed) {
      const [kind, id] = agg.split('/') as [string, string];
      if (kind === 'shard') out.add(Number(id));
      else if (kind === 'node') {
        const sh = this.rt.world.shardOf(Number(id));
        if (sh !== null) out.add(sh);
      }
    }
    return [...out].filter((id) => this.isRbr(id)).map(String);
  }

  private recheckAt(shard: number, at: number, signal: AbortSignal): void {
    const old = this.gateTimers.get(shard);
    if (old) clearTimeout(old);
    const t = setTimeout(() => {
      this.gateTimers.delete(shard);
      if (!signal.aborted) this.rt.host.changed(new Set([`shard/${shard}`]));
    }, Math.max(0, at - Date.now()) + 50);
    t.unref();
    this.gateTimers.set(shard, t);
  }

  async reconcile(key: string, ctx: LeaderContext): Promise<void> {
    const id = Number(key);
    const world = this.rt.world;
    const s = world.shard(id);
    if (!s || !this.isRbr(id)) return;
    this.catchUpRows(s);
    if (s.task !== null) {
      // A switchover task belongs to the manual_switch job.
      if (s.task.kind === 'failover') await this.run(id, ctx);
      return;
    }
    if (s.primary === null || s.status !== 'inuse') return;
    const p = world.node(s.primary);
    if (!p || p.health !== 'dead') return;
    const windows = s.noSwitch ? [{ clusterId: String(s.cluster), shardId: String(s.id), until: s.noSwitch.until }] : [];
    const gate = failoverGate({
      now: Date.now(),
      clusterId: String(s.cluster),
      shardId: String(s.id),
      // Flapping is automatic failovers chasing each other; an operator's switchover does not count.
      lastFailoverAt: s.last !== null && s.last.kind === 'failover' ? s.last.endedAt : null,
      minIntervalMs: this.s.minIntervalMs,
      windows,
    });
    if (!gate.ok) {
      if (this.gateNote.get(id) !== gate.reason) {
        this.gateNote.set(id, gate.reason);
        ctx.log.error({ shard: id, primary: p.id, alarm: 'failover-suppressed', retry_at: gate.retryAt }, `primary ${p.id} is dead but no failover: ${gate.reason}`);
      }
      if (gate.retryAt !== null) this.recheckAt(id, gate.retryAt, ctx.signal);
      return;
    }
    this.gateNote.delete(id);
    if (!this.stillDead(s, p, ctx)) return;
    const ev = p.evidence ?? evidence(this.s.observer, `primary ${p.id} is dead`, {});
    await propose(
      this.rt,
      { kind: 'failover.start', shard: id, failoverKind: 'failover', term: ctx.term, evidence: ev },
      'automatic failover: the primary is dead',
      ctx,
    );
    ctx.log.warn({ shard: id, primary: p.id, evidence: ev.summary }, 'automatic failover started');
    await this.run(id, ctx);
  }

  /**
   * The world's "dead" is a conclusion, possibly drawn by an earlier leader before the primary came
   * back. Start only when this leader's observer confirmed it within the last probe periods (the
   * observer nudges this reconciler when it confirms a death the world already records).
   */
  private stillDead(s: ShardView, p: NodeView, ctx: LeaderContext): boolean {
    const at = this.observer.confirmedDeadAt(s.id, p.id);
    if (at !== null && Date.now() - at < 3 * this.s.probeIntervalMs + 2_000) return true;
    ctx.log.info({ shard: s.id, primary: p.id }, 'the dead conclusion is not confirmed by this leader yet; waiting for its observer');
    return false;
  }

  /** Runs (or resumes) the shard's failover task from the step after the last recorded one. */
  private async run(id: number, ctx: LeaderContext): Promise<void> {
    const world = this.rt.world;
    const s = world.shard(id)!;
    const t = s.task!;
    const old = t.from === null ? null : world.node(t.from);
    if (!old) {
      await this.abort(s, t.task, null, CODE.noSurvivors, 'the task names no old primary', ctx);
      return;
    }
    const r: Run = { shard: s, task: t.task, old, candidate: t.candidate === null ? null : world.node(t.candidate), target: null };
    const from = t.lastStep ? FAILOVER_ORDER.indexOf(t.lastStep.step) + 1 : 0;
    if (from > 0) ctx.log.warn({ shard: id, task: t.task, after: t.lastStep!.step, term: ctx.term }, 'resuming a failover task');
    for (let i = from; i < FAILOVER_ORDER.length; i++) {
      if (this.s.stepDelayMs > 0) await sleepWhileLeading(this.s.stepDelayMs, ctx.signal);
      checkLeading(ctx.signal);
      const go = await this.step(FAILOVER_ORDER[i]!, r, ctx);
      if (!go) return;
    }
    if (!r.candidate) throw new Error(`failover task ${t.task} has no candidate after promote`);
    await propose(
      this.rt,
      { kind: 'failover.finish', shard: id, task: t.task, primary: r.candidate.id, term: ctx.term },
      'automatic failover finished',
      ctx,
    );
    ctx.log.warn({ shard: id, task: t.task, old: old.id, primary: r.candidate.id }, 'automatic failover finished');
    this.rt.metrics.failoverEnded('finished', t.startedAt);
    this.rows.enqueue({
      shard: s,
      task: t.task,
      kind: 'failover',
      step: 'end',
      oldHost: hostOf(old),
      newHost: hostOf(r.candidate),
      info: `node ${r.candidate.id} is the primary of shard ${id}`,
      at: Date.now(),
      errCode: 0,
      errMsg: null,
    });
  }

  /**
   * Fences the old primary over SQL (started early, at freeze) or, when SQL cannot reach it, through
   * its machine's node agent, which kills the server. A hung (SIGSTOPped) primary would otherwise wake
   * up writable, and the commit it hung on, waiting for a semi-sync ACK, would complete locally (errant:
   * a rebuild). Killed, it restarts read-only after the agent's restart delay with init_rpl_role=SLAVE,
   * so crash recovery drops that unacknowledged tail, and the rejoin reconciler re-points it. No agent
   * (the host is down, or the machine is not registered): fenced by unreachability, as before.
   * Called at the fence step only, with a candidate elected and drained: a failover that aborts
   * earlier keeps this node as the shard's primary, and a primary must not restart as a replica.
   */
  private async fenceOld(r: Run, sig: AbortSignal): Promise<OldPrimaryFence> {
    const old = r.old;
    const sqlFence = (r.fencing ??= early(fence(this.pool.node(old), sig, { deadlineMs: 2_000 })));
    // A hung server makes the SQL attempt use its whole deadline; the dead verdict already says the
    // manager could not reach it, so after a short grace the agent's kill goes ahead (it also ends
    // the SQL attempt: the server's sockets close).
    const sqlFirst = await within(sqlFence, FENCE_GRACE_MS, sig);
    if (sqlFirst?.reachable === true) return { ...sqlFirst, processKilled: false, agentNote: '' };
    // Bounded: while it waits, the promotion waits (a host that is down costs this much).
    const agent = agentForMachine(this.rt.world, this.rt.cfg, old.hostaddr, { kill_mysql: 1_500 });
    if (agent === null) return { ...(await sqlFence), processKilled: false, agentNote: '; no node agent known for its machine' };
    sig.throwIfAborted();
    let killed = false;
    let agentNote: string;
    try {
      const a = await agent.killMysql({ port: old.port, keepalive: true });
      killed = a.status === 'success';
      agentNote = killed ? `; killed by the node agent at ${old.hostaddr} (restarts read-only)` : `; the node agent refused the kill: ${String(a.info)}`;
    } catch (e) {
      agentNote = `; node agent at ${old.hostaddr} unreachable: ${msg(e)}`;
    }
    if (!killed) return { ...(await sqlFence), processKilled: false, agentNote };
    // Killed: the SQL attempt may go on retrying until its deadline; what it says now, or nothing.
    const sqlNow = await within(sqlFence, FENCE_GRACE_MS, sig);
    if (sqlNow?.reachable === true) return { ...sqlNow, processKilled: false, agentNote: `${agentNote}; it had answered over SQL and was fenced there first` };
    const unreachable: FenceResult = { step: 'fence', node: this.pool.node(old).id, changed: true, detail: 'not reachable over SQL', ms: 0, reachable: false, killed: 0 };
    return { ...(sqlNow ?? unreachable), processKilled: true, agentNote };
  }

  /** Nodes that may take part: every node of the shard but the old primary and nodes needing a rebuild. */
  private survivors(r: Run): NodeView[] {
    const w = this.rt.world;
    return (w.shard(r.shard.id)?.nodes ?? [])
      .map((n) => w.node(n))
      .filter((n): n is NodeView => n !== null && n.id !== r.old.id && n.repair === 'ok' && n.status !== 'inactive');
  }

  private async elect(r: Run, ctx: LeaderContext): Promise<Choice> {
    const nodes = this.survivors(r);
    const probes = await Promise.all(nodes.map((n) => probeNode(this.pool.node(n), { deadlineMs: 2 * this.s.probeTimeoutMs, signal: ctx.signal })));
    const byId = new Map(nodes.map((n) => [String(n.id), n]));
    const alive = probes.filter((p) => p.status === 'ok' && p.state);
    return chooseCandidate(
      alive.map((p) => ({
        node: p.node,
        executed: p.state!.gtid.executed,
        received: p.state!.gtid.received,
        priority: byId.get(p.node)!.masterPriority,
        acker: byId.get(p.node)!.syncState === 'fsync',
      })),
      { gtid: this.pool.node(r.old).flavor.gtid, ackers: nodes.filter((n) => n.syncState === 'fsync').length, acksPerCommit: 1 },
    );
  }

  /** One step: its effect, then its record. false: the task was aborted. */
  private async step(step: FailoverStep, r: Run, ctx: LeaderContext): Promise<boolean> {
    const sig = ctx.signal;
    switch (step) {
      case 'detect': {
        const p = this.rt.world.node(r.old.id);
        await this.record(r, step, true, p?.evidence?.summary ?? `primary ${r.old.id} is dead`, ctx);
        return true;
      }
      case 'freeze': {
        // Fencing the old primary needs nothing from the other steps; a hung one takes its whole deadline.
        r.fencing ??= early(fence(this.pool.node(r.old), sig, { deadlineMs: 2_000 }));
        const notes = await Promise.all(
          this.survivors(r).map((n) =>
            stopIoThreads(this.pool.node(n), sig, { deadlineMs: 5_000 }).then(
              (x) => ({ ok: true, text: `${n.id}: ${x.detail}` }),
              (e: unknown) => {
                checkLeading(sig);
                return { ok: false, text: `${n.id}: ${msg(e)}` };
              },
            ),
          ),
        );
        await this.record(r, step, notes.every((x) => x.ok), notes.map((x) => x.text).join('; '), ctx);
        return true;
      }
      case 'elect': {
        const choice = await this.elect(r, ctx);
        if (choice.kind !== 'candidate') {
          const code = choice.kind === 'divergence' || choice.kind === 'not-promotable' ? CODE.noMaxGtid : CODE.noSurvivors;
          const ranking = 'ranking' in choice ? choice.ranking.map((x) => `${x.node}=${x.position || '(empty)'}${x.containsAll ? ' (holds all)' : ''}`).join('; ') : '';
          ctx.log.error({ shard: r.shard.id, task: r.task, alarm: choice.kind, ranking }, `failover cannot promote anyone: ${choice.message}`);
          await this.record(r, step, false, choice.message, ctx);
          await this.abort(r.shard, r.task, r.old, code, `${choice.kind}: ${choice.message}`, ctx, { ranking, alarm: choice.kind });
          return false;
        }
        r.candidate = this.rt.world.node(Number(choice.node));
        r.target = choice.target;
        const ranking = choice.ranking.map((x) => `${x.node}=${x.position || '(empty)'}`).join('; ');
        await this.record(r, step, true, `candidate ${choice.node}, target ${choice.target || '(empty)'}; ${ranking}`, ctx, r.candidate!.id);
        return true;
      }
      case 'drain': {
        const cand = this.need(r);
        if (r.target === null) {
          // Resumed after a leader change: the IO threads are stopped, so the positions are stable.
          const choice = await this.elect(r, ctx);
          const mine = 'ranking' in choice ? choice.ranking.find((x) => x.node === String(cand.id)) : undefined;
          if (!mine?.containsAll) {
            const why = `the elected candidate ${cand.id} no longer holds every survivor's transactions`;
            await this.record(r, step, false, why, ctx);
            await this.abort(r.shard, r.task, r.old, CODE.noMaxGtid, why, ctx);
            return false;
          }
          r.target = mine.position;
        }
        r.fencing ??= early(fence(this.pool.node(r.old), sig, { deadlineMs: 2_000 }));
        try {
          const x = await waitApplied(this.pool.node(cand), r.target, this.s.waitAppliedMs, sig);
          await this.record(r, step, true, x.detail, ctx);
          return true;
        } catch (e) {
          if (!(e instanceof StepError) || (e.code !== 'timeout' && e.code !== 'sql-thread-stopped')) throw e;
          await this.record(r, step, false, e.message, ctx);
          await this.abort(r.shard, r.task, r.old, CODE.applyTimeout, e.message, ctx);
          return false;
        }
      }
      case 'fence': {
        const f = await this.fenceOld(r, sig);
        const method = f.reachable ? 'super_read_only' : f.processKilled ? 'kill' : 'host_unreachable';
        await propose(
          this.rt,
          {
            kind: 'node.fence',
            node: r.old.id,
            method,
            task: r.task,
            evidence: evidence(this.s.observer, `old primary ${r.old.id} fenced (${method}): ${f.detail}${f.agentNote}`, { reachable: f.reachable, killed: f.killed }),
          },
          'failover: fence the old primary',
          ctx,
        );
        await this.record(r, step, true, `${method}: ${f.detail}${f.agentNote}`, ctx);
        return true;
      }
      case 'repoint': {
        const cand = this.need(r);
        const others = this.survivors(r).filter((n) => n.id !== cand.id);
        r.promoting ??= early(this.promoteCandidate(r, cand, sig));
        const notes = await Promise.all(
          others.map((n) =>
            repoint(this.pool.node(n), this.pool.node(cand), this.s.repl, sig, { deadlineMs: 10_000 }).then(
              (x) => ({ ok: true, text: `${n.id}: ${x.detail}` }),
              (e: unknown) => {
                checkLeading(sig);
                return { ok: false, text: `${n.id}: ${msg(e)}` };
              },
            ),
          ),
        );
        await this.record(r, step, notes.every((x) => x.ok), notes.map((x) => x.text).join('; ') || 'no other replica', ctx);
        return true;
      }
      case 'promote': {
        const cand = this.need(r);
        const x = await (r.promoting ?? this.promoteCandidate(r, cand, sig));
        await this.record(r, step, true, x.detail, ctx);
        return true;
      }
      default:
        throw new Error(`unknown failover step ${step}`);
    }
  }

  private promoteCandidate(r: Run, cand: NodeView, sig: AbortSignal): Promise<StepResult> {
    return promote(this.pool.node(cand), sig, { deadlineMs: 10_000, ...(r.target !== null ? { mustContain: r.target } : {}) });
  }

  private need(r: Run): NodeView {
    if (!r.candidate) throw new Error(`failover task ${r.task} has no elected candidate`);
    return r.candidate;
  }

  private async record(r: Run, step: FailoverStep, ok: boolean, info: string, ctx: LeaderContext, candidate?: number): Promise<void> {
    const text = info.length > 1024 ? `${info.slice(0, 1021)}...` : info;
    const t0 = performance.now();
    await propose(
      this.rt,
      { kind: 'failover.step', shard: r.shard.id, task: r.task, step, ok, info: text, ...(candidate !== undefined ? { candidate } : {}) },
      `failover step ${step}`,
      ctx,
    );
    const proposeMs = Math.round(performance.now() - t0);
    ctx.log.info({ shard: r.shard.id, task: r.task, step, ok, info: text, propose_ms: proposeMs }, `failover step ${step}`);
    this.rows.enqueue({
      shard: r.shard,
      task: r.task,
      kind: 'failover',
      step,
      oldHost: hostOf(r.old),
      newHost: r.candidate ? hostOf(r.candidate) : null,
      info,
      at: Date.now(),
      errCode: ok ? 0 : 1,
      errMsg: ok ? null : info,
    });
  }

  private async abort(
    s: ShardView,
    task: number,
    old: NodeView | null,
    code: number,
    reason: string,
    ctx: LeaderContext,
    facts: Record<string, string> = {},
  ): Promise<void> {
    const text = reason.length > 1024 ? `${reason.slice(0, 1021)}...` : reason;
    await propose(
      this.rt,
      { kind: 'failover.abort', shard: s.id, task, code, reason: text, evidence: evidence(this.s.observer, text, { code, ...facts }) },
      'failover aborted',
      ctx,
    );
    ctx.log.error({ shard: s.id, task, code, alarm: 'failover-aborted' }, `failover aborted, nothing promoted: ${text}`);
    this.rt.metrics.failoverEnded('aborted', s.task?.startedAt ?? null);
    if (old) await this.thaw(s, old, ctx);
    this.rows.enqueue({ shard: s, task, kind: 'failover', step: 'end', oldHost: hostOf(old), newHost: null, info: text, at: Date.now(), errCode: code, errMsg: text });
  }

  /**
   * After an abort, replicas frozen by this task follow the old primary again (harmless while it is
   * dead; they resume on their own if it comes back). Best effort: an operator takes it from here.
   */
  private async thaw(s: ShardView, old: NodeView, ctx: LeaderContext): Promise<void> {
    const w = this.rt.world;
    const address = `${old.hostaddr}:${old.port}`;
    const nodes = s.nodes.map((id) => w.node(id)).filter((n): n is NodeView => n !== null && n.id !== old.id);
    await Promise.all(
      nodes.map(async (n) => {
        const sn = this.pool.node(n);
        try {
          const restarted = await sn.run(
            async (sql) => {
              const st = await sn.flavor.readState(sql);
              if (st.replication?.source !== address || st.replication.io !== 'stopped') return false;
              await sn.flavor.startReplication(sql);
              return true;
            },
            { signal: ctx.signal, deadlineMs: 5_000 },
          );
          if (restarted) ctx.log.info({ node: n.id }, 'replication restarted after the aborted failover');
        } catch (e) {
          ctx.log.warn({ err: e, node: n.id }, 'could not restart replication after the aborted failover');
        }
      }),
    );
  }

  /** Rows a leader that died may have left unwritten: the task's latest step, the last outcome. */
  private catchUpRows(s: ShardView): void {
    const w = this.rt.world;
    const t = s.task;
    if (t?.kind === 'failover' && t.lastStep) {
      const old = t.from === null ? null : w.node(t.from);
      const cand = t.candidate === null ? null : w.node(t.candidate);
      this.rows.enqueue({
        shard: s,
        task: t.task,
        kind: t.kind,
        step: t.lastStep.step,
        oldHost: hostOf(old),
        newHost: cand ? hostOf(cand) : null,
        info: t.lastStep.info,
        at: t.lastStep.at,
        errCode: t.lastStep.ok ? 0 : 1,
        errMsg: t.lastStep.ok ? null : t.lastStep.info,
      });
    }
    const last = s.last;
    if (last?.kind === 'failover') {
      const old = s.nodes.map((n) => w.node(n)).find((n) => n?.fence?.task === last.task) ?? null;
      const neu = last.primary === null ? null : w.node(last.primary);
      this.rows.enqueue({
        shard: s,
        task: last.task,
        kind: last.kind,
        step: 'end',
        oldHost: hostOf(old ?? neu),
        newHost: last.outcome === 'finished' ? hostOf(neu) : null,
        info: last.outcome === 'finished' ? `node ${last.primary} is the primary of shard ${s.id}` : last.reason,
        at: last.endedAt,
        errCode: last.code,
        errMsg: last.outcome === 'finished' ? null : last.reason,
      });
    }
  }
}
