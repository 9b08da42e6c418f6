// A planned switchover of an rbr shard's primary (manual_switch, cluster_mgr-api.md §10,
// cluster_mgr-ha.md §4.3), the shard-HA half: the target checked on the real nodes, and the step
// engine's switchover run with the storage-node connections it needs. The job half (the recorded job
// steps, the task taken, the answer) is src/jobs/handlers/switch.ts.
import type { Command, NodeView, World } from '../actors/index.js';
import type { Config } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import type { NodeState, ProbeResult } from '../storage-node/node-state.js';
import { probeNode } from '../storage-node/probe.js';
import { checkSwitchTarget, type SwitchTargetCheck } from './decide/elect.js';
import { FailoverRows, type StepRow } from './failover-rows.js';
import { NodePool } from './pool.js';
import { haSettings, type HaSettings } from './settings.js';
import { addr, ChangeError, HA_ERRORS, ShardChange, type ChangePlan } from './step-engine.js';

/** Defaults of the switchover's tunables (config keys of the same name override them). */
export const SWITCH_DEFAULTS = {
  /** Transactions the target may still lack when it is checked (it catches up after the fence). */
  switchover_max_backlog: 100,
  /** How long the old primary stays read-only waiting for the target to catch up, ms. */
  switchover_catchup_ms: 5_000,
} as const;

