// Benchmark: manual_backup_cluster into an fs backup storage, against the same backup done by hand on
// the same machine in the same run. A real 3-member cluster_mgr group, metadata shard and node agent
// on 127.0.0.1 (AgentShard); a 3-node rbr shard; --size-gb of InnoDB data (random bytes: gzip cannot
// shrink them) loaded into its primary as bench:rebuild loads it, and replicated. Then, per trial:
//   job       manual_backup_cluster through Emit until get_status says done (the agent streams the
//             replica's xbstream, the leader gzips it at level 1 and writes it into the storage);
//             the leader member's and the node agent's CPU seconds meanwhile, from /proc
//   by hand   mariadb-backup --backup --stream=xbstream of the same replica | gzip -1 > a file in the
//             same storage directory (then fsync, as the storage does)
// alternated; ratio job / by hand per trial, the median of them (goal ≤ 1.15). Once more at the end:
// the job with verify 1 (restore check). Prints a table and one JSON line; --markdown FILE also
// writes the table, the command and the machine.
//
//   npm run bench:backup [-- --size-gb 2 --trials 3 --markdown /tmp/backup.md]
//   npm run bench:backup -- --size-gb 0.05 --trials 1   (smoke run, about a minute)
import { mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Registry } from '../../src/agent/registry.js';
import type { BackupManifest } from '../../src/backup/manifest.js';
import { ADMIN } from '../../test/e2e/env.js';
import { AgentShard } from '../../test/e2e/agent-shard.js';
import { median } from '../../test/switch/helpers.js';
import { log, mib, printTable, rate, secs } from '../failover/common.js';
import { cpuSeconds, machine, writeMarkdown } from '../machine.js';
import { startLoadedShard } from '../rebuild/load.js';
import { backupByHand, type ByHandResult } from './by-hand.js';

const GOAL = 1.15;

const { values } = parseArgs({
  options: {
    'size-gb': { type: 'string', default: '2' },
    writers: { type: 'string', default: '2' },
    trials: { type: 'string', default: '3' },
    markdown: { type: 'string' },
  },
  strict: true,
});
const sizeGb = Number(values['size-gb']);
const writers = Number(values.writers);
const trials = Number(values.trials);
if (!(sizeGb > 0 && sizeGb <= 100)) fail('--size-gb must be a number of GiB above 0 and at most 100');
if (!Number.isInteger(writers) || writers < 1 || writers > 8) fail('--writers must be a whole number from 1 to 8');
if (!Number.isInteger(trials) || trials < 1 || trials > 20) fail('--trials must be a whole number from 1 to 20');

function fail(why: string): never {
  console.error(`bench:backup: ${why}`);
  process.exit(2);
}


interface JobResult {
  jobId: string;
  /** The shard's child job. */
  shardJobId: string;
  node: string;
  /** Request → get_status done. */
  ms: number;
  /** The backup_data step as the manifest dates it (stream start → stored). */
  streamMs: number;
  streamBytes: number;
  storedBytes: number;
  /** The leader member's user + system CPU seconds over `ms`. */
  leaderCpuS: number;
  /** The node agent's own (its children, mariadb-backup, not counted). */
  agentCpuS: number;
  /** With verify 1: the restore check's own seconds, as the job recorded them. */
  verifyS?: number;
}

async function backupJob(bed: AgentShard, storageDir: string, verify: boolean): Promise<JobResult> {
  const env = bed.env;
  const leader = await env.leader();
  const cpuOf = (pid: number | undefined) => (): number => (pid === undefined ? NaN : cpuSeconds(pid));
  const [cpu, agentCpu] = [cpuOf(leader.proc?.pid), cpuOf(env.agent.proc?.pid)];
  const t0 = Date.now();
  const [cpu0, agentCpu0] = [cpu(), agentCpu()];
  const a = await env.emit(leader, 'manual_backup_cluster', { cluster_id: String(bed.cluster), backup_storage: 'bench', verify: verify ? '1' : '0' });
  if (a.status !== 'accept') throw new Error(`bench:backup: manual_backup_cluster not accepted: ${a.error_code} ${a.error_info}`);
  const r = await env.wait(a.job_id, 3_600_000);
  const ms = Date.now() - t0;
  const [leaderCpuS, agentCpuS] = [cpu() - cpu0, agentCpu() - agentCpu0];
  if (r.status !== 'done') throw new Error(`bench:backup: manual_backup_cluster job ${a.job_id} ended ${r.status}: ${r.error_code} ${r.error_info}`);
  if ((await env.leader()) !== leader) throw new Error(`bench:backup: the leader changed during job ${a.job_id}: its CPU figure would be wrong`);
  const shards = (r.attachment as { shards: { job_id: string; node: string; manifest_key?: string }[] }).shards;
  const e = shards[0];
  if (shards.length !== 1 || e?.manifest_key === undefined) throw new Error(`bench:backup: job ${a.job_id} did not store one shard backup: ${JSON.stringify(shards)}`);
  const m = JSON.parse(readFileSync(join(storageDir, e.manifest_key), 'utf8')) as BackupManifest;
  let verifyS: number | undefined;
  if (verify) {
    const st = await env.emit(leader, 'get_status', {}, e.job_id);
    verifyS = (st.attachment as { verify?: { seconds: number } } | null)?.verify?.seconds;
    if (verifyS === undefined) throw new Error(`bench:backup: shard backup ${e.job_id} holds no verify result`);
  }
  return {
    jobId: a.job_id,
    shardJobId: e.job_id,
    node: e.node,
    ms,
    streamMs: Date.parse(m.ended_at) - Date.parse(m.started_at),
    streamBytes: m.stream.bytes,
    storedBytes: m.data.bytes,
    leaderCpuS,
    agentCpuS,
    ...(verifyS === undefined ? {} : { verifyS }),
  };
}

