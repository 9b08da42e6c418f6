// Which surviving replica becomes the primary. Pure. The candidate must hold every transaction any
// survivor holds (executed or merely received): with semi-sync each acknowledged commit sits in at
// least one replica's relay log, so the survivor holding the union holds every acknowledged write.
import { mariadbGtid, type GtidMath } from '../../storage-node/gtid.js';
import type { ProbeResult } from '../../storage-node/node-state.js';

export interface Survivor {
  node: string;
  /** Executed position (flavor notation). */
  executed: string;
  /** Received by the IO thread; null when unknown or not a replica. */
  received: string | null;
  /** Higher wins among equally advanced survivors (shard_nodes.master_priority). Default 0. */
  priority?: number;
  /** False for nodes that must never be promoted (e.g. a backup node). Default true. */
  promotable?: boolean;
  /** Whether it was a semi-sync ACKing replica of the old primary. Default true. */
  acker?: boolean;
}

export interface ChooseOptions {
  gtid?: GtidMath;
  /**
   * ACKing replicas the shard has (alive or not). With `acksPerCommit` it decides whether the
   * survivors provably hold every acknowledged write: at least ackers − acksPerCommit + 1 of them
   * must survive. Omit to skip the check (the caller proved it another way).
   */
  ackers?: number;
  /** ACKs each commit waited for; MariaDB semi-sync: 1. */
  acksPerCommit?: number;
  /** Promote even when acknowledged writes may be missing (operator's explicit choice). */
  allowLoss?: boolean;
}

export interface RankedSurvivor {
  node: string;
  /** executed ∪ received */
  position: string;
  /** Received but not yet applied. */
  backlog: number;
  containsAll: boolean;
  promotable: boolean;
  priority: number;
}

export type Choice =
  | {
      kind: 'candidate';
      node: string;
      /** Wait until the candidate executed this before promoting it. */
      target: string;
      backlog: number;
      ranking: RankedSurvivor[];
    }
  | { kind: 'no-survivors'; message: string }
  | { kind: 'quorum-lost'; survivingAckers: number; required: number; message: string; ranking: RankedSurvivor[] }
  | { kind: 'divergence'; message: string; ranking: RankedSurvivor[] }
  | { kind: 'not-promotable'; holders: string[]; message: string; ranking: RankedSurvivor[] };

export function rankSurvivors(survivors: readonly Survivor[], gtid: GtidMath = mariadbGtid): RankedSurvivor[] {
  const pos = survivors.map((s) => ({
    s,
    position: s.received ? gtid.union(s.executed, s.received) : s.executed,
  }));
  return pos.map(({ s, position }) => ({
    node: s.node,
    position,
    backlog: gtid.backlog(s.executed, position),
    containsAll: pos.every((o) => gtid.contains(position, o.position)),
    promotable: s.promotable !== false,
    priority: s.priority ?? 0,
  }));
}

export function chooseCandidate(survivors: readonly Survivor[], o: ChooseOptions = {}): Choice {
  const gtid = o.gtid ?? mariadbGtid;
  if (survivors.length === 0) return { kind: 'no-survivors', message: 'no replica survived to promote' };
  const ranking = rankSurvivors(survivors, gtid);
  if (o.ackers !== undefined && !o.allowLoss) {
    const survivingAckers = survivors.filter((s) => s.acker !== false).length;
    const required = Math.max(1, o.ackers - (o.acksPerCommit ?? 1) + 1);
    if (survivingAckers < required) {
      return {
        kind: 'quorum-lost',
        survivingAckers,
        required,
        ranking,
        message:
          `only ${survivingAckers} of ${o.ackers} ACKing replicas survive, ${required} needed to prove ` +
          'no acknowledged write is lost',
      };
    }
  }
  const maximal = ranking.filter((r) => r.containsAll);
  if (maximal.length === 0) {
    return {
      kind: 'divergence',
      ranking,
      message: `no survivor holds every other's transactions: ${ranking.map((r) => `${r.node}=${r.position || '(empty)'}`).join('; ')}`,
    };
  }
  const eligible = maximal.filter((r) => r.promotable);
  if (eligible.length === 0) {
    return {
      kind: 'not-promotable',
      holders: maximal.map((r) => r.node),
      ranking,
      message: `only non-promotable nodes hold every transaction: ${maximal.map((r) => r.node).join(', ')}`,
    };
  }
  eligible.sort((a, b) => b.priority - a.priority || a.backlog - b.backlog || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const best = eligible[0]!;
  return { kind: 'candidate', node: best.node, target: best.position, backlog: best.backlog, ranking };
}

export interface SwitchTargetOptions {
  gtid?: GtidMath;
  /** Transactions the target may still lack at check time; 0 = fully caught up. Default 0. */
  maxBacklog?: number;
  promotable?: boolean;
}

export type SwitchTargetCheck = { ok: true } | { ok: false; code: string; message: string };

/**
 * May `target` become the primary by a manual switch? It must be healthy, follow the current primary,
 * have nothing of its own (no errant transactions), and hold everything the primary executed. Probe
 * the primary first, then the target, so a write in between can only make the target look better.
 */
export function checkSwitchTarget(target: ProbeResult, primary: ProbeResult, o: SwitchTargetOptions = {}): SwitchTargetCheck {
  const gtid = o.gtid ?? mariadbGtid;
  const no = (code: string, message: string): SwitchTargetCheck => ({ ok: false, code, message });
  if (o.promotable === false) return no('target-not-promotable', `${target.node} must not be promoted`);
  if (target.node === primary.node) return no('target-is-primary', `${target.node} already is the primary`);
  if (primary.status !== 'ok' || !primary.state) {
    return no('primary-unavailable', `primary ${primary.node} is ${primary.status}; a manual switch needs a reachable primary`);
  }
  if (target.status !== 'ok' || !target.state) {
    return no('target-unavailable', `target ${target.node} is ${target.status}: ${target.error?.message ?? ''}`.trim());
  }
  const rep = target.state.replication;
  if (!rep) return no('target-not-replica', `target ${target.node} has no replication configured`);
  if (rep.source !== primary.address) {
    return no('target-follows-other', `target ${target.node} replicates from ${rep.source}, not ${primary.address}`);
  }
  if (rep.io !== 'running' || !rep.sqlRunning) {
    const err = rep.ioError || rep.sqlError;
    return no('target-replication-broken', `target ${target.node} replication IO=${rep.io} SQL=${rep.sqlRunning ? 'running' : 'stopped'}${err ? `: ${err}` : ''}`);
  }
  const errant = gtid.errant(target.state.gtid.history, primary.state.gtid.history, primary.state.serverId);
  if (errant.length > 0) return no('target-errant', `target ${target.node} has transactions the primary lacks: ${errant.join(', ')}`);
  const behind = gtid.backlog(target.state.gtid.executed, primary.state.gtid.executed);
  const max = o.maxBacklog ?? 0;
  if (behind > max || (max === 0 && !gtid.contains(target.state.gtid.executed, primary.state.gtid.executed))) {
    return no(
      'target-not-caught-up',
      `target ${target.node} executed ${target.state.gtid.executed || '(nothing)'}, primary ${primary.state.gtid.executed}: ${behind} behind (max ${max})`,
    );
  }
  return { ok: true };
}
