// The leader's probe observer: every probe_interval_ms it probes every storage node of every shard
// (and the metadata shard's nodes), assesses each primary with its replicas' corroboration, and
// proposes conclusions only when one changes (node.set_health with the evidence): the log does not
// grow per probe. A reachable primary that turned read-only, with no other node claiming the role,
// is made writable again; it is never failed over for that.
import type { NodeView, ShardView } from '../actors/index.js';
import type { Health } from '../events/vocab.js';
import { assessPrimary, trackDead, type DeadTrack, type PrimaryAssessment, type ProcessState } from './decide/index.js';
import { agentForMachine } from '../agent/for-machine.js';
import type { HaRuntime } from './ports.js';
import { checkLeading, sleepWhileLeading, type LeaderContext, type Reconciler } from '../reconcile/host.js';
import { promote } from './failover-steps.js';
import type { ProbeResult } from '../storage-node/node-state.js';
import { classifyError } from '../storage-node/probe.js';
import { metaConnectOptions, probeMetaNode } from '../metadata/connect.js';
import type { NodePool } from './pool.js';
import { liveNode, type LiveMetaNode, type LiveNode, type LiveProbes } from './live.js';
import { evidence } from './evidence.js';
import { propose } from './propose.js';
import type { HaSettings } from './settings.js';

/** Probe period while a primary does not answer: confirm (or clear) its death quickly. */
const FAST_REPROBE_MS = 100;
/**
 * Probe deadline of a primary that did not answer the last round: it already had a full
 * probe_timeout_ms, and a short one keeps the fast rounds fast (the replicas' silence is measured per
 * round). Not answering never decides alone: the replicas' corroboration does.
 */
const SUSPECT_PROBE_MS = 300;
/** How long the primary's node agent may take to say whether the server process is stopped. */
const AGENT_PROCESS_MS = 500;

/** The health a probe concludes for a node that is not its shard's primary. */
function replicaHealth(p: ProbeResult): Health {
  switch (p.status) {
    case 'ok':
    case 'misconfigured':
      return 'alive';
    case 'alive-busy':
    case 'alive-error':
      return 'busy';
    case 'unreachable':
      return 'unreachable';
  }
}

/** The primary's health from the assessment; "dead" only when corroborated long enough. */
function primaryHealth(a: PrimaryAssessment, confirmedDead: boolean): Health {
  switch (a.verdict) {
    case 'dead':
      return confirmedDead ? 'dead' : 'unreachable';
    case 'unreachable-but-replicas-see-it':
    case 'unreachable-unconfirmed':
      return 'unreachable';
    case 'busy':
      return 'busy';
    case 'healthy':
    case 'read-only-primary':
    case 'misconfigured':
      return 'alive';
  }
}

function assessmentFacts(a: PrimaryAssessment): Record<string, string | number | null> {
  const f: Record<string, string | number | null> = {
    verdict: a.verdict,
    probe: a.evidence.primary.status,
    error: a.evidence.primary.error,
    confirmations: a.evidence.confirmations,
    contradictions: a.evidence.contradictions,
    required: a.evidence.required,
  };
  if (a.evidence.process !== null) f.process = a.evidence.process;
  for (const r of a.evidence.replicas) f[`replica_${r.node}`] = `${r.view}: ${r.detail}`;
  if (a.warnings.length > 0) f.warnings = a.warnings.join('; ');
  return f;
}

