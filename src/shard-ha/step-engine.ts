// The one step engine of shard HA: the sequence that moves an rbr shard's primary, used by the automatic
// failover (failover.ts) and by manual_switch (switchover.ts). The steps, their order per kind, what each
// does, their deadlines and what an aborted change undoes are defined here once.
//
//   failover:   detect → freeze → elect → drain → fence → repoint → promote
//   switchover:          elect → fence → drain → promote → repoint
//
// A failover starts from a dead primary: it freezes what the replicas receive (IO threads stopped), elects
// the most advanced survivor, lets it apply what it received, fences the old primary for good (SQL, or a
// kill by its machine's agent) and promotes the candidate while the others are re-pointed to it. A
// switchover is the same engine with a planned, graceful first step and a chosen target: the target was
// checked on the real nodes before the task was taken (elect), the live old primary is made read-only
// (fence: client sessions killed, semi-sync master side off), the target catches up with it (drain), is
// promoted, and the others follow it. The fence comes after the drain in a failover because a failover
// that aborts at the drain keeps the old node as the shard's primary, and a primary must not be killed
// into a replica; in a switchover the old primary is alive, and read-only first is what fixes the
// position the target must reach.
//
// Each step's effect is idempotent and checks the real world first, and each is recorded
// (failover.step and an rbr_consfailover row), so a new leader resumes after the last recorded step. A
// failover records every step before the next starts; a switchover records fence..repoint after them,
// so no Raft round trip lengthens the time the shard is read-only.
import type { Command, NodeView, World } from '../actors/index.js';
import { agentForMachine } from '../agent/for-machine.js';
import type { Config } from '../config/load.js';
import type { Json } from '../events/schema.js';
import type { FailoverStep } from '../events/vocab.js';
import type { Logger } from '../log/logger.js';
import { checkLeading, sleepWhileLeading } from '../reconcile/host.js';
import { probeNode } from '../storage-node/probe.js';
import { chooseCandidate, type Choice } from './decide/index.js';
import { fence, promote, repoint, stopIoThreads, StepError, waitApplied, type FenceResult, type StepResult } from './failover-steps.js';
import type { StepRow } from './failover-rows.js';
import type { NodePool } from './pool.js';
import { evidence } from './evidence.js';
import type { HaSettings } from './settings.js';

export type ChangeKind = 'failover' | 'switchover';

/** The order of the steps of each kind; a task's last recorded step says where a new leader continues. */
export const STEP_ORDER: Record<ChangeKind, readonly FailoverStep[]> = {
  failover: ['detect', 'freeze', 'elect', 'drain', 'fence', 'repoint', 'promote'],
  switchover: ['elect', 'fence', 'drain', 'promote', 'repoint'],
};

/** Deadlines of the steps' effects, ms (the drain's is a setting: failover_wait_applied_ms, switchover_catchup_ms). */
export const STEP_DEADLINE_MS = {
  /** Stopping a replica's IO thread (freeze). */
  stopIo: 5_000,
  /** The SQL fence of a dead primary: a hung one takes all of it, so it starts at freeze. */
  forcedFence: 2_000,
  /** How long the fence step lets that SQL fence run before the machine's agent kills the server. */
  fenceGrace: 300,
  /** The agent's kill of a dead primary's server. */
  agentKill: 1_500,
  /** The graceful fence of a live old primary (commits in flight end first). */
  gracefulFence: 8_000,
  promote: 10_000,
  repoint: { failover: 10_000, switchover: 15_000 },
} as const;

/** The original's error numbers (error_code.cc, 70000 + n) for a change that cannot go on. */
export const HA_ERRORS = {
  busyShard: 70010, // Consfailover Timeout: another failover/switchover task holds the shard
  applyTimeout: 70011, // Consfailover ApplyLog Timeout
  noSwitchWindow: 70014, // Manual Noswitch Node Exist
  connect: 70015, // Async Mysql Connect Poll Error
  busyConnections: 70016, // DB In Max Connection Status
  targetUnalive: 70019, // Assign Host Unalive
  notMaxGtid: 70020, // Assign Host No Maximum GTIDS
  targetConnect: 70021, // Assign Host Connect Mysql Error
  noSurvivors: 70022,
  notSource: 70033, // Master hostaddr state is not source
  notReplica: 70034, // Assign hostaddr state is not replica
} as const;

