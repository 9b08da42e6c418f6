// CI run of the simulator: thousands of seeds, zero violations. Longer soak runs:
//   RAFT_SIM_SEEDS=200000 RAFT_SIM_START=5001 npx tap dist/test/raft/sim/sim.test.js
// or npm run sim -- --seeds 200000 --start 5001 --workers 0 (see docs/raft.md).
import { availableParallelism } from 'node:os';
import t from 'tap';
import { describeTotals, runBatch } from './batch.js';
import { describeViolation, runSeed } from './simulation.js';

function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer`);
  return n;
}

const SEEDS = envInt('RAFT_SIM_SEEDS', 5000);
const START = envInt('RAFT_SIM_START', 1);
const DURATION = envInt('RAFT_SIM_DURATION_MS', 2000);
const WORKERS = envInt('RAFT_SIM_WORKERS', Math.min(2, availableParallelism()));

t.test('a seed replays exactly', (t) => {
  const a = runSeed({ seed: 42, durationMs: 1000 });
  const b = runSeed({ seed: 42, durationMs: 1000 });
  t.same(a, b);
  t.ok(a.stats.events > 100 && a.stats.writesAcked > 0, 'and does some work');
  t.end();
});

t.test(`${SEEDS} seeds from ${START}: no safety violation`, async (t) => {
  const seeds = Array.from({ length: SEEDS }, (_, i) => START + i);
  const res = await runBatch({ seeds, durationMs: DURATION, workers: WORKERS });
  for (const v of res.violations) t.fail(describeViolation(v));
  t.comment(`${describeTotals(res.totals)} in ${(res.ms / 1000).toFixed(1)}s with ${WORKERS} worker(s)`);
  t.equal(res.totals.seeds, SEEDS, 'every seed ran');
  // The faults must actually have happened, or "no violation" means little.
  t.ok(res.totals.crashes > SEEDS && res.totals.leaders > SEEDS * 2, 'members crashed and leaders changed');
  t.ok(res.totals.snapshots > 0 && res.totals.confChanges > 0 && res.totals.transfers > 0, 'snapshots, membership changes, transfers');
  t.equal(res.violations.length, 0, `seeds=${SEEDS} violations=${res.violations.length}`);
});