export class ProbeObserver implements Reconciler {
  readonly name = 'shard-probe';
  /** Dead-verdict runs by "shard/primary": a new primary starts with a clean record. */
  private readonly dead = new Map<string, DeadTrack | null>();
  private readonly lastVerdict = new Map<number, string>();
  private readonly metaStatus = new Map<string, string>();
  /** Shards whose primary looks dead but is not confirmed yet: probed again without waiting a full interval. */
  private readonly suspects = new Set<number>();
  /** When this leadership's probes last confirmed a shard's primary dead, by "shard/primary". */
  private readonly confirmed = new Map<string, number>();
  /** Rounds completed in this leadership (status output, tests). */
  rounds = 0;
  /** The latest probe figures of this leadership (samples: never logged, see live.ts). */
  private readonly liveNodes = new Map<number, LiveNode>();
  private readonly liveMeta = new Map<string, LiveMetaNode>();
  /** The term of the running leadership; null while the observer does not run. */
  private runningTerm: number | null = null;

  constructor(
    private readonly rt: HaRuntime,
    private readonly pool: NodePool,
    private readonly s: HaSettings,
  ) {}

  keys(): string[] {
    return ['all'];
  }

  /** When this leader last confirmed the primary of `shard` dead (null: not now). */
  confirmedDeadAt(shard: number, primary: number): number | null {
    return this.confirmed.get(`${shard}/${primary}`) ?? null;
  }

  /** The latest probe of every node, while this member leads and its observer runs; else null. */
  live(): LiveProbes | null {
    if (this.runningTerm === null) return null;
    return {
      observer: this.s.observer,
      term: this.runningTerm,
      intervalMs: this.s.probeIntervalMs,
      rounds: this.rounds,
      nodes: [...this.liveNodes.values()].sort((a, b) => a.node - b.node),
      meta: [...this.liveMeta.values()],
    };
  }

  affected(): string[] {
    // The loop runs for the whole leadership and reads the world each round.
    return [];
  }

  async reconcile(_key: string, ctx: LeaderContext): Promise<void> {
    this.dead.clear();
    this.lastVerdict.clear();
    this.suspects.clear();
    this.confirmed.clear();
    this.rounds = 0;
    this.liveNodes.clear();
    this.liveMeta.clear();
    this.runningTerm = ctx.term;
    ctx.log.info({ interval_ms: this.s.probeIntervalMs, timeout_ms: this.s.probeTimeoutMs }, 'probe observer running');
    while (!ctx.signal.aborted) {
      const t0 = performance.now();
      const world = this.rt.world;
      const shards = world
        .ids('shard')
        .map((id) => world.shard(id))
        .filter((x): x is ShardView => x !== null && x.status === 'inuse');
      const live = new Set<number>();
      for (const sh of shards) for (const n of sh.nodes) live.add(n);
      this.pool.retain(live);
      for (const id of this.liveNodes.keys()) if (!live.has(id)) this.liveNodes.delete(id);
      await Promise.all([
        ...shards.map((sh) =>
          this.shardRound(sh, ctx).catch((e: unknown) => {
            if (!ctx.signal.aborted) ctx.log.warn({ err: e, shard: sh.id }, 'probe round of a shard failed');
          }),
        ),
        this.metaRound(ctx),
      ]);
      this.rounds++;
      const period = this.suspects.size > 0 ? Math.min(this.s.probeIntervalMs, FAST_REPROBE_MS) : this.s.probeIntervalMs;
      await sleepWhileLeading(period - (performance.now() - t0), ctx.signal);
    }
    this.runningTerm = null;
    this.liveNodes.clear();
    this.liveMeta.clear();
    this.metaStatus.clear();
    // Leadership is over: the other HA reconcilers were aborted too; a new leadership re-opens pools.
    await this.pool.close();
  }

