// Benchmark: automatic failover of a real rbr shard (3 MariaDB nodes, GTID + semi-sync) managed by a
// real 3-member cluster_mgr group. Each trial kills the primary with kill -9 under a continuous
// writer (one acknowledged INSERT at a time, as an application account that read_only stops) that
// finds the writable primary the way a compute node does (asks the nodes after a failed write), and
// measures from the kill:
//   detect   the failover.start event (the manager concluded "dead" with the replicas' corroboration;
//            event times are the leader's clock, on this same machine)
//   promote  the failover.finish event (new primary recorded, others re-pointed)
//   ack      the first write acknowledged by the new primary
//   lost     acknowledged writes missing on the new primary (checkAcknowledged), must be 0
// Between trials the killed node is restarted and must rejoin (the manager re-points it) before the
// next trial kills the new primary; when the manager marks it for rebuild instead (it held a commit
// of its own that no replica acknowledged), a fresh test bed stands in for the rebuild. Prints a table, ends with one JSON line.
//
// `--fault sigstop` hangs the primary instead (SIGSTOP: it keeps its sockets and answers nothing). A
// hung primary is fenced by its machine's node agent (docs/ha.md, process-level fence), so that run
// uses an agent-run shard (created through the API, nodes installed by the agent) and the fence
// benchmark's trial (bench/fence/trial.ts), whose writer finds the primary the same way.
//
//   npm run bench:failover [-- --trials 10 --probe-interval-ms 1000 --fault kill9|sigstop]
import os from 'node:os';
import { parseArgs } from 'node:util';
import { ContinuousWriter, checkAcknowledged } from '../../test/chaos/writer.js';
import type { MariaDbInstance } from '../../src/launcher/index.js';
import { HA_APP, HaCluster, SHARD_ID, waitFor } from '../../test/helpers/ha-cluster.js';
import { median, primaryFinder } from '../../test/switch/helpers.js';
import { fmt, log, printTable, settled, stat, view } from './common.js';
import { AgentShard } from '../../test/e2e/agent-shard.js';
import { trial as agentTrial, type Trial as AgentTrial } from '../fence/trial.js';

interface Trial {
  trial: number;
  old: number;
  new: number | null;
  detect_ms: number | null;
  promote_ms: number | null;
  first_ack_ms: number | null;
  acked: number;
  lost: number;
  rejoin_ms: number | null;
  /** The killed primary held an unacknowledged commit of its own (errant): marked for rebuild. */
  old_needs_rebuild: boolean;
  error?: string;
}

