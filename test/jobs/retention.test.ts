// Bounded job history: ended jobs leave the world through job.prune (the leader's retention), so the
// world and its snapshot stay flat under a long job churn; replaying the same log forgets the same jobs
// (same digest); the apply rules keep families together; get_status of a pruned job answers from its
// cluster_general_job_log row in the shape of a kept job's answer.
import t from 'tap';
import { World, type ApplyResult, type Command } from '../../src/actors/index.js';
import { encodeBatch } from '../../src/events/codec.js';
import type { Cause } from '../../src/events/envelope.js';
import { jobRowStatus, jobStatus } from '../../src/http/sync-answers.js';
import { JobRetention, PRUNE_EVERY_MS, PRUNE_GRACE_MS, retentionCandidates } from '../../src/jobs/retention.js';
import type { Config } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import type { ExecResult } from '../../src/ports/index.js';
import { emptyTopology } from '../../src/metadata/topology.js';
import { desiredTopology } from '../../src/projection/desired-topology.js';
import { checkCommand } from '../helpers/job-catalog.js';
import { Leader, T0, USER } from '../actors/helpers.js';

const SYS: Cause = { system: 'cluster_mgr' };

/** A leader that keeps the log it applied, for replays. */
class LoggingLeader extends Leader {
  readonly log: Uint8Array[] = [];

  run(cmd: Command, cause: Cause = USER): (ApplyResult & { ok: true }) | { ok: false; reason: string } {
    this.at += 1000;
    const r = checkCommand(this.world, cmd, { at: this.at, cause });
    if (!r.ok) return { ok: false, reason: r.reason };
    const bytes = encodeBatch(r.events);
    this.log.push(bytes);
    const a = this.world.applyEntry(++this.index, bytes);
    if (!a.ok) throw new Error(`${cmd.kind} refused at apply: ${a.reason}`);
    return a;
  }

  override must(cmd: Command, cause: Cause = USER): ApplyResult & { ok: true } {
    const r = this.run(cmd, cause);
    if (!r.ok) throw new Error(`${cmd.kind} refused: ${r.reason}`);
    return r;
  }

  do(cmd: Command, cause: Cause = USER): void {
    this.must(cmd, cause);
  }

  start(jobType: string, request: Record<string, unknown>, parent?: number): number {
    this.do({ kind: 'job.start', jobType, request, ...(parent !== undefined ? { parent } : {}) });
    return this.world.next.job - 1;
  }

  /** A job with one step, ended done or failed. */
  finish(job: number, ok = true): void {
    this.do({ kind: 'job.step_start', job, step: 'work', index: 0, total: 1 }, SYS);
    this.do({ kind: 'job.step_finish', job, step: 'work', ok, done: 1, total: 1, info: 'ok' }, SYS);
    if (ok) this.do({ kind: 'job.finish', job, result: { cluster_id: '1' } }, SYS);
    else this.do({ kind: 'job.fail', job, code: 70093, info: 'install failed', result: {} }, SYS);
  }

  /** An add_comps job with a child job (every third one fails). */
  family(cluster: number, n: number): number {
    const job = this.start('add_comps', { cluster_id: String(cluster), comps: '1' });
    const child = this.start('internal_add_comps', { cluster_id: cluster, comps: 1, computer_iplists: [], parent_step: 'start_comps' }, job);
    this.finish(child);
    this.finish(job, n % 3 !== 0);
    return job;
  }

  prune(keep: number): number {
    const ids = retentionCandidates(this.world, { keep, maxAgeMs: 0, now: this.at + PRUNE_GRACE_MS });
    if (ids.length > 0) this.do({ kind: 'job.prune', jobs: ids }, { system: 'job retention' });
    return ids.length;
  }
}

function scene(): { L: LoggingLeader; cluster: number } {
  const L = new LoggingLeader(new World());
  L.machines(3);
  L.machines(2, 'computer');
  const { cluster } = L.cluster(1);
  return { L, cluster };
}

