// When an automatic failover may run: a dead verdict held long enough, no recent failover of the same
// shard (anti-flapping), and no operator no-switch window. Pure: every function takes `now` (ms since
// the epoch) from the caller; in the manager it comes from the event being applied.
import type { PrimaryAssessment } from './assess.js';

// ---- dead for long enough ----

export interface DeadTrack {
  /** When the current unbroken run of dead verdicts began. */
  since: number;
  samples: number;
}

export interface DeadConfirmOptions {
  /** The dead verdict must hold at least this long, ms. Default 0. */
  minDeadMs?: number;
  /** ...and over at least this many consecutive assessments. Default 2. */
  minSamples?: number;
  /**
   * The samples a run needs when its latest assessment is `hung` (the machine's agent saw the process
   * stopped or gone and the replicas heard nothing since): the process cannot be slow, it is not
   * scheduled at all. Default 1.
   */
  minSamplesHung?: number;
}

/** Feeds one assessment; any other verdict resets the run. */
export function trackDead(
  prev: DeadTrack | null,
  a: PrimaryAssessment,
  now: number,
  o: DeadConfirmOptions = {},
): { track: DeadTrack | null; confirmed: boolean } {
  if (a.verdict !== 'dead') return { track: null, confirmed: false };
  const track = prev ? { since: prev.since, samples: prev.samples + 1 } : { since: now, samples: 1 };
  const samples = a.hung === true ? Math.min(o.minSamplesHung ?? 1, o.minSamples ?? 2) : (o.minSamples ?? 2);
  const confirmed = track.samples >= samples && now - track.since >= (o.minDeadMs ?? 0);
  return { track, confirmed };
}

// ---- anti-flapping ----

export type Gate = { ok: true } | { ok: false; reason: string; retryAt: number | null };

export function checkFailoverInterval(lastFailoverAt: number | null, now: number, minIntervalMs: number): Gate {
  if (lastFailoverAt === null) return { ok: true };
  const next = lastFailoverAt + minIntervalMs;
  if (now >= next) return { ok: true };
  return {
    ok: false,
    retryAt: next,
    reason: `last failover of this shard was ${Math.round((now - lastFailoverAt) / 1000)} s ago; minimum interval ${Math.round(minIntervalMs / 1000)} s`,
  };
}

// ---- no-switch windows (set_noswitch / list_noswitch / del_noswitch) ----

export interface NoSwitchScope {
  /** A cluster id, or 'all' for every cluster. */
  clusterId: string;
  /** A shard id; null for every shard of the cluster. */
  shardId: string | null;
}

export interface NoSwitchWindow extends NoSwitchScope {
  /** Expiry, ms since the epoch. */
  until: number;
}

export class NoSwitchInputError extends Error {
  override readonly name = 'NoSwitchInputError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

const ID = /^(?:all|[0-9]{1,18})$/;
const MAX_WINDOW_SEC = 30 * 24 * 3600;

function validateScope(s: NoSwitchScope): void {
  if (!ID.test(s.clusterId)) throw new NoSwitchInputError('cluster_id', `must be a numeric id or "all", got "${s.clusterId}"`);
  if (s.shardId !== null) {
    if (s.clusterId === 'all') throw new NoSwitchInputError('shard_id', 'needs a specific cluster_id');
    if (!/^[0-9]{1,18}$/.test(s.shardId)) throw new NoSwitchInputError('shard_id', `must be a numeric id, got "${s.shardId}"`);
  }
}

const sameScope = (a: NoSwitchScope, b: NoSwitchScope): boolean => a.clusterId === b.clusterId && a.shardId === b.shardId;

/** Adds or replaces the window for a scope; returns the new list (expired windows dropped). */
export function setNoSwitch(
  windows: readonly NoSwitchWindow[],
  scope: NoSwitchScope,
  timeoutSec: number,
  now: number,
): NoSwitchWindow[] {
  validateScope(scope);
  if (!Number.isInteger(timeoutSec) || timeoutSec <= 0 || timeoutSec > MAX_WINDOW_SEC) {
    throw new NoSwitchInputError('timeout', `must be a whole number of seconds in 1..${MAX_WINDOW_SEC}, got ${timeoutSec}`);
  }
  const kept = listNoSwitch(windows, now).filter((w) => !sameScope(w, scope));
  return [...kept, { clusterId: scope.clusterId, shardId: scope.shardId, until: now + timeoutSec * 1000 }];
}

/** Removes the window of exactly this scope. */
export function delNoSwitch(windows: readonly NoSwitchWindow[], scope: NoSwitchScope): NoSwitchWindow[] {
  validateScope(scope);
  return windows.filter((w) => !sameScope(w, scope));
}

/** The windows still active at `now`. */
export function listNoSwitch(windows: readonly NoSwitchWindow[], now: number): NoSwitchWindow[] {
  return windows.filter((w) => w.until > now);
}

/** The active window (latest expiry) that covers this shard, or null. */
export function noSwitchFor(
  windows: readonly NoSwitchWindow[],
  clusterId: string,
  shardId: string,
  now: number,
): NoSwitchWindow | null {
  let best: NoSwitchWindow | null = null;
  for (const w of listNoSwitch(windows, now)) {
    const clusterHit = w.clusterId === 'all' || w.clusterId === clusterId;
    const shardHit = w.shardId === null || w.shardId === shardId;
    if (clusterHit && shardHit && (!best || w.until > best.until)) best = w;
  }
  return best;
}

// ---- all gates together ----

export interface FailoverGateInput {
  now: number;
  clusterId: string;
  shardId: string;
  lastFailoverAt: number | null;
  minIntervalMs: number;
  windows: readonly NoSwitchWindow[];
}

export function failoverGate(i: FailoverGateInput): Gate {
  const w = noSwitchFor(i.windows, i.clusterId, i.shardId, i.now);
  if (w) {
    const scope = w.clusterId === 'all' ? 'all clusters' : w.shardId === null ? `cluster ${w.clusterId}` : `shard ${w.shardId}`;
    return { ok: false, retryAt: w.until, reason: `no-switch window for ${scope} until ${new Date(w.until).toISOString()}` };
  }
  return checkFailoverInterval(i.lastFailoverAt, i.now, i.minIntervalMs);
}
