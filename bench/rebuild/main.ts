// Benchmark: rebuilding a storage node from a streamed physical copy, against the same copy done by
// hand on the same machine in the same run. A real 3-member cluster_mgr group, metadata shard and
// node agent on 127.0.0.1 (AgentShard); a 3-node rbr shard created through Emit; --size-gb of InnoDB
// data loaded into its primary and replicated. Then:
//   baseline   mariadb-backup --backup --stream=xbstream of a replica | mbstream -x, then --prepare
//   job        kill -9 of the other replica, its data dir deleted, rebuild_node (pv_limit 0: no limit)
//              through Emit until get_status says done; ratio job / baseline (goal ≤ 1.2)
//              (--trials pairs of these two, alternated; the ratio is the median of the pairs')
//   pv_limit   the same again with pv_limit --pv-limit-mb: the rate measured while it streams, and its
//              deviation from the limit (goal within 10 %)
// Prints a table and one JSON line; --markdown FILE also writes the table, the command and the machine.
//
//   npm run bench:rebuild [-- --size-gb 2 --trials 3 --pv-limit-mb 20 --markdown /tmp/rebuild.md]
//   npm run bench:rebuild -- --size-gb 0.05 --trials 1   (smoke run, about a minute)
import { rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Registry } from '../../src/agent/registry.js';
import { ADMIN } from '../../test/e2e/env.js';
import { AgentShard, pidAlive, tableChecksums, waitFor } from '../../test/e2e/agent-shard.js';
import { median } from '../../test/switch/helpers.js';
import { log, mib, printTable, rate, secs } from '../failover/common.js';
import { baselineCopy, type BaselineResult } from './baseline.js';
import { rebuildJob, type RebuildResult, type RebuildTarget } from './copy.js';
import { treeBytes } from '../../src/agent/disk.js';
import { BENCH_DB, startLoadedShard } from './load.js';
import { cpuSeconds, machine, writeMarkdown } from '../machine.js';

const MIB = 1024 * 1024;
/** The least stream over which the pv_limit rate is judged. */
const PV_MIN_MIB = 300;

const { values } = parseArgs({
  options: {
    'size-gb': { type: 'string', default: '2' },
    'pv-limit-mb': { type: 'string', default: '20' },
    writers: { type: 'string', default: '2' },
    trials: { type: 'string', default: '3' },
    markdown: { type: 'string' },
  },
  strict: true,
});
const sizeGb = Number(values['size-gb']);
const pvLimitMb = Number(values['pv-limit-mb']);
const writers = Number(values.writers);
const trials = Number(values.trials);
if (!(sizeGb > 0 && sizeGb <= 100)) fail('--size-gb must be a number of GiB above 0 and at most 100');
if (!Number.isInteger(pvLimitMb) || pvLimitMb < 1) fail('--pv-limit-mb must be a whole number of MiB/s ≥ 1');
if (!Number.isInteger(writers) || writers < 1 || writers > 8) fail('--writers must be a whole number from 1 to 8');
if (!Number.isInteger(trials) || trials < 1 || trials > 20) fail('--trials must be a whole number from 1 to 20');

function fail(why: string): never {
  console.error(`bench:rebuild: ${why}`);
  process.exit(2);
}


/** kill -9 of the node's server, then its data dir deleted: the lost disk the rebuild repairs. */
async function loseNode(bed: AgentShard, port: number): Promise<void> {
  const pid = await bed.pidOf(port);
  if (pid === null) throw new Error(`bench:rebuild: the agent runs no server on port ${port}`);
  process.kill(pid, 'SIGKILL');
  await waitFor(`the server on port ${port} to die`, () => Promise.resolve(!pidAlive(pid)), 10_000);
  rmSync(join(bed.env.base, 'storage', String(port), 'data'), { recursive: true, force: true });
}