/**
 * A change that cannot go on: the original's number (null: a broken invariant, which the caller reports
 * with its own internal-error number), why, and facts for the alarm.
 */
export class ChangeError extends Error {
  override readonly name = 'ChangeError';
  constructor(
    readonly code: number | null,
    readonly info: string,
    readonly facts: Record<string, string> = {},
    opts?: { cause?: unknown },
  ) {
    super(info, opts);
  }
}

/** What the engine needs from whoever runs it (the failover reconciler, or the manual_switch job). */
export interface ChangePorts {
  world: World;
  cfg: Config;
  pool: NodePool;
  s: HaSettings;
  /** Proposes under the leader's term; false when the world already was so. */
  propose(cmd: Command, why: string): Promise<boolean>;
  /** Queues an rbr_consfailover row. */
  row(r: StepRow): void;
  signal: AbortSignal;
  /** The leader's term: the fencing token of the events that end the task. */
  term: number;
  log: Logger;
}

export interface ChangePlan {
  kind: ChangeKind;
  shard: number;
  task: number;
  old: NodeView;
  /** The candidate: a switchover's chosen target, a resumed failover's elected node. */
  candidate: NodeView | null;
  /** A switchover target's backlog when it was checked (the elect step's record). */
  backlog?: number;
  /** How long the candidate may take to apply what it lacks, ms. */
  drainMs: number;
  /** Accounts whose sessions survive the old primary's fence. */
  keepUsers?: string[];
}

/** One step's outcome: recorded as failover.step (and a row). */
export interface StepOutcome {
  ok: boolean;
  info: string;
  ms: number;
  candidate?: number;
}

export const addr = (n: Pick<NodeView, 'hostaddr' | 'port'> | null | undefined): string => (n ? `${n.hostaddr}_${n.port}` : 'unknown');
const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const bounded = (s: string): string => (s.length > 1024 ? `${s.slice(0, 1021)}...` : s);

/** `p`'s value if it settles within `ms`, else null (a rejection is passed on). */
function within<T>(p: Promise<T>, ms: number, signal: AbortSignal): Promise<T | null> {
  return Promise.race([p, sleepWhileLeading(ms, signal).then(() => null)]);
}

/** Starts `p` now; a rejection is kept for whoever awaits it, and never unhandled meanwhile. */
function early<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** The SQL fence, and when SQL could not reach the old primary, what its machine's agent did. */
interface OldPrimaryFence extends FenceResult {
  /** The agent killed the server (kill -9; it restarts read-only after the agent's restart delay). */
  processKilled: boolean;
  agentNote: string;
}

/** One run of a shard's failover or switchover task. */
export class ShardChange {
  candidate: NodeView | null;
  /** What the candidate must have executed before it is promoted (elect's target, or the fenced primary's position). */
  position: string | null = null;
  /**
   * Effects started ahead of their record, to save time: a dead primary's SQL fence runs while the
   * replicas freeze and the candidate drains, and when repoint comes before promote the candidate is
   * promoted while the others are re-pointed (a replica that connects before or after the promotion
   * registers as a semi-sync client either way). Records stay in order; a new leader redoes an
   * unrecorded effect (each is idempotent).
   */
  private fencing?: Promise<FenceResult>;
  private promoting?: Promise<StepResult>;

  constructor(
    private readonly p: ChangePorts,
    readonly plan: ChangePlan,
  ) {
    this.candidate = plan.candidate;
  }

  private get sig(): AbortSignal {
    return this.p.signal;
  }

