// Benchmark: what becomes of the old primary of an agent-run rbr shard (3 MariaDB nodes installed by
// the node agent through the API, a 3-member cluster_mgr group). Trials alternate a SIGSTOP (a hang)
// and a kill -9 of the primary under a continuous writer (an application account), and measure from
// the fault:
//   detect / promote   the failover.start / failover.finish events
//   ack                the first write acknowledged by the new primary
//   fence              how the old primary was fenced (kill: by its node agent)
//   truncated          binlog tails its crash recovery dropped (commits that waited for an ACK)
//   back               the old primary rejoined as a replica (or was marked needs_rebuild)
//   lost               acknowledged writes missing on the new primary, must be 0
// A trial whose old primary needs a rebuild ends the run (there is no rebuild job yet).
// `npm run bench:fence -- --trials N` prints a table and one JSON line.
import { parseArgs } from 'node:util';
import { AgentShard } from '../../test/e2e/agent-shard.js';
import { median } from '../../test/switch/helpers.js';
import { fmt, log, printTable, stat } from '../failover/common.js';
import { trial, type Trial } from './trial.js';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '6' } }, strict: true });
const trials = Number(values.trials);
if (!Number.isInteger(trials) || trials < 1) {
  console.error('bench:fence: --trials must be a whole number ≥ 1');
  process.exit(2);
}

// Back-to-back failovers of one shard: no anti-flapping interval (default 10 min).
const bed = new AgentShard('bench-fence', ['failover_min_interval_ms=0']);
const results: Trial[] = [];
try {
  const t0 = Date.now();
  await bed.start();
  log(`agent-run shard ready in ${Date.now() - t0} ms`);
  for (let n = 1; n <= trials; n++) {
    const fault = n % 2 === 1 ? 'sigstop' : 'kill9';
    const r = await trial(bed, n, fault);
    results.push(r);
    log(`trial ${n}: ${JSON.stringify(r)}`);
    if (r.outcome !== 'rejoined') break;
  }
} finally {
  await bed.stop();
}

const head = ['trial', 'fault', 'old→new', 'detect ms', 'promote ms', 'first ack ms', 'fence', 'truncated', 'old primary', 'back ms', 'acked', 'lost'];
printTable([
  head,
  ...results.map((r) => [String(r.trial), r.fault, `${r.old}→${r.new ?? '?'}`, fmt(r.detect_ms), fmt(r.promote_ms), fmt(r.first_ack_ms), r.fence ?? '?', String(r.truncated), r.outcome, fmt(r.back_ms), String(r.acked), String(r.lost)]),
]);
const summary = {
  trials: results.length,
  rejoined: results.filter((r) => r.outcome === 'rejoined').length,
  needs_rebuild: results.filter((r) => r.outcome === 'needs_rebuild').length,
  truncated_commits: results.reduce((a, r) => a + r.truncated, 0),
  first_ack_median_ms: stat(results.map((r) => r.first_ack_ms), median),
  back_median_ms: stat(results.map((r) => r.back_ms), median),
  lost_writes: results.reduce((a, r) => a + r.lost, 0),
};
console.log(`rejoined ${summary.rejoined}/${summary.trials}, needs_rebuild ${summary.needs_rebuild}, truncated commits ${summary.truncated_commits}, lost writes ${summary.lost_writes}`);
console.log(JSON.stringify({ bench: 'fence', results, ...summary }));
process.exit(summary.lost_writes === 0 && summary.rejoined === results.length && results.length === trials ? 0 : 1);
