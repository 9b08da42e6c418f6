// A seeded chaos schedule on real servers (design §5): kill -9 / SIGSTOP of primaries, replicas and the
// manager leader under a continuous writer; no acknowledged write lost, the shard converges every time.
// CI runs one fixed seed; `npm run chaos -- --seed N --rounds R` explores others.
import t from 'tap';
import { runSchedule } from './schedule.js';

// A seed whose 8 rounds hit every fault kind, with a SIGSTOP of the primary long enough to fail over
// and one of the manager leader long enough to lose the leadership.
const SEED = 590;
const ROUNDS = 8;

t.test(`chaos schedule, seed ${SEED}: no acknowledged write lost, the shard converges after every fault`, async (t) => {
  const r = await runSchedule({ seed: SEED, rounds: ROUNDS, maxHoldMs: 8_000, label: 'chaos-test', log: (s) => t.comment(s) });
  t.equal(r.rounds.length, ROUNDS, `${ROUNDS} rounds ran`);
  for (const x of r.rounds) {
    t.equal(x.lost, 0, `round ${x.round} (${x.fault} ${x.target}, held ${x.holdMs} ms): ${x.acked} acknowledged, none lost`);
    t.not(x.outcome, 'stuck', `round ${x.round}: ${x.outcome}${x.convergeMs !== null ? ` in ${x.convergeMs} ms` : ''}${x.error ? ` (${x.error})` : ''}`);
  }
  t.same(r.violations, [], 'no violation');
});
