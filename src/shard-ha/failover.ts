// Automatic failover of rbr shards, keyed by shard. When the world says the primary is dead (the probe
// observer concluded it with the replicas' corroboration), this leader's observer confirmed it, and the
// gate allows it (anti-flapping interval, no-switch window), the leader proposes failover.start and
// runs the step engine's failover (step-engine.ts: detect → freeze → elect → drain → fence → repoint →
// promote, each recorded before the next), then failover.finish, or failover.abort when a step cannot
// go on. A new leader resumes a running failover task after its last recorded step. What is left here
// is what only the reconciler knows: which shards, the gate, the start, and the rows a dead leader left.
import type { NodeView, ShardView } from '../actors/index.js';
import { failoverGate } from './decide/index.js';
import type { HaRuntime } from './ports.js';
import type { LeaderContext, Reconciler } from '../reconcile/host.js';
import type { FailoverRows } from './failover-rows.js';
import type { ProbeObserver } from './observer.js';
import type { NodePool } from './pool.js';
import { evidence } from './evidence.js';
import { propose } from './propose.js';
import type { HaSettings } from './settings.js';
import { addr as hostOf, ChangeError, HA_ERRORS, ShardChange, STEP_ORDER, type ChangePorts } from './step-engine.js';

/** The steps in order; a task's last recorded step says where a new leader continues. */
export const FAILOVER_ORDER = STEP_ORDER.failover;

export class FailoverReconciler implements Reconciler {
  readonly name = 'shard-failover';
  private readonly gateNote = new Map<number, string>();
  /** A gate that says "not before T" gets a rerun at T: no event marks a window's end or an interval's. */
  private readonly gateTimers = new Map<number, NodeJS.Timeout>();

  constructor(
    private readonly rt: HaRuntime,
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

  /** The engine's ports for one run of this reconciler. */
  private ports(ctx: LeaderContext): ChangePorts {
    return {
      world: this.rt.world,
      cfg: this.rt.cfg,
      pool: this.pool,
      s: this.s,
      propose: (cmd, why) => propose(this.rt, cmd, why, ctx),
      row: (r) => this.rows.enqueue(r),
      signal: ctx.signal,
      term: ctx.term,
      log: ctx.log,
    };
  }

  /** Runs (or resumes) the shard's failover task from the step after the last recorded one. */
  private async run(id: number, ctx: LeaderContext): Promise<void> {
    const world = this.rt.world;
    const s = world.shard(id)!;
    const t = s.task!;
    const old = t.from === null ? null : world.node(t.from);
    if (!old) {
      const text = 'the task names no old primary';
      await propose(
        this.rt,
        { kind: 'failover.abort', shard: id, task: t.task, code: HA_ERRORS.noSurvivors, reason: text, evidence: evidence(this.s.observer, text, { code: HA_ERRORS.noSurvivors }) },
        'failover aborted',
        ctx,
      );
      this.rt.metrics.failoverEnded('aborted', t.startedAt);
      return;
    }
    const change = new ShardChange(this.ports(ctx), {
      kind: 'failover',
      shard: id,
      task: t.task,
      old,
      candidate: t.candidate === null ? null : world.node(t.candidate),
      drainMs: this.s.waitAppliedMs,
    });
    const after = t.lastStep?.step ?? null;
    if (after !== null) ctx.log.warn({ shard: id, task: t.task, after, term: ctx.term }, 'resuming a failover task');
    try {
      await change.run({ after, recordEach: true });
    } catch (e) {
      if (!(e instanceof ChangeError) || ctx.signal.aborted) throw e;
      await change.abort(e.code ?? HA_ERRORS.noSurvivors, e.info, e.facts);
      this.rt.metrics.failoverEnded('aborted', t.startedAt);
      return;
    }
    await change.finish('automatic failover finished');
    ctx.log.warn({ shard: id, task: t.task, old: old.id, primary: change.candidate?.id }, 'automatic failover finished');
    this.rt.metrics.failoverEnded('finished', t.startedAt);
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