  private async shardRound(sh: ShardView, ctx: LeaderContext): Promise<void> {
    const world = this.rt.world;
    const nodes = sh.nodes.map((id) => world.node(id)).filter((n): n is NodeView => n !== null && n.status !== 'inactive');
    if (nodes.length === 0) return;
    const probes = new Map<number, ProbeResult>();
    const suspect = this.suspects.has(sh.id);
    await Promise.all(
      nodes.map(async (n) => {
        const short = suspect && n.id === sh.primary ? Math.min(SUSPECT_PROBE_MS, this.s.probeTimeoutMs) : undefined;
        probes.set(n.id, await this.pool.prober(n).probe(short));
      }),
    );
    checkLeading(ctx.signal);
    // The world may have moved while we probed (a failover finished): conclude on the current one.
    const now = world.shard(sh.id);
    if (now === null) return;
    const primary = now.primary;
    const primaryExecuted = primary === null ? null : (probes.get(primary)?.state?.gtid.executed ?? null);
    for (const [id, p] of probes) {
      this.liveNodes.set(id, liveNode(sh.id, id, p, id === primary ? null : primaryExecuted));
      this.rt.metrics.probed(p.status, p.totalMs);
    }
    for (const n of nodes) {
      const p = probes.get(n.id)!;
      if (n.id === primary) continue;
      const cur = world.node(n.id);
      if (!cur) continue;
      const h = replicaHealth(p);
      // A node concluded dead stays so while it does not answer.
      if (h === cur.health || (h === 'unreachable' && cur.health === 'dead')) continue;
      const summary = p.status === 'ok' ? `node ${n.id} answers` : `node ${n.id} probe ${p.status}: ${p.error?.message ?? ''}`;
      await propose(
        this.rt,
        { kind: 'node.set_health', node: n.id, health: h, evidence: evidence(this.s.observer, summary, { probe: p.status, error: p.error?.code ?? null, ms: p.totalMs }) },
        'probe observer',
        ctx,
      );
    }
    if (primary === null) return;
    const pp = probes.get(primary);
    const pv = world.node(primary);
    if (!pp || !pv) return;
    const followers = nodes.filter((n) => n.id !== primary && n.repair !== 'needs_rebuild');
    let replicas = followers.map((n) => probes.get(n.id)!);
    const process = pp.status === 'unreachable' ? await this.processState(pv, ctx) : undefined;
    if (process === 'stopped' || process === 'gone') {
      // The replicas were probed when the primary's probe began, a probe deadline ago: ask them again,
      // so their silence is measured up to now (a stopped process sends nothing in between).
      replicas = await Promise.all(followers.map((n) => this.pool.prober(n).probe()));
      checkLeading(ctx.signal);
    }
    const a = assessPrimary(pp, replicas, { ...(process ? { process } : {}) });
    const trackKey = `${sh.id}/${primary}`;
    const d = trackDead(this.dead.get(trackKey) ?? null, a, Date.now(), { minSamples: this.s.deadSamples });
    this.dead.set(trackKey, d.track);
    // Any primary that does not answer is probed again soon: its replicas' silence (or the agent's
    // word) is what confirms it dead, and waiting a full interval per sample is what made hangs slow.
    if (pp.status === 'unreachable' && !d.confirmed) this.suspects.add(sh.id);
    else this.suspects.delete(sh.id);
    if (d.confirmed) {
      if (!this.confirmed.has(trackKey) && d.track !== null) this.rt.metrics.deadConfirmed(d.track.since);
      this.confirmed.set(trackKey, Date.now());
    }
    else this.confirmed.delete(trackKey);
    const h = primaryHealth(a, d.confirmed);
    if (this.lastVerdict.get(sh.id) !== a.verdict) {
      this.lastVerdict.set(sh.id, a.verdict);
      const lvl = a.verdict === 'healthy' ? 'info' : 'warn';
      const alarm = a.verdict === 'unreachable-but-replicas-see-it' ? 'unreachable-primary' : a.verdict === 'dead' ? 'dead-primary' : null;
      ctx.log[lvl]({ shard: sh.id, node: primary, verdict: a.verdict, alarm, warnings: a.warnings }, a.summary);
    }
    // A primary concluded dead stays so while nothing contradicts it (its frozen replicas stop
    // confirming during the failover); a replica that hears it again ends that.
    const keepDead = pv.health === 'dead' && h === 'unreachable' && a.verdict !== 'unreachable-but-replicas-see-it';
    if (h !== pv.health && !keepDead) {
      const summary = h === 'dead' ? `${a.summary} (${d.track?.samples ?? 0} consecutive assessments)` : a.summary;
      await propose(
        this.rt,
        { kind: 'node.set_health', node: primary, health: h, evidence: evidence(this.s.observer, summary, assessmentFacts(a)) },
        'probe observer',
        ctx,
      );
    } else if (h === 'dead' && now.task === null) {
      // The world already says dead (maybe an earlier leader's conclusion): tell the failover
      // reconciler that this leader confirmed it now.
      this.rt.host.changed(new Set([`shard/${sh.id}`]));
    }
    if (a.verdict === 'read-only-primary' && a.safeToMakeWritable && now.task === null && pv.repair === 'ok') {
      await this.makeWritable(pv, a, ctx);
    }
  }

