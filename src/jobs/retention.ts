// Bounded job history: ended jobs leave the world after the retention, so memory, snapshots and replay
// stop growing with every job. The leader decides (job_retention_count, job_retention_hours, its clock)
// and proposes job.prune; apply only checks and drops what the log names, so every member and every
// replay forgets the same jobs at the same index whatever its own config says. A job leaves with its
// family (a top-level job and its child jobs); the apply rules refuse a child before its parent and a
// job with a running child. Rows in cluster_general_job_log stay: a job is pruned only once the
// metadata projection has written it ended, and get_status of a pruned job answers from its row.
import type { JobView, World } from '../actors/index.js';
import { BACKUP_CLUSTER_JOB, SHARD_BACKUP_JOB } from '../actors/backups.js';
import type { ConfigReader, ProjectionState, Proposer, WorldReader } from '../ports/index.js';
import { checkLeading, type LeaderContext, type Reconciler, type ReconcilerHost } from '../reconcile/host.js';

/** Fewer candidates than this wait for the next round (one prune entry per PRUNE_EVERY_MS, not per job). */
export const PRUNE_BATCH = 100;
export const PRUNE_EVERY_MS = 60_000;
/** A job stays at least this long after its end, whatever the policy: whoever polls for its end (a
 *  sync answer waiting for its job, a parent's rerun) sees it ended in the world. */
export const PRUNE_GRACE_MS = 5_000;
/** Jobs named by one job.prune entry at most; the rest follow in the next pass. */
export const PRUNE_MAX = 2_000;
const JOB_TABLE = 'cluster_general_job_log';

export interface RetentionPolicy {
  /** Ended top-level jobs kept, newest first. */
  keep: number;
  /** An ended family also leaves once its top-level job ended before now - maxAgeMs (0: no age limit). */
  maxAgeMs: number;
  now: number;
}

export function retentionPolicy(cfg: ConfigReader['cfg'], now: number): RetentionPolicy {
  return { keep: cfg.int('job_retention_count'), maxAgeMs: cfg.int('job_retention_hours') * 3_600_000, now };
}

const ended = (j: JobView): boolean => j.status === 'done' || j.status === 'failed';

/**
 * The jobs the policy lets go, parents before children (ascending ids): every ended family beyond the
 * newest `keep`, or older than the age limit. Kept whatever the policy: a family with a job still
 * running or ended less than PRUNE_GRACE_MS ago, a rebuild_node job naming a node that still waits for
 * its rebuild (the automatic rebuild times its retry from it), and a backup family.
 */
export function retentionCandidates(world: World, p: RetentionPolicy): number[] {
  return retentionPlan(world, p).jobs;
}

/** The candidates, and when a family now held only by PRUNE_GRACE_MS becomes one (ms, or null). */
export function retentionPlan(world: World, p: RetentionPolicy): { jobs: number[]; recheckMs: number | null } {
  const jobs = new Map<number, JobView>();
  const children = new Map<number, number[]>();
  for (const id of world.ids('job')) {
    const j = world.job(id)!;
    jobs.set(id, j);
    if (j.parent !== null) children.set(j.parent, [...(children.get(j.parent) ?? []), id]);
  }
  const family = (root: number): number[] => {
    const out = [root];
    for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!) ?? []));
    return out.sort((a, b) => a - b);
  };
  const failedRows = new Set(world.projectionFailures.filter((f) => f.table === JOB_TABLE).map((f) => Number(f.key)));
  const out: number[] = [];
  let recheckMs: number | null = null;
  let kept = 0;
  const roots = [...jobs.values()].filter((j) => j.parent === null || !jobs.has(j.parent)).sort((a, b) => b.id - a.id);
  for (const root of roots) {
    if (!ended(root)) continue;
    const fam = family(root.id).map((id) => jobs.get(id)!);
    if (!fam.every(ended)) continue;
    const old = p.maxAgeMs > 0 && (root.endedAt ?? root.createdAt) < p.now - p.maxAgeMs;
    if (kept < p.keep && !old) {
      kept++;
      continue;
    }
    if (fam.some((j) => failedRows.has(j.id) || awaitsRebuild(world, j) || holdsBackup(j))) continue;
    const lastEnd = Math.max(...fam.map((j) => j.endedAt ?? 0));
    if (lastEnd > p.now - PRUNE_GRACE_MS) {
      const ms = lastEnd + PRUNE_GRACE_MS - p.now;
      recheckMs = recheckMs === null ? ms : Math.min(recheckMs, ms);
      continue;
    }
    out.push(...fam.map((j) => j.id));
  }
  return { jobs: out.sort((a, b) => a - b), recheckMs };
}