t.test('a long job churn: the world and its snapshot stay flat, and a replay forgets the same jobs', (t) => {
  const { L, cluster } = scene();
  const KEEP = 200;
  const sizes: { jobs: number; inWorld: number; snapshot: number }[] = [];
  let mid: { bytes: Uint8Array; entries: number } | null = null;
  for (let n = 1; n <= 3000; n++) {
    L.family(cluster, n);
    if (n % 100 === 0) L.prune(KEEP);
    if (n % 500 === 0) sizes.push({ jobs: 2 * n, inWorld: L.world.count('job'), snapshot: L.world.snapshot().length });
    if (n === 1500) mid = { bytes: L.world.snapshot(), entries: L.log.length };
  }
  t.comment(JSON.stringify(sizes));
  // Kept: the newest KEEP families (2 jobs each), plus what ended since the last round.
  for (const s of sizes) t.ok(s.inWorld <= 2 * (KEEP + 100), `${s.jobs} jobs run, ${s.inWorld} in the world`);
  const first = sizes[1]!.snapshot;
  const last = sizes[sizes.length - 1]!.snapshot;
  t.ok(last <= first * 1.02, `snapshot flat: ${first} bytes after 1,000 jobs, ${last} after 6,000`);
  t.equal(L.world.job(1), null, 'the oldest job has left the world');
  t.equal(L.world.next.job, 6001, 'ids are never reused');

  const replayed = new World();
  L.log.forEach((b, i) => replayed.applyEntry(i + 1, b));
  t.equal(replayed.digest(), L.world.digest(), 'replaying the log gives the same world');
  const restored = World.restore(mid!.bytes);
  for (let i = mid!.entries; i < L.log.length; i++) restored.applyEntry(i + 1, L.log[i]!);
  t.equal(restored.digest(), L.world.digest(), 'restoring a snapshot taken mid-churn and applying the rest gives the same world');
  t.end();
});

t.test('a job leaves with its family: never while running, never before its parent or while a child runs', (t) => {
  const { L, cluster } = scene();
  const parent = L.start('add_comps', { cluster_id: String(cluster), comps: '1' });
  const child = L.start('internal_add_comps', { cluster_id: cluster, comps: 1, computer_iplists: [], parent_step: 'start_comps' }, parent);
  t.match(L.run({ kind: 'job.prune', jobs: [parent] }, SYS), { ok: false, reason: /has not ended/ }, 'a running job stays');
  L.finish(child);
  t.match(L.run({ kind: 'job.prune', jobs: [child] }, SYS), { ok: false, reason: new RegExp(`child of job/${parent}, which is still kept`) }, 'a child stays while its parent is kept');
  t.same(retentionCandidates(L.world, { keep: 0, maxAgeMs: 0, now: L.at + PRUNE_GRACE_MS }), [], 'a family with a running job is no candidate');
  const other = L.start('internal_add_comps', { cluster_id: cluster, comps: 1, computer_iplists: [], parent_step: 'more' }, parent);
  L.finish(parent);
  t.match(L.run({ kind: 'job.prune', jobs: [parent] }, SYS), { ok: false, reason: new RegExp(`running child job/${other}`) }, 'a job with a running child stays');
  L.finish(other);
  t.same(retentionCandidates(L.world, { keep: 0, maxAgeMs: 0, now: L.at }), [], 'a family that has just ended stays a moment (PRUNE_GRACE_MS)');
  t.same(retentionCandidates(L.world, { keep: 0, maxAgeMs: 0, now: L.at + PRUNE_GRACE_MS }), [parent, child, other], 'parents before children');
  t.same(retentionCandidates(L.world, { keep: 1, maxAgeMs: 0, now: L.at + PRUNE_GRACE_MS }), [], 'the newest family is kept');
  t.same(retentionCandidates(L.world, { keep: 1, maxAgeMs: 1000, now: L.at + PRUNE_GRACE_MS }), [parent, child, other], 'an old family leaves whatever the count');
  L.do({ kind: 'job.prune', jobs: [parent, child, other] }, SYS);
  t.equal(L.world.count('job'), 0, 'the family has left the world');
  t.match(L.run({ kind: 'job.prune', jobs: [parent] }, SYS), { ok: false, reason: /does not exist/ }, 'a pruned job is gone');
  t.end();
});

t.test('backup jobs stay: the backup records are those jobs', (t) => {
  const { L, cluster } = scene();
  const none = { hostaddr: null, port: null, endpoint: null, bucket: null, prefix: null, region: null, credentialsFile: null, credentialsEnv: null };
  L.do({ kind: 'backup_storage.create', name: 'b', settings: { ...none, stype: 'fs', path: '/mnt/b' } });
  const backup = L.start('manual_backup_cluster', { cluster_id: String(cluster) });
  const shard = L.start('shard_coldbackup', { cluster_id: cluster, shard_id: 1, backup_storage: 'b' }, backup);
  L.finish(shard);
  L.finish(backup);
  const other = L.family(cluster, 1);
  t.same(retentionCandidates(L.world, { keep: 0, maxAgeMs: 0, now: L.at + PRUNE_GRACE_MS }), [other, other + 1], 'only the family without a backup job leaves');
  t.end();
});

