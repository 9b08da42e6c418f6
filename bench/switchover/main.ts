// Benchmark: planned switchover (manual_switch through POST /HttpService/Emit) of a real rbr shard (3
// MariaDB nodes, GTID + semi-sync) managed by a real 3-member cluster_mgr group, under a continuous
// writer (one acknowledged INSERT at a time, as an application account that read_only stops) that
// finds the writable primary the way a compute node does (asks the nodes after a failed write).
// Each trial switches the primary to the next node in turn and measures:
//   unavail  the longest gap between two acknowledged writes around the switch (write unavailability)
//   ro       the old primary's read-only window as the job measured it (fence start → target promoted)
//   switch   the job's run, accepted → done (the leader's event times)
//   client   request sent → get_status says done (as a client polling every 50 ms sees it)
//   lost     acknowledged writes missing on the new primary (checkAcknowledged), must be 0
// Prints a table, ends with one JSON line.
//
//   npm run bench:switchover [-- --trials 10 --probe-interval-ms 1000]
import os from 'node:os';
import { parseArgs } from 'node:util';
import { ContinuousWriter, checkAcknowledged } from '../../test/chaos/writer.js';
import { CLUSTER_ID, HA_APP, HaCluster, NODE_IDS, SHARD_ID } from '../../test/helpers/ha-cluster.js';
import { emit, hostPort, median, primaryFinder, waitJob } from '../../test/switch/helpers.js';
import { fmt, log, printTable, settled, stat } from '../failover/common.js';

interface Trial {
  trial: number;
  old: number;
  new: number;
  unavail_ms: number | null;
  readonly_ms: number | null;
  switch_ms: number | null;
  client_ms: number | null;
  failed_writes: number;
  acked: number;
  lost: number;
  error?: string;
}

interface JobInView {
  id: number;
  createdAt: number;
  endedAt: number | null;
  steps: { step: string; ok: boolean; info: string; startedAt: number; endedAt: number }[];
}

