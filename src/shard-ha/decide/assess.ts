// Is the shard's primary healthy, busy, read-only, or dead? Pure: decides from probe results only.
// "Dead" needs corroboration: we cannot reach it AND its replicas' IO threads lost it (disconnected,
// or no heartbeat for too long) — and no replica still sees it. Our own view alone never suffices.
import type { ProbeResult, ReplicationState } from '../../storage-node/node-state.js';

export interface AssessOptions {
  /** A replica whose IO thread made no progress for this many heartbeat periods has a stale source. Default 2. */
  staleHeartbeats?: number;
  /** Floor of the staleness threshold, ms. Default 1500. */
  minStaleMs?: number;
  /** Replicas that must confirm a dead primary. Default: a majority of the replicas probed (at least 1). */
  minConfirmations?: number;
  /**
   * What the primary's machine (its node agent, reading /proc) says of the server process: stopped
   * (SIGSTOPped or traced: hung), gone (no process), running; undefined when nobody could say (no
   * agent, or it did not answer). Only stopped/gone change the rules (see `quiet`).
   */
  process?: ProcessState;
  /**
   * With the process stopped or gone: a replica whose IO thread still says "running" but made no
   * progress for this long no longer hears the primary (a stopped process sends nothing): it confirms
   * (view `quiet`) instead of contradicting. Default 500 ms.
   */
  quietMs?: number;
}

export type ProcessState = 'stopped' | 'gone' | 'running';

export type Verdict =
  | 'healthy'
  | 'busy'
  | 'read-only-primary'
  | 'unreachable-but-replicas-see-it'
  | 'unreachable-unconfirmed'
  | 'dead'
  | 'misconfigured';

/**
 * disconnected / stale: the replica follows the primary and lost it (confirms a dead primary).
 * quiet: its IO thread runs but heard nothing for `quietMs` while the primary's agent says the process
 * is stopped or gone (confirms). connected: it follows the primary and hears from it (contradicts).
 * The others give no evidence.
 */
export type ReplicaView = 'disconnected' | 'stale' | 'quiet' | 'connected' | 'io-stopped' | 'not-following' | 'unreachable';

export interface ReplicaEvidence {
  node: string;
  view: ReplicaView;
  detail: string;
  writable: boolean;
}

export interface Evidence {
  primary: {
    node: string;
    address: string;
    status: ProbeResult['status'];
    error: string | null;
    readOnly: boolean | null;
    /** Where the primary itself replicates from, when it does (it should not). */
    replicatesFrom: string | null;
  };
  replicas: ReplicaEvidence[];
  /** The agent's word on the primary's process, when it was asked (AssessOptions.process). */
  process: ProcessState | null;
  confirmations: number;
  contradictions: number;
  required: number;
}

export interface PrimaryAssessment {
  verdict: Verdict;
  /** One line for alarms and events. */
  summary: string;
  warnings: string[];
  /** Only for read-only-primary: whether making it writable again is safe (no other candidate primary seen). */
  safeToMakeWritable?: boolean;
  /**
   * Only for dead: its machine says the process is stopped (hung) or gone, and the replicas confirm
   * by silence. `trackDead` confirms such a verdict sooner (minSamplesHung).
   */
  hung?: boolean;
  evidence: Evidence;
}

function staleAfterMs(rep: ReplicationState, o: AssessOptions): number | null {
  if (rep.heartbeatPeriodSec <= 0) return null;
  return Math.max(o.minStaleMs ?? 1_500, (o.staleHeartbeats ?? 2) * rep.heartbeatPeriodSec * 1_000);
}

export function replicaView(replica: ProbeResult, primaryAddress: string, o: AssessOptions = {}): ReplicaEvidence {
  const base = { node: replica.node, writable: false };
  if (replica.status !== 'ok' || !replica.state) {
    return { ...base, view: 'unreachable', detail: `probe ${replica.status}: ${replica.error?.message ?? ''}`.trim() };
  }
  const writable = !replica.state.readOnly;
  const rep = replica.state.replication;
  if (!rep) return { ...base, writable, view: 'not-following', detail: 'no replication configured' };
  if (rep.source !== primaryAddress) {
    return { ...base, writable, view: 'not-following', detail: `replicates from ${rep.source}` };
  }
  if (rep.io === 'connecting') {
    const why = rep.ioErrno ? `errno ${rep.ioErrno}: ${rep.ioError}` : 'reconnecting';
    return { ...base, writable, view: 'disconnected', detail: `IO thread connecting (${why})` };
  }
  if (rep.io === 'stopped') {
    const why = rep.ioErrno ? `errno ${rep.ioErrno}: ${rep.ioError}` : 'stopped';
    return { ...base, writable, view: 'io-stopped', detail: `IO thread not running (${why})` };
  }
  const limit = staleAfterMs(rep, o);
  if (limit !== null && rep.progressAgeMs !== null && rep.progressAgeMs > limit) {
    return { ...base, writable, view: 'stale', detail: `no heartbeat or event for ${rep.progressAgeMs} ms (> ${limit} ms)` };
  }
  const processDown = o.process === 'stopped' || o.process === 'gone';
  const quiet = o.quietMs ?? 500;
  if (processDown && rep.progressAgeMs !== null && rep.progressAgeMs >= quiet) {
    return { ...base, writable, view: 'quiet', detail: `no heartbeat or event for ${rep.progressAgeMs} ms while the process is ${o.process}` };
  }
  const age = rep.progressAgeMs === null ? 'unknown' : `${rep.progressAgeMs} ms`;
  return { ...base, writable, view: 'connected', detail: `IO thread running, last progress ${age} ago` };
}