  /**
   * What the primary's machine says of its server process (the node agent reads /proc): stopped (hung),
   * gone, running; undefined when the machine has no agent we know or it does not answer in time (a
   * host that is down, or cut off from us: then the replicas' rules alone decide).
   */
  private async processState(pv: NodeView, ctx: LeaderContext): Promise<ProcessState | undefined> {
    const agent = agentForMachine(this.rt.world, this.rt.cfg, pv.hostaddr);
    if (agent === null || ctx.signal.aborted) return undefined;
    try {
      const list = await agent.listInstances({ port: pv.port, type: 'storage' }, { timeoutMs: AGENT_PROCESS_MS });
      const inst = list.instances.find((i) => i.port === pv.port);
      if (!inst || inst.busy || inst.proc_state === undefined) return undefined;
      if (inst.proc_state === null) return inst.status === 'installing' || inst.status === 'uninstalling' ? undefined : 'gone';
      return inst.proc_state;
    } catch {
      return undefined;
    }
  }

  /** The primary answers but is read-only (e.g. restarted: nodes start read-only): open it again. */
  private async makeWritable(pv: NodeView, a: PrimaryAssessment, ctx: LeaderContext): Promise<void> {
    const r = await promote(this.pool.node(pv), ctx.signal, { deadlineMs: 5_000 });
    ctx.log.warn({ node: pv.id, changed: r.changed, detail: r.detail, was: a.summary }, 'read-only primary made writable again');
    if (pv.access !== 'writable') {
      await propose(this.rt, { kind: 'node.set_access', node: pv.id, access: 'writable' }, 'probe observer: read-only primary reopened', ctx);
    }
  }

  /** The metadata shard's nodes: no actors of their own, so status changes are logged (alarms). */
  private async metaRound(ctx: LeaderContext): Promise<void> {
    const o = { ...metaConnectOptions(this.rt.cfg), connectTimeoutMs: Math.min(1_000, this.s.probeTimeoutMs), deadlineMs: this.s.probeTimeoutMs };
    await Promise.all(
      this.rt.cfg.metaSeeds.map(async (seed) => {
        const p = await probeMetaNode(seed, o);
        if (ctx.signal.aborted) return;
        const address = `${seed.host}:${seed.port}`;
        const status = p.online ? 'ok' : classifyError(p.error);
        this.liveMeta.set(address, {
          address,
          at: p.at,
          probe: status,
          readOnly: p.readOnly,
          error: p.error ? `${(p.error as { code?: string }).code ?? p.error.name}: ${p.error.message}` : null,
        });
        const st = p.online ? (p.readOnly ? 'ok read-only' : 'ok writable') : status;
        if (this.metaStatus.get(address) === st) return;
        const first = !this.metaStatus.has(address);
        this.metaStatus.set(address, st);
        if (first && p.online) return;
        const lvl = p.online ? 'info' : 'warn';
        ctx.log[lvl]({ meta_node: address, status: st, error: p.error?.message }, `metadata node ${address} is ${st}`);
      }),
    );
  }

}