async function trial(ha: HaCluster, n: number): Promise<Trial> {
  const oldId = await settled(ha, 120_000);
  const toId = NODE_IDS[(NODE_IDS.indexOf(oldId as (typeof NODE_IDS)[number]) + 1) % NODE_IDS.length]!;
  const old = ha.instance(oldId);
  const to = ha.instance(toId);
  const out: Trial = { trial: n, old: oldId, new: toId, unavail_ms: null, readonly_ms: null, switch_ms: null, client_ms: null, failed_writes: 0, acked: 0, lost: 0 };
  let writer: ContinuousWriter | null = null;
  writer = new ContinuousWriter({ getPrimary: primaryFinder(ha.shard.nodes, () => writer), credentials: HA_APP, firstId: n * 10_000_000, queryTimeoutMs: 10_000 });
  writer.start();
  try {
    await writer.waitForAcks(200, 30_000);
    const t0 = Date.now();
    const a = await emit(ha, 'manual_switch', {
      cluster_id: String(CLUSTER_ID),
      shard_id: String(SHARD_ID),
      master_hostaddr: hostPort(old),
      assign_hostaddr: hostPort(to),
    });
    if (a.status !== 'accept') throw new Error(`manual_switch not accepted: ${a.error_code} ${a.error_info}`);
    const end = await waitJob(ha, a.job_id, 60_000);
    out.client_ms = Date.now() - t0;
    if (end.status !== 'done') throw new Error(`manual_switch ${end.status}: ${end.error_code} ${end.error_info}`);
    await writer.waitForAcks(200, 30_000, to.address);
    const t1 = Date.now();
    await writer.stop();
    // The longest silence between acknowledgements that overlaps the switch.
    const acks = writer.acked;
    let gap = 0;
    for (let i = 1; i < acks.length; i++) {
      const [p, q] = [acks[i - 1]!, acks[i]!];
      if (q.at >= t0 && p.at <= t1) gap = Math.max(gap, q.at - p.at);
    }
    out.unavail_ms = gap;
    out.failed_writes = writer.failed.filter((f) => f.at >= t0).length;
    out.acked = acks.length;
    const l = await ha.leader();
    const v = l ? await ha.group.get<{ jobs: JobInView[] }>(l.m, '/api/v1/view') : null;
    const job = v?.jobs.find((j) => j.id === Number(a.job_id));
    if (job) {
      out.switch_ms = job.endedAt !== null ? job.endedAt - job.createdAt : null;
      // The handler measures the old primary's read-only window (fence → promoted) in its 'switch' step.
      const sw = job.steps.find((s) => s.step === 'switch' && s.ok);
      const info = sw ? (JSON.parse(sw.info) as { readonly_ms?: unknown }) : null;
      out.readonly_ms = typeof info?.readonly_ms === 'number' ? info.readonly_ms : null;
    }
    const c = await to.connect();
    try {
      out.lost = (await checkAcknowledged(c, acks.map((x) => x.id))).missing.length;
    } finally {
      await c.end();
    }
  } catch (e) {
    out.error = e instanceof Error ? e.message : String(e);
    await writer.stop().catch(() => undefined);
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      trials: { type: 'string', default: '10' },
      'probe-interval-ms': { type: 'string', default: '1000' },
    },
    strict: true,
  });
  const trials = Number(values.trials);
  if (!Number.isInteger(trials) || trials < 1) throw new Error('--trials must be a positive integer');
  const probeMs = Number(values['probe-interval-ms']);
  const sets = [`probe_interval_ms=${probeMs}`];
  const loadBefore = os.loadavg().map((x) => Number(x.toFixed(2)));
  const ha = new HaCluster({ label: 'bench-switchover', sets });
  const stop = (): void => {
    void ha.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const results: Trial[] = [];
  try {
    log('starting the metadata shard, the rbr shard and 3 manager members');
    await ha.start();
    for (let i = 1; i <= trials; i++) {
      const r = await trial(ha, i);
      results.push(r);
      log(`trial ${i}: ${JSON.stringify(r)}`);
    }
  } finally {
    await ha.stop();
  }
  const col = (k: keyof Trial) => results.map((r) => r[k] as number | null);
  const med = (k: keyof Trial) => stat(col(k), median);
  const max = (k: keyof Trial) => stat(col(k), (v) => Math.max(...v));
  const header = ['trial', 'old→new', 'unavail ms', 'read-only ms', 'switch ms', 'client ms', 'failed writes', 'acked', 'lost'];
  const rows = results.map((r) => [String(r.trial), `${r.old}→${r.new}`, fmt(r.unavail_ms), fmt(r.readonly_ms), fmt(r.switch_ms), fmt(r.client_ms), String(r.failed_writes), String(r.acked), r.error ? `${r.lost} error: ${r.error}` : String(r.lost)]);
  const keys: (keyof Trial)[] = ['unavail_ms', 'readonly_ms', 'switch_ms', 'client_ms'];
  printTable([
    header,
    ...rows,
    ['median', '', ...keys.map((k) => fmt(med(k))), '', '', ''],
    ['max', '', ...keys.map((k) => fmt(max(k))), '', '', ''],
  ]);
  const lost = results.reduce((a, r) => a + r.lost, 0);
  const failed = results.filter((r) => r.error !== undefined).length;
  console.log(
    `write unavailability during manual_switch: median ${fmt(med('unavail_ms'))} ms (target ≤ 1000), max ${fmt(max('unavail_ms'))} ms; ` +
      `lost acknowledged writes: ${lost} (target 0); failed trials: ${failed}`,
  );
  const summary = {
    bench: 'switchover',
    trials,
    settings: { probe_interval_ms: probeMs, nodes: 3, members: 3, semi_sync: 'AFTER_SYNC, no async fallback', api: 'POST /HttpService/Emit manual_switch' },
    loadavg_before: loadBefore,
    loadavg_after: os.loadavg().map((x) => Number(x.toFixed(2))),
    cpus: os.cpus().length,
    per_trial: results,
    median: Object.fromEntries(keys.map((k) => [k, med(k)])),
    max: Object.fromEntries(keys.map((k) => [k, max(k)])),
    lost_writes: lost,
    failed_trials: failed,
    targets_met: failed === 0 && lost === 0 && (med('unavail_ms') ?? Infinity) <= 1000,
  };
  console.log(JSON.stringify(summary));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