/**
 * Assesses the primary from its probe and the probes of every replica of the shard (reachable or not:
 * the count sets the default quorum).
 */
export function assessPrimary(primary: ProbeResult, replicas: readonly ProbeResult[], o: AssessOptions = {}): PrimaryAssessment {
  const views = replicas.map((r) => replicaView(r, primary.address, o));
  const confirmations = views.filter((v) => v.view === 'disconnected' || v.view === 'stale' || v.view === 'quiet').length;
  const contradictions = views.filter((v) => v.view === 'connected').length;
  const required = o.minConfirmations ?? Math.max(1, Math.floor(replicas.length / 2) + 1);
  const st = primary.state;
  const evidence: Evidence = {
    primary: {
      node: primary.node,
      address: primary.address,
      status: primary.status,
      error: primary.error ? `${primary.error.code}: ${primary.error.message}` : null,
      readOnly: st ? st.readOnly : null,
      replicatesFrom: st?.replication?.source ?? null,
    },
    replicas: views,
    confirmations,
    contradictions,
    required,
    process: o.process ?? null,
  };
  const warnings: string[] = [];
  const writableReplicas = views.filter((v) => v.writable).map((v) => v.node);
  if (writableReplicas.length > 0) warnings.push(`writable replicas: ${writableReplicas.join(', ')}`);
  const elsewhere = views.filter((v) => v.view === 'not-following' && v.detail.startsWith('replicates from'));
  for (const v of elsewhere) warnings.push(`replica ${v.node} ${v.detail}`);
  const done = (verdict: Verdict, summary: string, extra: Partial<PrimaryAssessment> = {}): PrimaryAssessment => ({
    verdict,
    summary,
    warnings,
    evidence,
    ...extra,
  });

  switch (primary.status) {
    case 'alive-busy':
    case 'alive-error':
      return done('busy', `primary ${primary.node} is alive but refuses work: ${evidence.primary.error ?? ''}`);
    case 'misconfigured':
      return done('misconfigured', `primary ${primary.node} rejects the manager: ${evidence.primary.error ?? ''}`);
    case 'unreachable': {
      const tally = `${confirmations} of ${replicas.length} replicas confirm, ${contradictions} still see it, ${required} needed`;
      if (contradictions > 0) {
        return done('unreachable-but-replicas-see-it', `primary ${primary.node} unreachable from the manager only: ${tally}`);
      }
      if (confirmations >= required) {
        const hung = o.process === 'stopped' || o.process === 'gone';
        return done('dead', `primary ${primary.node} is dead: ${tally}${hung ? `; its agent says the process is ${o.process}` : ''}`, { hung });
      }
      return done('unreachable-unconfirmed', `primary ${primary.node} unreachable, not corroborated: ${tally}`);
    }
    case 'ok':
      break;
  }
  if (!st) return done('misconfigured', `primary ${primary.node} probe returned no state`);

  for (const v of views) {
    if (v.view === 'io-stopped' || v.view === 'disconnected') warnings.push(`replica ${v.node}: ${v.detail}`);
  }
  if (st.replication) {
    return done('read-only-primary', `primary ${primary.node} replicates from ${st.replication.source}`, {
      safeToMakeWritable: false,
    });
  }
  if (st.readOnly) {
    const blockers: string[] = [];
    if (writableReplicas.length > 0) blockers.push(`writable: ${writableReplicas.join(', ')}`);
    if (elsewhere.length > 0) blockers.push(`following another source: ${elsewhere.map((v) => v.node).join(', ')}`);
    return done(
      'read-only-primary',
      blockers.length === 0
        ? `primary ${primary.node} is read-only; no other node claims the role`
        : `primary ${primary.node} is read-only, but ${blockers.join('; ')}`,
      { safeToMakeWritable: blockers.length === 0 },
    );
  }
  if (!st.semiSync.masterEnabled) warnings.push('semi-sync master side is off: commits are not acknowledged by a replica');
  else if (!st.semiSync.masterActive) warnings.push('semi-sync master fell back to asynchronous replication');
  else if (st.semiSync.masterClients === 0) warnings.push('no semi-sync replica connected: commits wait');
  if (st.semiSync.masterWaitSessions > 0) warnings.push(`${st.semiSync.masterWaitSessions} sessions wait for a semi-sync ACK`);
  return done('healthy', `primary ${primary.node} is writable and answers`);
}