  /**
   * Runs the steps of the plan's kind after `after` (null: from the first) up to and including `until`.
   * `recordEach`: each step is recorded before the next starts (a failover); otherwise the records
   * follow the last effect. A failover step that cannot go on records itself as failed and throws
   * ChangeError; the caller aborts the task (abort()) or rolls back (rollbackSwitchover()).
   */
  async run(o: { after: FailoverStep | null; until?: FailoverStep; recordEach: boolean }): Promise<Map<FailoverStep, StepOutcome>> {
    const order = STEP_ORDER[this.plan.kind];
    const from = o.after === null ? 0 : order.indexOf(o.after) + 1;
    const to = o.until === undefined ? order.length : order.indexOf(o.until) + 1;
    const done = new Map<FailoverStep, StepOutcome>();
    for (const step of order.slice(from, to)) {
      if (this.plan.kind === 'failover' && this.p.s.stepDelayMs > 0) await sleepWhileLeading(this.p.s.stepDelayMs, this.sig);
      checkLeading(this.sig);
      const t0 = performance.now();
      let out: Omit<StepOutcome, 'ms'>;
      try {
        out = await this.effect(step);
      } catch (e) {
        const err = this.asChangeError(step, e);
        if (o.recordEach && err instanceof ChangeError) await this.record(step, { ok: false, info: err.info, ms: 0 });
        throw err;
      }
      const outcome = { ...out, ms: Math.round(performance.now() - t0) };
      done.set(step, outcome);
      if (o.recordEach) await this.record(step, outcome);
    }
    if (!o.recordEach) for (const [step, outcome] of done) await this.record(step, outcome);
    return done;
  }

  /**
   * Errors of a step as the change's outcome. A failover retries what it can (the reconciler host
   * retries a thrown error) and aborts only on what retrying cannot mend; a switchover that meets a
   * broken node stops cleanly rather than holding the shard's task (which also holds off the
   * automatic failover) while it retries.
   */
  private asChangeError(step: FailoverStep, e: unknown): unknown {
    if (this.sig.aborted || e instanceof ChangeError) return e;
    if (e instanceof StepError && step === 'drain' && (e.code === 'timeout' || (this.plan.kind === 'failover' && e.code === 'sql-thread-stopped'))) {
      const cand = this.candidate;
      const info =
        this.plan.kind === 'switchover' && e.code === 'timeout'
          ? `target ${this.p.pool.node(cand!).address} did not catch up with ${this.p.pool.node(this.plan.old).address} within ${this.plan.drainMs} ms: ${e.message}`
          : e.message;
      return new ChangeError(HA_ERRORS.applyTimeout, info, {}, { cause: e });
    }
    if (this.plan.kind === 'failover') return e;
    const code = e instanceof StepError && e.code === 'errant' ? HA_ERRORS.notMaxGtid : (SWITCHOVER_STEP_CODE[step] ?? HA_ERRORS.targetUnalive);
    const what = `${step} ${step === 'fence' ? this.p.pool.node(this.plan.old).address : this.candidate ? this.p.pool.node(this.candidate).address : ''}`;
    return new ChangeError(code, `${what}: ${msg(e)}`, {}, { cause: e });
  }

  /** What one step does. */
  private async effect(step: FailoverStep): Promise<Omit<StepOutcome, 'ms'>> {
    const { kind, old } = this.plan;
    switch (step) {
      case 'detect': {
        const p = this.p.world.node(old.id);
        return { ok: true, info: p?.evidence?.summary ?? `primary ${old.id} is dead` };
      }
      case 'freeze':
        return this.freeze();
      case 'elect':
        return kind === 'failover' ? this.elect() : { ok: true, info: `${addr(this.need())} passed the checks, ${this.plan.backlog ?? 0} transactions behind`, candidate: this.need().id };
      case 'drain':
        return this.drain();
      case 'fence':
        return kind === 'failover' ? this.fenceDead() : this.fenceLive();
      case 'repoint':
        return this.repointOthers();
      case 'promote': {
        const x = await (this.promoting ?? this.promoteCandidate());
        if (kind === 'failover') return { ok: true, info: x.detail };
        return { ok: true, info: `${this.p.pool.node(this.need()).address}: ${x.detail} (${x.ms} ms)`, candidate: this.need().id };
      }
      default:
        throw new Error(`unknown step ${String(step)} of ${kind} task ${this.plan.task}`);
    }
  }