async function trial(ha: HaCluster, n: number): Promise<Trial> {
  const oldId = await settled(ha, 120_000);
  const old = ha.instance(oldId);
  const before = (await view(ha))!.shards.find((x) => x.id === SHARD_ID)!.last?.task ?? null;
  let writer: ContinuousWriter | null = null;
  writer = new ContinuousWriter({
    getPrimary: primaryFinder(ha.shard.nodes, () => writer),
    credentials: HA_APP,
    firstId: n * 10_000_000,
    queryTimeoutMs: 10_000,
  });
  writer.start();
  const out: Trial = { trial: n, old: oldId, new: null, detect_ms: null, promote_ms: null, first_ack_ms: null, acked: 0, lost: 0, rejoin_ms: null, old_needs_rebuild: false };
  try {
    await writer.waitForAcks(200, 30_000);
    const killAt = Date.now();
    await old.kill9();
    const s = await waitFor(
      'the failover to finish',
      async () => {
        const v = await view(ha);
        const sh = v?.shards.find((x) => x.id === SHARD_ID);
        return sh && sh.task === null && sh.last && sh.last.task !== before && sh.last.outcome === 'finished' ? { v: v!, sh } : undefined;
      },
      60_000,
    );
    const last = s.sh.last!;
    out.new = last.primary;
    out.detect_ms = last.startedAt - killAt;
    out.promote_ms = last.endedAt - killAt;
    const np: MariaDbInstance = ha.instance(last.primary!);
    await writer.waitForAcks(100, 30_000, np.address);
    const first = writer.firstAckAfter(killAt, np.address);
    out.first_ack_ms = first ? first.at - killAt : null;
    await writer.stop();
    const ids = writer.acked.map((a) => a.id);
    out.acked = ids.length;
    const c = await np.connect();
    try {
      out.lost = (await checkAcknowledged(c, ids)).missing.length;
    } finally {
      await c.end();
    }
    // Restore three nodes: the killed one comes back read-only and the manager re-points it.
    const r0 = Date.now();
    await old.start();
    const how = await waitFor(
      'the killed node to rejoin or be marked for rebuild',
      async () => {
        const n = (await view(ha))?.nodes.find((x) => x.id === oldId);
        if (n?.repair === 'needs_rebuild') return 'rebuild';
        return (await settled(ha, 1).catch(() => undefined)) !== undefined ? 'rejoined' : undefined;
      },
      120_000,
    );
    if (how === 'rebuild') out.old_needs_rebuild = true;
    else out.rejoin_ms = Date.now() - r0;
  } catch (e) {
    out.error = e instanceof Error ? e.message : String(e);
    await writer.stop().catch(() => undefined);
    if (!old.running) await old.start().catch(() => undefined);
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      trials: { type: 'string', default: '10' },
      'probe-interval-ms': { type: 'string', default: '1000' },
      fault: { type: 'string', default: 'kill9' },
    },
    strict: true,
  });
  const trials = Number(values.trials);
  if (!Number.isInteger(trials) || trials < 1) throw new Error('--trials must be a positive integer');
  const probeMs = Number(values['probe-interval-ms']);
  if (!Number.isInteger(probeMs) || probeMs < 50) throw new Error('--probe-interval-ms must be a whole number ≥ 50');
  if (values.fault === 'sigstop') return sigstopBench(trials, probeMs);
  if (values.fault !== 'kill9') throw new Error(`--fault must be kill9 or sigstop, got "${values.fault}"`);
  // Anti-flapping off: the trials fail the same shard over again and again, seconds apart.
  const sets = [`probe_interval_ms=${probeMs}`, 'failover_min_interval_ms=0'];
  const loadBefore = os.loadavg().map((x) => Number(x.toFixed(2)));
  let ha = new HaCluster({ label: 'bench-failover', sets });
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
      if (i < trials && (r.old_needs_rebuild || r.error !== undefined)) {
        // No rebuild job yet: a fresh test bed stands in for rebuilding the killed node.
        log('the killed node needs a rebuild: starting a fresh shard and group for the next trial');
        await ha.stop();
        ha = new HaCluster({ label: 'bench-failover', sets });
        await ha.start();
      }
    }
  } finally {
    await ha.stop();
  }
  const col = (k: keyof Trial) => results.map((r) => r[k] as number | null);
  const header = ['trial', 'old→new', 'detect ms', 'promote ms', 'first ack ms', 'acked', 'lost', 'rejoin ms'];
  const rows = results.map((r) => [String(r.trial), `${r.old}→${r.new ?? '?'}`, fmt(r.detect_ms), fmt(r.promote_ms), fmt(r.first_ack_ms), String(r.acked), String(r.lost), r.error ? `error: ${r.error}` : r.old_needs_rebuild ? 'rebuild' : fmt(r.rejoin_ms)]);
  const medianRow = ['median', '', fmt(stat(col('detect_ms'), median)), fmt(stat(col('promote_ms'), median)), fmt(stat(col('first_ack_ms'), median)), '', '', fmt(stat(col('rejoin_ms'), median))];
  const maxRow = ['max', '', fmt(stat(col('detect_ms'), (v) => Math.max(...v))), fmt(stat(col('promote_ms'), (v) => Math.max(...v))), fmt(stat(col('first_ack_ms'), (v) => Math.max(...v))), '', '', fmt(stat(col('rejoin_ms'), (v) => Math.max(...v)))];
  printTable([header, ...rows, medianRow, maxRow]);
  const lost = results.reduce((a, r) => a + r.lost, 0);
  const failed = results.filter((r) => r.error !== undefined || r.first_ack_ms === null).length;
  const med = stat(col('first_ack_ms'), median);
  const max = stat(col('first_ack_ms'), (v) => Math.max(...v));
  console.log(
    `kill -9 → first acknowledged write on the new primary: median ${fmt(med)} ms (target ≤ 3000), max ${fmt(max)} ms (target ≤ 6000); ` +
      `lost acknowledged writes: ${lost} (target 0); failed trials: ${failed}`,
  );
  const summary = {
    bench: 'failover',
    trials,
    settings: { probe_interval_ms: probeMs, failover_min_interval_ms: 0, nodes: 3, members: 3, semi_sync: 'AFTER_SYNC, no async fallback' },
    loadavg_before: loadBefore,
    loadavg_after: os.loadavg().map((x) => Number(x.toFixed(2))),
    cpus: os.cpus().length,
    per_trial: results,
    median: { detect_ms: stat(col('detect_ms'), median), promote_ms: stat(col('promote_ms'), median), first_ack_ms: med },
    max: { detect_ms: stat(col('detect_ms'), (v) => Math.max(...v)), promote_ms: stat(col('promote_ms'), (v) => Math.max(...v)), first_ack_ms: max },
    lost_writes: lost,
    failed_trials: failed,
    old_primary_needs_rebuild: results.filter((r) => r.old_needs_rebuild).length,
    targets_met: failed === 0 && lost === 0 && med !== null && med <= 3000 && max !== null && max <= 6000,
  };
  console.log(JSON.stringify(summary));
}