async function main(): Promise<void> {
  const bed = new AgentShard('bench-backup');
  const stop = (): void => {
    void bed.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const trialsDone: { hand: ByHandResult; job: JobResult }[] = [];
  let verified: JobResult;
  let loaded: { tableBytes: number; rows: number; ms: number };
  const host = machine(os.tmpdir());
  try {
    ({ loaded } = await startLoadedShard(bed, sizeGb, writers));

    const storageDir = join(bed.env.dir, 'backups');
    mkdirSync(storageDir, { recursive: true });
    await bed.env.run('create_backup_storage', { name: 'bench', stype: 'fs', path: storageDir });
    const registry = Registry.load(bed.env.base);
    // Job and by hand alternate, so a burst of other work on the machine hits both alike. The job
    // goes first: its choice of replica is the one the by-hand backup then reads.
    for (let i = 1; i <= trials; i++) {
      log(`trial ${i}: manual_backup_cluster`);
      const job = await backupJob(bed, storageDir, false);
      log(`trial ${i}: job ${job.jobId}: ${mib(job.streamBytes)} MiB streamed from ${job.node}, ${mib(job.storedBytes)} MiB stored, in ${secs(job.ms)} s; the leader's CPU ${job.leaderCpuS.toFixed(1)} s, the agent's ${job.agentCpuS.toFixed(1)} s`);
      const port = Number(job.node.split(':').pop());
      const rec = registry.get(port);
      if (!rec) throw new Error(`bench:backup: the agent's registry has no instance on port ${port}`);
      log(`trial ${i}: by hand: mariadb-backup --backup --stream=xbstream | gzip -1 > file`);
      const hand = await backupByHand(rec, ADMIN, join(bed.env.dir, 'by-hand'), join(storageDir, `by-hand-${i}.xbstream.gz`));
      log(`trial ${i}: by hand: ${mib(hand.streamBytes)} MiB streamed, ${mib(hand.storedBytes)} MiB stored, in ${secs(hand.ms)} s`);
      trialsDone.push({ hand, job });
    }
    log('manual_backup_cluster with verify 1');
    verified = await backupJob(bed, storageDir, true);
    log(`job ${verified.jobId}: ${secs(verified.ms)} s, of which verify ${verified.verifyS} s`);
  } finally {
    await bed.stop();
  }

  const ratios = trialsDone.map((t) => t.job.ms / t.hand.ms);
  const ratio = median(ratios);
  const handMs = median(trialsDone.map((t) => t.hand.ms));
  const jobMs = median(trialsDone.map((t) => t.job.ms));
  const rows = [['run', 'stream MiB', 'stored MiB', 's', 'stream MiB/s', '× by hand', 'note']];
  const jobNote = (j: JobResult): string => `Emit → done; stream → stored ${secs(j.streamMs)} s; the leader's CPU ${j.leaderCpuS.toFixed(1)} s, the agent's ${j.agentCpuS.toFixed(1)} s`;
  for (const [i, t] of trialsDone.entries()) {
    rows.push([`${i + 1}: by hand`, mib(t.hand.streamBytes), mib(t.hand.storedBytes), secs(t.hand.ms), rate(t.hand.streamBytes, t.hand.ms), '1.00', 'mariadb-backup --stream=xbstream | gzip -1 > file; fsync']);
    rows.push([`${i + 1}: manual_backup_cluster`, mib(t.job.streamBytes), mib(t.job.storedBytes), secs(t.job.ms), rate(t.job.streamBytes, t.job.ms), ratios[i]!.toFixed(2), jobNote(t.job)]);
  }
  const handBytes = median(trialsDone.map((t) => t.hand.streamBytes));
  const jobBytes = median(trialsDone.map((t) => t.job.streamBytes));
  rows.push(
    ['by hand, median', mib(handBytes), mib(median(trialsDone.map((t) => t.hand.storedBytes))), secs(handMs), rate(handBytes, handMs), '1.00', `${trials} trial(s)`],
    ['manual_backup_cluster, median', mib(jobBytes), mib(median(trialsDone.map((t) => t.job.storedBytes))), secs(jobMs), rate(jobBytes, jobMs), ratio.toFixed(2), `ratio: median of the per-trial ratios; goal ≤ ${GOAL.toFixed(2)}`],
    ['manual_backup_cluster, verify 1', mib(verified.streamBytes), mib(verified.storedBytes), secs(verified.ms), rate(verified.streamBytes, verified.ms), (verified.ms / handMs).toFixed(2), `${jobNote(verified)}; verify (restore check) ${verified.verifyS} s`],
  );
  printTable(rows);
  const command = `npm run bench:backup -- ${process.argv.slice(2).join(' ')}`.trim();
  const summary = {
    bench: 'backup',
    command,
    machine: host,
    loadavg_after: os.loadavg().map((x) => Number(x.toFixed(2))),
    data: { size_gb: sizeGb, rows: loaded.rows, table_bytes: loaded.tableBytes, load_ms: loaded.ms },
    compression: 'gzip level 1 (the job: node zlib on the leader; by hand: gzip -1)',
    trials: trialsDone.map((t, i) => ({ by_hand: t.hand, job: t.job, ratio: Number(ratios[i]!.toFixed(3)) })),
    ratio_median: Number(ratio.toFixed(3)),
    verify: verified,
    targets_met: ratio <= GOAL,
  };
  console.log(JSON.stringify(summary));
  if (values.markdown !== undefined) {
    writeMarkdown(values.markdown, { command, host, loadAfter: summary.loadavg_after, data: `${loaded.rows} rows, ${mib(loaded.tableBytes)} MiB of table files.`, rows });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