  /** Nodes that may take part: every node of the shard but the old primary and nodes needing a rebuild. */
  private survivors(): NodeView[] {
    const w = this.p.world;
    return (w.shard(this.plan.shard)?.nodes ?? [])
      .map((n) => w.node(n))
      .filter((n): n is NodeView => n !== null && n.id !== this.plan.old.id && n.repair === 'ok' && n.status !== 'inactive');
  }

  private need(): NodeView {
    if (!this.candidate) throw new Error(`${this.plan.kind} task ${this.plan.task} has no elected candidate`);
    return this.candidate;
  }

  private startForcedFence(): Promise<FenceResult> {
    return (this.fencing ??= early(fence(this.p.pool.node(this.plan.old), this.sig, { deadlineMs: STEP_DEADLINE_MS.forcedFence })));
  }

  /**
   * A primary whose machine saw its process stopped (the dead verdict's evidence: hung, not slow) is
   * killed by that machine's agent before the replicas are frozen. STOP SLAVE IO_THREAD on a replica
   * reading from a hung server waits for MariaDB's second kill signal (2 s), or the connect timeout when
   * the IO thread is reconnecting; once the server's sockets are closed it returns at once. The kill
   * does not mark the next start as a replica's (`asReplica: false`): a failover that aborts keeps this
   * node as the primary, and a primary's restart must keep every commit a replica may hold. The fence
   * step's kill marks it (a no-op kill then). Keepalive on: it restarts read-only after the agent's
   * restart delay, as after the fence.
   */
  private async killHung(): Promise<string> {
    const old = this.plan.old;
    if (this.p.world.node(old.id)?.evidence?.facts.process !== 'stopped') return '';
    const agent = agentForMachine(this.p.world, this.p.cfg, old.hostaddr, { kill_mysql: STEP_DEADLINE_MS.agentKill });
    if (agent === null) return '';
    try {
      const a = await agent.killMysql({ port: old.port, keepalive: true, asReplica: false });
      return a.status === 'success' ? 'hung old primary killed by its node agent first; ' : `the node agent refused to kill the hung old primary: ${String(a.info)}; `;
    } catch (e) {
      checkLeading(this.sig);
      return `node agent at ${old.hostaddr} unreachable: ${msg(e)}; `;
    }
  }

  /** Failover: nothing more reaches the replicas from a half-alive primary. */
  private async freeze(): Promise<Omit<StepOutcome, 'ms'>> {
    const killed = await this.killHung();
    // Fencing the old primary needs nothing from the other steps; a hung one takes its whole deadline.
    void this.startForcedFence();
    const notes = await Promise.all(
      this.survivors().map((n) =>
        stopIoThreads(this.p.pool.node(n), this.sig, { deadlineMs: STEP_DEADLINE_MS.stopIo }).then(
          (x) => ({ ok: true, text: `${n.id}: ${x.detail}` }),
          (e: unknown) => {
            checkLeading(this.sig);
            return { ok: false, text: `${n.id}: ${msg(e)}` };
          },
        ),
      ),
    );
    return { ok: notes.every((x) => x.ok), info: killed + notes.map((x) => x.text).join('; ') };
  }