export function switchTunable(cfg: Config, key: keyof typeof SWITCH_DEFAULTS): number {
  const v = cfg.values[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : SWITCH_DEFAULTS[key];
}

export interface SwitchRequest {
  shard: number;
  from: number;
  /** The chosen target; null: the best replica that passes the checks. */
  to: number | null;
}

export interface SwitchTarget {
  node: number;
  backlog: number;
}

/** What a switchover run is given by its job. */
export interface SwitchContext {
  world: World;
  cfg: Config;
  signal: AbortSignal;
  term: number;
  log: Logger;
  /** Proposes a command under the job (refusals fail the job). */
  exec(cmd: Command): Promise<unknown>;
}

/** A refused target: the original's number for the reason. */
function checkError(c: Extract<SwitchTargetCheck, { ok: false }>): ChangeError {
  const code: Record<string, number> = {
    'target-is-primary': HA_ERRORS.notReplica,
    'target-not-promotable': HA_ERRORS.notReplica,
    'target-not-replica': HA_ERRORS.notReplica,
    'target-follows-other': HA_ERRORS.notReplica,
    'primary-unavailable': HA_ERRORS.connect,
    'target-unavailable': HA_ERRORS.targetConnect,
    'target-replication-broken': HA_ERRORS.targetUnalive,
    'target-errant': HA_ERRORS.notMaxGtid,
    'target-not-caught-up': HA_ERRORS.notMaxGtid,
  };
  return new ChangeError(code[c.code] ?? HA_ERRORS.targetUnalive, `${c.code}: ${c.message}`);
}

function probeError(p: ProbeResult, role: 'primary' | 'target'): ChangeError | null {
  if (p.status === 'ok') return null;
  const why = `${role} ${p.address} is ${p.status}${p.error ? `: ${p.error.message}` : ''}`;
  if (p.status === 'alive-busy') return new ChangeError(HA_ERRORS.busyConnections, why);
  return new ChangeError(role === 'primary' ? HA_ERRORS.connect : HA_ERRORS.targetConnect, why);
}

/** The old primary as it must be for a switch: reachable, writable or fenced by us, no source. */
function checkPrimaryState(st: NodeState, address: string): ChangeError | null {
  if (st.replication !== null) return new ChangeError(HA_ERRORS.notSource, `${address} replicates from ${st.replication.source}: it is not a primary`);
  return null;
}

/** One switchover: its storage-node connections, its rbr_consfailover rows and the engine run. */
export class Switchover {
  readonly settings: HaSettings;
  private readonly pool: NodePool;
  private readonly rows: FailoverRows;
  /** rbr_consfailover rows of this run, written once the shard is out of the read-only window (flushRows). */
  private readonly pending: StepRow[] = [];

  constructor(private readonly c: SwitchContext) {
    this.settings = haSettings(c.cfg);
    this.pool = new NodePool(this.settings);
    this.rows = new FailoverRows(c.cfg, c.log);
  }

  view(id: number): NodeView {
    const v = this.c.world.node(id);
    if (v === null) throw new ChangeError(null, `node ${id} no longer exists`);
    return v;
  }

  /**
   * Probes the primary, then the target (or every replica when none was named): the best one that
   * passes checkSwitchTarget (healthy, replicating from the primary, no errant transactions, at most
   * switchover_max_backlog transactions behind), or a ChangeError with the original's number.
   */
  async chooseTarget(req: SwitchRequest): Promise<SwitchTarget> {
    const { world, signal } = this.c;
    const maxBacklog = switchTunable(this.c.cfg, 'switchover_max_backlog');
    const primary = this.pool.node(this.view(req.from));
    const pp = await probeNode(primary, { signal, deadlineMs: 3_000 });
    const pe = probeError(pp, 'primary');
    if (pe !== null) throw pe;
    const stateErr = checkPrimaryState(pp.state!, pp.address);
    if (stateErr !== null) throw stateErr;
    const candidates = req.to !== null ? [req.to] : (world.shard(req.shard)?.nodes ?? []).filter((n) => n !== req.from);
    if (candidates.length === 0) throw new ChangeError(HA_ERRORS.notReplica, `shard ${req.shard} has no replica to switch to`);
    const probes = await Promise.all(candidates.map((id) => probeNode(this.pool.node(this.view(id)), { signal, deadlineMs: 3_000 })));
    const passed: (SwitchTarget & { priority: number })[] = [];
    const refused: ChangeError[] = [];
    for (const [i, id] of candidates.entries()) {
      const v = this.view(id);
      const p = probes[i]!;
      const pe2 = probeError(p, 'target');
      if (pe2 !== null) {
        refused.push(pe2);
        continue;
      }
      if (v.repair !== 'ok' || v.health === 'dead' || v.health === 'unreachable') {
        refused.push(new ChangeError(HA_ERRORS.targetUnalive, `${addr(v)} is ${v.repair !== 'ok' ? v.repair : v.health}`));
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
      throw new ChangeError(first.code, info.slice(0, 900));
    }
    passed.sort((a, b) => b.priority - a.priority || a.backlog - b.backlog || a.node - b.node);
    return { node: passed[0]!.node, backlog: passed[0]!.backlog };
  }

  /** The step engine on this switchover's task (candidate: the chosen target). */
  change(req: SwitchRequest, task: number, target: number | null, backlog?: number): ShardChange {
    const plan: ChangePlan = {
      kind: 'switchover',
      shard: req.shard,
      task,
      old: this.view(req.from),
      candidate: target === null ? null : this.view(target),
      ...(backlog !== undefined ? { backlog } : {}),
      drainMs: switchTunable(this.c.cfg, 'switchover_catchup_ms'),
      keepUsers: [this.settings.storage.user],
    };
    return new ShardChange(
      {
        world: this.c.world,
        cfg: this.c.cfg,
        pool: this.pool,
        s: this.settings,
        propose: async (cmd) => {
          await this.c.exec(cmd);
          return true;
        },
        row: (r) => void this.pending.push(r),
        signal: this.c.signal,
        term: this.c.term,
        log: this.c.log,
      },
      plan,
    );
  }

  /** Writes the rows of this run (best effort: a row that could not be written is logged). */
  async flushRows(): Promise<void> {
    for (const r of this.pending.splice(0)) this.rows.enqueue(r);
    await this.rows.flushed();
    this.c.signal.throwIfAborted();
  }

  async close(): Promise<void> {
    await this.rows.drop();
    await this.pool.close();
  }
}