/** Rebuilds the target; `same` says whether its tables' CHECKSUM TABLE then equals the source's. */
async function rebuild(o: RebuildTarget & { sourcePort: number }): Promise<RebuildResult & { same: boolean }> {
  await loseNode(o.bed, o.targetPort);
  const r = await rebuildJob(o);
  const sums = async (port: number): Promise<Record<string, string>> => {
    const c = await o.bed.adminConnection(port);
    try {
      return await tableChecksums(c, BENCH_DB);
    } finally {
      await c.end();
    }
  };
  const [want, got] = [await sums(o.sourcePort), await sums(o.targetPort)];
  return { ...r, same: Object.keys(want).length > 0 && JSON.stringify(got) === JSON.stringify(want) };
}

async function main(): Promise<void> {
  const bed = new AgentShard('bench-rebuild');
  const stop = (): void => {
    void bed.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const trialsDone: { base: BaselineResult; job: RebuildResult & { same: boolean; agentCpuS: number } }[] = [];
  let limited: RebuildResult & { same: boolean };
  let loaded: { tableBytes: number; rows: number; ms: number; dataDirBytes: number };
  const host = machine(os.tmpdir());
  try {
    const { settled: s, loaded: l } = await startLoadedShard(bed, sizeGb, writers);
    const replicas = s.nodes.filter((n) => n.id !== s.primary.id);
    const [target, source] = [replicas[0]!, replicas[1]!];
    const dataDirOf = (port: number): string => join(bed.env.base, 'storage', String(port), 'data');
    log(`rebuilt replica ${target.port}, source replica ${source.port}`);
    loaded = { ...l, dataDirBytes: treeBytes(dataDirOf(source.port)) };
    log(`source data dir ${mib(loaded.dataDirBytes)} MiB`);

    const rec = Registry.load(bed.env.base).get(source.port);
    if (!rec) throw new Error(`bench:rebuild: the agent's registry has no instance on port ${source.port}`);
    const agentPid = bed.env.agent.proc?.pid;
    const agentCpu = (): number => (agentPid === undefined ? NaN : cpuSeconds(agentPid));
    const common = { bed, targetPort: target.port, sourcePort: source.port, timeoutMs: 3_600_000 };
    // Baseline and rebuild alternate, so a burst of other work on the machine hits both alike.
    for (let i = 1; i <= trials; i++) {
      log(`trial ${i}: baseline: mariadb-backup --backup --stream | mbstream -x, then --prepare`);
      const b = await baselineCopy(rec, ADMIN, join(bed.env.dir, 'baseline'));
      log(`trial ${i}: baseline: ${mib(b.bytes)} MiB streamed in ${secs(b.streamMs)} s, prepared in ${secs(b.prepareMs)} s`);
      log(`trial ${i}: rebuild without a limit (pv_limit 0)`);
      const cpu0 = agentCpu();
      const r = await rebuild({ ...common, pvLimitMb: 0 });
      const cpu = agentCpu() - cpu0;
      log(`trial ${i}: rebuild_node job ${r.jobId}: ${mib(r.bytes)} MiB in ${secs(r.ms)} s, the agent's own CPU ${cpu.toFixed(1)} s`);
      trialsDone.push({ base: b, job: { ...r, agentCpuS: cpu } });
      await bed.settled(300_000);
    }
    log(`rebuild with pv_limit ${pvLimitMb} MiB/s`);
    limited = await rebuild({ ...common, pvLimitMb });
    log(`rebuild_node job ${limited.jobId}: ${mib(limited.bytes)} MiB in ${secs(limited.ms)} s`);
  } finally {
    await bed.stop();
  }

  const baseMsOf = (b: BaselineResult): number => b.streamMs + b.prepareMs;
  const ratios = trialsDone.map((t) => t.job.ms / baseMsOf(t.base));
  const ratio = median(ratios);
  const baseMs = median(trialsDone.map((t) => baseMsOf(t.base)));
  const measured = limited.sampledBytesPerSec ?? limited.agentAvgBytesPerSec;
  const deviation = measured / (pvLimitMb * MIB) - 1;
  // A few seconds of stream are mostly the 250 ms sampling and the backup's start: no verdict on them.
  const longEnough = limited.bytes >= PV_MIN_MIB * MIB;
  const rows = [['run', 'MiB', 's', 'MiB/s', '× baseline', 'same checksums', 'note']];
  for (const [i, t] of trialsDone.entries()) {
    const bm = baseMsOf(t.base);
    rows.push([`${i + 1}: baseline (by hand)`, mib(t.base.bytes), secs(bm), rate(t.base.bytes, bm), '1.00', '', `stream ${secs(t.base.streamMs)} s (${rate(t.base.bytes, t.base.streamMs)} MiB/s) + prepare ${secs(t.base.prepareMs)} s`]);
    rows.push([`${i + 1}: rebuild_node, pv_limit 0`, mib(t.job.bytes), secs(t.job.ms), rate(t.job.bytes, t.job.ms), ratios[i]!.toFixed(2), t.job.same ? 'yes' : 'NO', `Emit → done; the agent's copy ${secs(t.job.agentCopyMs)} s of it; the agent's own CPU ${t.job.agentCpuS.toFixed(1)} s`]);
  }
  const jobMs = median(trialsDone.map((t) => t.job.ms));
  const bytesOf = (xs: number[]): number => median(xs);
  rows.push(
    ['baseline, median', mib(bytesOf(trialsDone.map((t) => t.base.bytes))), secs(baseMs), rate(bytesOf(trialsDone.map((t) => t.base.bytes)), baseMs), '1.00', '', `${trials} trial(s)`],
    ['rebuild_node, pv_limit 0, median', mib(bytesOf(trialsDone.map((t) => t.job.bytes))), secs(jobMs), rate(bytesOf(trialsDone.map((t) => t.job.bytes)), jobMs), ratio.toFixed(2), trialsDone.every((t) => t.job.same) ? 'yes' : 'NO', 'ratio: median of the per-trial ratios; goal ≤ 1.20'],
    [
      `rebuild_node, pv_limit ${pvLimitMb}`,
      mib(limited.bytes),
      secs(limited.ms),
      rate(limited.bytes, limited.ms),
      (limited.ms / baseMs).toFixed(2),
      limited.same ? 'yes' : 'NO',
      `streaming at ${(measured / MIB).toFixed(2)} MiB/s (${(deviation * 100).toFixed(1)} % from the limit; goal within 10 %)` +
        (longEnough ? '' : `; under ${PV_MIN_MIB} MiB: too short to judge the limit`),
    ],
  );
  printTable(rows);
  const command = `npm run bench:rebuild -- ${process.argv.slice(2).join(' ')}`.trim();
  const summary = {
    bench: 'rebuild',
    command,
    machine: host,
    loadavg_after: os.loadavg().map((x) => Number(x.toFixed(2))),
    data: { size_gb: sizeGb, rows: loaded.rows, table_bytes: loaded.tableBytes, source_datadir_bytes: loaded.dataDirBytes, load_ms: loaded.ms },
    trials: trialsDone.map((t, i) => ({ baseline: { bytes: t.base.bytes, stream_ms: t.base.streamMs, prepare_ms: t.base.prepareMs }, job: t.job, ratio: Number(ratios[i]!.toFixed(3)) })),
    ratio_median: Number(ratio.toFixed(3)),
    pv_limit: { limit_mib_s: pvLimitMb, ...limited, measured_bytes_per_sec: Math.round(measured), deviation: Number(deviation.toFixed(4)) },
    targets_met: trialsDone.every((t) => t.job.same) && limited.same && ratio <= 1.2 && longEnough && Math.abs(deviation) <= 0.1,
  };
  console.log(JSON.stringify(summary));
  if (values.markdown !== undefined) {
    writeMarkdown(values.markdown, { command, host, loadAfter: summary.loadavg_after, data: `${loaded.rows} rows, ${mib(loaded.tableBytes)} MiB of table files (source data dir ${mib(loaded.dataDirBytes)} MiB).`, rows });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