/** SIGSTOP of the primary of an agent-run shard, trial after trial (see the header). */
async function sigstopBench(trials: number, probeMs: number): Promise<void> {
  const sets = [`probe_interval_ms=${probeMs}`, 'failover_min_interval_ms=0'];
  const loadBefore = os.loadavg().map((x) => Number(x.toFixed(2)));
  const bed = new AgentShard('bench-failover-sigstop', sets);
  const results: AgentTrial[] = [];
  try {
    log('starting an agent-run shard and 3 manager members');
    await bed.start();
    for (let n = 1; n <= trials; n++) {
      const r = await agentTrial(bed, n, 'sigstop');
      results.push(r);
      log(`trial ${n}: ${JSON.stringify(r)}`);
    }
  } finally {
    await bed.stop();
  }
  const col = (k: 'detect_ms' | 'promote_ms' | 'first_ack_ms' | 'back_ms') => results.map((r) => r[k]);
  const maxOf = (v: number[]): number => Math.max(...v);
  const header = ['trial', 'old→new', 'detect ms', 'promote ms', 'first ack ms', 'acked', 'lost', 'fence', 'old primary', 'back ms'];
  const rows = results.map((r) => [String(r.trial), `${r.old}→${r.new ?? '?'}`, fmt(r.detect_ms), fmt(r.promote_ms), fmt(r.first_ack_ms), String(r.acked), String(r.lost), r.fence ?? '?', r.outcome, fmt(r.back_ms)]);
  const agg = (f: (v: number[]) => number, label: string) => [label, '', fmt(stat(col('detect_ms'), f)), fmt(stat(col('promote_ms'), f)), fmt(stat(col('first_ack_ms'), f)), '', '', '', '', fmt(stat(col('back_ms'), f))];
  printTable([header, ...rows, agg(median, 'median'), agg(maxOf, 'max')]);
  const lost = results.reduce((a, r) => a + r.lost, 0);
  const failed = results.filter((r) => r.first_ack_ms === null).length;
  const med = stat(col('first_ack_ms'), median);
  const max = stat(col('first_ack_ms'), maxOf);
  console.log(
    `SIGSTOP → first acknowledged write on the new primary: median ${fmt(med)} ms (target ≤ 2500), max ${fmt(max)} ms (target ≤ 3000); ` +
      `lost acknowledged writes: ${lost} (target 0); failed trials: ${failed}`,
  );
  console.log(
    JSON.stringify({
      bench: 'failover',
      fault: 'sigstop',
      trials,
      settings: { probe_interval_ms: probeMs, failover_min_interval_ms: 0, nodes: 3, members: 3, agent: true },
      loadavg_before: loadBefore,
      loadavg_after: os.loadavg().map((x) => Number(x.toFixed(2))),
      per_trial: results,
      median: { detect_ms: stat(col('detect_ms'), median), promote_ms: stat(col('promote_ms'), median), first_ack_ms: med },
      max: { detect_ms: stat(col('detect_ms'), maxOf), promote_ms: stat(col('promote_ms'), maxOf), first_ack_ms: max },
      lost_writes: lost,
      failed_trials: failed,
      rejoined: results.filter((r) => r.outcome === 'rejoined').length,
      targets_met: failed === 0 && lost === 0 && med !== null && med <= 2500 && max !== null && max <= 3000,
    }),
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