  private async choose(): Promise<Choice> {
    const nodes = this.survivors();
    const deadlineMs = 2 * this.p.s.probeTimeoutMs;
    const probes = await Promise.all(nodes.map((n) => probeNode(this.p.pool.node(n), { deadlineMs, signal: this.sig })));
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
      { gtid: this.p.pool.node(this.plan.old).flavor.gtid, ackers: nodes.filter((n) => n.syncState === 'fsync').length, acksPerCommit: 1 },
    );
  }

  /** Failover: the most advanced survivor; none (divergence, nobody left) aborts with no promotion. */
  private async elect(): Promise<Omit<StepOutcome, 'ms'>> {
    const choice = await this.choose();
    if (choice.kind !== 'candidate') {
      const code = choice.kind === 'divergence' || choice.kind === 'not-promotable' ? HA_ERRORS.notMaxGtid : HA_ERRORS.noSurvivors;
      const ranking = 'ranking' in choice ? choice.ranking.map((x) => `${x.node}=${x.position || '(empty)'}${x.containsAll ? ' (holds all)' : ''}`).join('; ') : '';
      this.p.log.error({ shard: this.plan.shard, task: this.plan.task, alarm: choice.kind, ranking }, `failover cannot promote anyone: ${choice.message}`);
      throw new ChangeError(code, `${choice.kind}: ${choice.message}`, { ranking, alarm: choice.kind });
    }
    this.candidate = this.p.world.node(Number(choice.node));
    this.position = choice.target;
    const ranking = choice.ranking.map((x) => `${x.node}=${x.position || '(empty)'}`).join('; ');
    return { ok: true, info: `candidate ${choice.node}, target ${choice.target || '(empty)'}; ${ranking}`, candidate: this.need().id };
  }

  /** The candidate applies what it must hold: the elected target (failover) or the fenced primary's position. */
  private async drain(): Promise<Omit<StepOutcome, 'ms'>> {
    const cand = this.need();
    if (this.position === null && this.plan.kind === 'failover') {
      // Resumed after a leader change: the IO threads are stopped, so the positions are stable.
      const choice = await this.choose();
      const mine = 'ranking' in choice ? choice.ranking.find((x) => x.node === String(cand.id)) : undefined;
      if (!mine?.containsAll) throw new ChangeError(HA_ERRORS.notMaxGtid, `the elected candidate ${cand.id} no longer holds every survivor's transactions`);
      this.position = mine.position;
    }
    if (this.position === null) throw new Error(`${this.plan.kind} task ${this.plan.task}: drain before the position is known`);
    if (this.plan.kind === 'failover') void this.startForcedFence();
    const x = await waitApplied(this.p.pool.node(cand), this.position, this.plan.drainMs, this.sig);
    if (this.plan.kind === 'failover') return { ok: true, info: x.detail };
    return { ok: true, info: `${this.p.pool.node(cand).address} executed ${this.position || '(nothing)'} in ${x.ms} ms`, candidate: cand.id };
  }

  /**
   * Switchover: the live old primary read-only (client sessions killed, semi-sync master side off); what
   * it executed then is the position the target must reach.
   */
  private async fenceLive(): Promise<Omit<StepOutcome, 'ms'>> {
    const old = this.p.pool.node(this.plan.old);
    const keepUsers = this.plan.keepUsers ?? [];
    const f = await fence(old, this.sig, { keepUsers, deadlineMs: STEP_DEADLINE_MS.gracefulFence });
    if (!f.reachable) throw new ChangeError(HA_ERRORS.connect, `old primary ${old.address} became unreachable: ${f.detail}`);
    const st = await old.run((sql) => old.flavor.readState(sql), { signal: this.sig, deadlineMs: 3_000 });
    if (!st.readOnly) throw new ChangeError(null, `old primary ${old.address} is writable again: not switching`);
    this.position = st.gtid.executed;
    return { ok: true, info: `${old.address}: ${f.detail} (${f.ms} ms)` };
  }

  /**
   * Failover: fences the old primary over SQL (started early, at freeze) or, when SQL cannot reach it,
   * through its machine's node agent, which kills the server. A hung (SIGSTOPped) primary would
   * otherwise wake up writable, and the commit it hung on, waiting for a semi-sync ACK, would complete
   * locally (errant: a rebuild). Killed, it restarts read-only after the agent's restart delay with
   * init_rpl_role=SLAVE, so crash recovery drops that unacknowledged tail, and the rejoin reconciler
   * re-points it. No agent (the host is down, or the machine is not registered): fenced by
   * unreachability. Runs with a candidate elected and drained only: a failover that aborts earlier keeps
   * this node as the shard's primary, and a primary must not restart as a replica.
   */
  private async fenceDead(): Promise<Omit<StepOutcome, 'ms'>> {
    const old = this.plan.old;
    const f = await this.forcedFence();
    const method = f.reachable ? 'super_read_only' : f.processKilled ? 'kill' : 'host_unreachable';
    await this.p.propose(
      {
        kind: 'node.fence',
        node: old.id,
        method,
        task: this.plan.task,
        evidence: evidence(this.p.s.observer, `old primary ${old.id} fenced (${method}): ${f.detail}${f.agentNote}`, { reachable: f.reachable, killed: f.killed }),
      },
      'failover: fence the old primary',
    );
    return { ok: true, info: `${method}: ${f.detail}${f.agentNote}` };
  }

  private async forcedFence(): Promise<OldPrimaryFence> {
    const old = this.plan.old;
    const sig = this.sig;
    const sqlFence = this.startForcedFence();
    // A hung server makes the SQL attempt use its whole deadline; the dead verdict already says the
    // manager could not reach it, so after a short grace the agent's kill goes ahead (it also ends
    // the SQL attempt: the server's sockets close).
    const sqlFirst = await within(sqlFence, STEP_DEADLINE_MS.fenceGrace, sig);
    if (sqlFirst?.reachable === true) return { ...sqlFirst, processKilled: false, agentNote: '' };
    // Bounded: while it waits, the promotion waits (a host that is down costs this much).
    const agent = agentForMachine(this.p.world, this.p.cfg, old.hostaddr, { kill_mysql: STEP_DEADLINE_MS.agentKill });
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
    const sqlNow = await within(sqlFence, STEP_DEADLINE_MS.fenceGrace, sig);
    if (sqlNow?.reachable === true) return { ...sqlNow, processKilled: false, agentNote: `${agentNote}; it had answered over SQL and was fenced there first` };
    const unreachable: FenceResult = { step: 'fence', node: this.p.pool.node(old).id, changed: true, detail: 'not reachable over SQL', ms: 0, reachable: false, killed: 0 };
    return { ...(sqlNow ?? unreachable), processKilled: true, agentNote };
  }

  private promoteCandidate(): Promise<StepResult> {
    const o = { deadlineMs: STEP_DEADLINE_MS.promote, ...(this.position !== null ? { mustContain: this.position } : {}) };
    return promote(this.p.pool.node(this.need()), this.sig, o);
  }

  /**
   * The others follow the candidate, all at once. A failover re-points the survivors (the old primary
   * comes back through the rejoin reconciler); a switchover also the old primary, which is alive. A
   * node that cannot follow is reported, not a failure: the HA loops repair it.
   */
  private async repointOthers(): Promise<Omit<StepOutcome, 'ms'> & { failed: number }> {
    const cand = this.need();
    const order = STEP_ORDER[this.plan.kind];
    if (order.indexOf('promote') > order.indexOf('repoint')) this.promoting ??= early(this.promoteCandidate());
    const w = this.p.world;
    const others =
      this.plan.kind === 'failover'
        ? this.survivors().filter((n) => n.id !== cand.id)
        : (w.shard(this.plan.shard)?.nodes ?? []).filter((id) => id !== cand.id).map((id) => w.node(id)).filter((n): n is NodeView => n !== null);
    const deadlineMs = STEP_DEADLINE_MS.repoint[this.plan.kind];
    const np = this.p.pool.node(cand);
    const notes = await Promise.all(
      others.map(async (n) => {
        if (n.id !== this.plan.old.id && n.repair !== 'ok') return { ok: true, text: `${addr(n)}: skipped (${n.repair})` };
        try {
          const x = await repoint(this.p.pool.node(n), np, this.p.s.repl, this.sig, { deadlineMs });
          return { ok: true, text: `${addr(n)}: ${x.detail}` };
        } catch (e) {
          checkLeading(this.sig);
          this.p.log.warn({ node: n.id, err: e }, 'could not re-point a node to the new primary');
          return { ok: false, text: `failed: ${addr(n)}: ${msg(e)}` };
        }
      }),
    );
    const failed = notes.filter((x) => !x.ok).length;
    return { ok: failed === 0, info: notes.map((x) => x.text).join('; ') || 'no other replica', failed };
  }

  /** Records one step: failover.step, then its rbr_consfailover row. */
  private async record(step: FailoverStep, o: StepOutcome): Promise<void> {
    const { shard, task, kind } = this.plan;
    const text = bounded(o.info);
    const t0 = performance.now();
    await this.p.propose(
      { kind: 'failover.step', shard, task, step, ok: o.ok, info: text, ...(o.candidate !== undefined ? { candidate: o.candidate } : {}) },
      `${kind} step ${step}`,
    );
    this.p.log.info({ shard, task, step, ok: o.ok, info: text, propose_ms: Math.round(performance.now() - t0) }, `${kind} step ${step}`);
    this.endRow(step, o.ok ? 0 : 1, o.info, this.candidate);
  }

  /** An rbr_consfailover row of this task: a step's, or the outcome's ("end"). */
  endRow(step: FailoverStep | 'end', errCode: number, info: string, newPrimary: NodeView | null): void {
    const s = this.p.world.shard(this.plan.shard);
    if (s === null) return;
    this.p.row({
      shard: s,
      task: this.plan.task,
      kind: this.plan.kind,
      step,
      oldHost: addr(this.plan.old),
      newHost: newPrimary ? addr(newPrimary) : null,
      info,
      at: Date.now(),
      errCode,
      errMsg: errCode === 0 ? null : info,
    });
  }

  /** The change is done: the candidate is recorded as the shard's primary (failover.finish). */
  async finish(why: string, note = ''): Promise<void> {
    const cand = this.need();
    const { shard, task } = this.plan;
    await this.p.propose({ kind: 'failover.finish', shard, task, primary: cand.id, term: this.p.term }, why);
    this.endRow('end', 0, `node ${cand.id} is the primary of shard ${shard}${note}`, cand);
  }

  /**
   * Ends the task with nothing promoted (failover.abort). A failover then lets replicas it froze follow
   * the old primary again (harmless while it is dead; they resume on their own if it comes back).
   */
  async abort(code: number, reason: string, facts: Record<string, string> = {}): Promise<void> {
    const { shard, task, kind } = this.plan;
    const text = bounded(reason);
    const ev = kind === 'failover' ? { evidence: evidence(this.p.s.observer, text, { code, ...facts }) } : {};
    await this.p.propose({ kind: 'failover.abort', shard, task, code, reason: text, ...ev }, `${kind} aborted`);
    if (kind === 'failover') {
      this.p.log.error({ shard, task, code, alarm: 'failover-aborted' }, `failover aborted, nothing promoted: ${text}`);
      await this.thaw();
    }
    this.endRow('end', code, text, null);
  }

  /** Replicas frozen by this task start their IO threads again. Best effort: an operator takes it from here. */
  private async thaw(): Promise<void> {
    const w = this.p.world;
    const old = this.plan.old;
    const address = `${old.hostaddr}:${old.port}`;
    const nodes = (w.shard(this.plan.shard)?.nodes ?? []).map((id) => w.node(id)).filter((n): n is NodeView => n !== null && n.id !== old.id);
    await Promise.all(
      nodes.map(async (n) => {
        const sn = this.p.pool.node(n);
        try {
          const restarted = await sn.run(
            async (sql) => {
              const st = await sn.flavor.readState(sql);
              if (st.replication?.source !== address || st.replication.io !== 'stopped') return false;
              await sn.flavor.startReplication(sql);
              return true;
            },
            { signal: this.sig, deadlineMs: STEP_DEADLINE_MS.stopIo },
          );
          if (restarted) this.p.log.info({ node: n.id }, `replication restarted after the aborted ${this.plan.kind}`);
        } catch (e) {
          this.p.log.warn({ err: e, node: n.id }, `could not restart replication after the aborted ${this.plan.kind}`);
        }
      }),
    );
  }

  /**
   * A switchover's rollback after a failure. When the target cannot have taken a write (still
   * read-only), the old primary is made writable again and the task is aborted: the shard is as
   * before. When the target was made writable (the failure came after the promotion), rolling back
   * would make two writable primaries: the others follow it and the switch is recorded instead. The
   * task is always released, so an automatic failover can run. `effectsStarted`: the fence may have run.
   */
  async rollbackSwitchover(err: { code: number; info: string }, effectsStarted: boolean): Promise<'rolled-back' | 'recorded'> {
    const { old, shard, task } = this.plan;
    const notes: string[] = [];
    const target = this.candidate;
    const pool = this.p.pool;
    // Writable, or unknown (unreachable): the target may have taken writes; never reopen the old one.
    let mayHaveWritten = false;
    if (target !== null && effectsStarted) {
      const tp = await probeNode(pool.node(target), { signal: this.sig, deadlineMs: 3_000 });
      mayHaveWritten = tp.status !== 'ok' || !tp.state!.readOnly;
      if (tp.status === 'ok' && !tp.state!.readOnly) {
        // Forward, not back.
        const rep = await this.repointOthers();
        this.sig.throwIfAborted();
        await this.finish(`${this.plan.kind}: recorded after a failure past the promotion`, ` (after: ${err.info})`);
        this.p.log.warn({ shard, target: target.id, repoint_failed: rep.failed }, 'switchover failed after the promotion: the target is recorded as the primary');
        return 'recorded';
      }
      if (tp.status === 'ok' && tp.state!.replication === null) {
        // Read-only, so it took no write, but the promotion had begun (replication reset): it follows
        // the old primary again before that one reopens.
        try {
          await repoint(pool.node(target), pool.node(old), this.p.s.repl, this.sig);
          notes.push(`target ${pool.node(target).address} follows the old primary again`);
        } catch (e) {
          if (this.sig.aborted) throw e;
          notes.push(`target ${pool.node(target).address} could not follow the old primary again: ${msg(e)}`);
        }
      }
    }
    if (effectsStarted && !mayHaveWritten) {
      const o = pool.node(old);
      try {
        const st = await o.run((sql) => o.flavor.readState(sql), { signal: this.sig, deadlineMs: 3_000 });
        if (st.replication !== null) notes.push(`old primary ${o.address} replicates from ${st.replication.source}: left read-only`);
        else {
          const u = await promote(o, this.sig, { deadlineMs: 5_000 });
          notes.push(`old primary ${o.address} writable again (${u.detail})`);
        }
      } catch (e) {
        if (this.sig.aborted) throw e;
        notes.push(`old primary ${o.address} could not be made writable again: ${msg(e)}`);
      }
    } else if (mayHaveWritten) notes.push('the target could not be reached, it may have been promoted: the old primary stays read-only');
    await this.abort(err.code, [err.info, ...notes].join('; ').slice(0, 1000));
    this.p.log.warn({ shard, task, code: err.code, notes }, 'switchover rolled back');
    return 'rolled-back';
  }
}

/** The number a switchover fails with when a step meets a broken node (the original's, per step). */
const SWITCHOVER_STEP_CODE: Partial<Record<FailoverStep, number>> = {
  fence: HA_ERRORS.connect,
  drain: HA_ERRORS.targetUnalive,
  promote: HA_ERRORS.targetConnect,
  repoint: HA_ERRORS.targetConnect,
};

/** A step map as JSON figures (the manual_switch job's answer). */
export function stepFigures(done: Map<FailoverStep, StepOutcome>): { [k: string]: Json } {
  const out: { [k: string]: Json } = {};
  for (const [step, o] of done) out[`${step}_ms`] = o.ms;
  return out;
}