/**
 * A backup job: the world's backup records (src/actors/backups.ts) are these jobs and their retention
 * steps, so they stay until backups are records of their own.
 */
function holdsBackup(j: JobView): boolean {
  return j.jobType === SHARD_BACKUP_JOB || j.jobType === BACKUP_CLUSTER_JOB;
}

/** A rebuild_node job naming a node still marked needs_rebuild. */
function awaitsRebuild(world: World, j: JobView): boolean {
  if (j.jobType !== 'rebuild_node') return false;
  const nodes = (j.request as { rb_nodes?: { node?: unknown }[] } | null)?.rb_nodes ?? [];
  return nodes.some((n) => typeof n.node === 'number' && world.node(n.node)?.repair === 'needs_rebuild');
}

/** Ids (ascending) whose parent is gone or goes before them: a child never leaves before its parent. */
function wholeFamilies(world: World, ids: readonly number[]): number[] {
  const going = new Set<number>();
  for (const id of ids) {
    const parent = world.job(id)?.parent ?? null;
    if (parent === null || world.job(parent) === null || going.has(parent)) going.add(id);
  }
  return [...going];
}

/** What the retention uses of the member (ManagerRuntime implements it). */
export interface RetentionRuntime extends WorldReader, ConfigReader, Proposer {
  readonly metadata: ProjectionState;
  readonly host: Pick<ReconcilerHost, 'later'>;
}

/** The leader's side: proposes job.prune for the candidates once the projection has written them ended. */
export class JobRetention implements Reconciler {
  readonly name = 'job-retention';
  private lastPrune = 0;
  /** Candidates seen at an applied index: pruned once the projection has passed that index. */
  private seen: { index: number; term: number; ids: Set<number> } | null = null;

  constructor(private readonly rt: RetentionRuntime) {}

  keys(): string[] {
    return ['jobs'];
  }

  /** Only a job that ended (or left) can make a new candidate; the steps of running jobs cannot. */
  affected(changed: ReadonlySet<string>): string[] {
    const world = this.rt.world;
    for (const a of changed) if (a.startsWith('job/') && !world.isJobActive(Number(a.slice(4)))) return this.keys();
    return [];
  }

  async reconcile(key: string, ctx: LeaderContext): Promise<void> {
    const world = this.rt.world;
    const now = Date.now();
    const plan = retentionPlan(world, retentionPolicy(this.rt.cfg, now));
    // A family held only by the grace is looked at again when it ends (no job event will wake us).
    if (plan.recheckMs !== null) this.rt.host.later(this, key, plan.recheckMs + 10);
    const candidates = plan.jobs;
    if (candidates.length === 0) return;
    const wait = PRUNE_EVERY_MS - (now - this.lastPrune);
    if (candidates.length < PRUNE_BATCH && wait > 0) {
      this.rt.host.later(this, key, wait);
      return;
    }
    let ready = candidates;
    if (this.rt.cfg.metaSeeds.length > 0) {
      // The projection writes every job in the world: past the index where these had ended, their rows say so.
      const seen = this.seen;
      const projected = this.rt.metadata.lastProjected;
      ready = seen !== null && seen.term === ctx.term && projected.term === ctx.term && projected.index >= seen.index ? candidates.filter((id) => seen.ids.has(id)) : [];
      if (ready.length < candidates.length) {
        this.seen = { index: world.applied, term: ctx.term, ids: new Set(candidates) };
        this.rt.host.later(this, key, 1_000);
      }
      if (ready.length === 0) return;
    }
    checkLeading(ctx.signal);
    const jobs = wholeFamilies(world, ready).slice(0, PRUNE_MAX);
    if (jobs.length === 0) return;
    const r = await this.rt.execute({ kind: 'job.prune', jobs }, { system: 'job retention' });
    if (!r.ok) {
      ctx.log.warn({ result: r, jobs: jobs.length }, 'job retention: pruning ended jobs was refused; next pass tries again');
      return;
    }
    this.lastPrune = now;
    ctx.log.info({ pruned: jobs.length, first: jobs[0], last: jobs[jobs.length - 1] }, 'job retention: ended jobs left the manager state (their metadata rows stay)');
  }
}