t.test('get_status of a pruned job answers from its row, in the shape of the kept job', (t) => {
  const { L, cluster } = scene();
  const job = L.family(cluster, 1);
  const kept = jobStatus(L.world, String(job));
  const row = desiredTopology(L.world.view(), emptyTopology(), { comp: () => null, storage: { user: 'u', password: 'p' } }, T0).jobs.find((j) => j.id === job)!;
  L.prune(1);
  L.family(cluster, 2);
  L.prune(1);
  t.equal(L.world.job(job), null, 'pruned');
  t.equal(jobStatus(L.world, String(job)).status, 'failed', 'the world alone no longer knows it');
  const fromRow = jobRowStatus(
    { id: row.id, jobType: row.jobType ?? '', status: row.status, memo: row.memo, whenStarted: row.whenStarted, whenEnded: row.whenEnded, jobInfo: row.jobInfo },
    L.world,
  );
  const a = kept.attachment as Record<string, unknown>;
  const b = fromRow.attachment as Record<string, unknown>;
  t.same(Object.keys(b).sort(), Object.keys(a).sort(), 'the same attachment keys');
  t.same({ ...fromRow, attachment: null }, { ...kept, attachment: null }, 'the same status, error code and info, id and type');
  for (const k of ['cluster_id', 'when_started', 'when_ended']) t.same(b[k], a[k], `attachment.${k}`);
  t.end();
});

t.test("the leader's retention: batches, and waits for the projection to pass the jobs' end", async (t) => {
  const { L, cluster } = scene();
  for (let n = 1; n <= 4; n++) L.family(cluster, n);
  const later: number[] = [];
  const projected = { index: 0, term: 1 };
  const seeds: { host: string; port: number }[] = [];
  const rt = {
    get world() {
      return L.world;
    },
    cfg: { int: (k: string) => (k === 'job_retention_count' ? 1 : 0), metaSeeds: seeds } as unknown as Config,
    metadata: { lastProjected: projected },
    host: { later: (_r: unknown, _k: string, ms: number) => void later.push(ms) },
    execute: (cmd: Command): Promise<ExecResult> => {
      const r = L.run(cmd, { system: 'job retention' });
      return Promise.resolve(r.ok ? { ok: true, index: L.index, result: r } : { ok: false, kind: 'refused', refusal: { ok: false, code: 'conflict', reason: r.reason } });
    },
  };
  const ret = new JobRetention(rt);
  const ctx = { term: 1, signal: new AbortController().signal, log: createLogger({ level: 'silent' }) };
  await ret.reconcile('jobs', ctx);
  t.equal(L.world.count('job'), 2, 'the first pass prunes at once: the newest family is kept');
  L.family(cluster, 5);
  t.same(ret.affected(new Set([`job/${L.world.next.job - 1}`])), ['jobs'], 'a job that ended wakes it');
  await ret.reconcile('jobs', ctx);
  t.equal(L.world.count('job'), 4, 'fewer than a batch right after a prune: they wait');
  t.ok(later.at(-1)! > 50_000 && later.at(-1)! <= PRUNE_EVERY_MS, `called again in ${later.at(-1)} ms`);

  // With a metadata shard: pruned only once the projection has passed an index where they had ended.
  seeds.push({ host: '127.0.0.1', port: 1 });
  const fresh = new JobRetention(rt);
  await fresh.reconcile('jobs', ctx);
  t.equal(L.world.count('job'), 4, 'not yet: the projection has not been seen past their end');
  projected.index = L.index;
  await fresh.reconcile('jobs', ctx);
  t.equal(L.world.count('job'), 2, 'pruned once the projection passed the index they were seen ended at');
  const running = L.start('add_comps', { cluster_id: String(cluster), comps: '1' });
  L.do({ kind: 'job.step_start', job: running, step: 'work', index: 0, total: 1 }, SYS);
  t.same(ret.affected(new Set([`job/${running}`])), [], "a running job's steps do not wake it");
});
