// `npm run chaos -- --seed N --rounds R [--max-hold-ms M]`: a seeded fault schedule against a real rbr
// shard and manager group (see schedule.ts). Prints a table and one JSON line; exits 1 on a violation.
// The same seed replays the same faults, targets and hold times.
import { parseArgs } from 'node:util';
import { runSchedule } from './schedule.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    rounds: { type: 'string', default: '10' },
    'max-hold-ms': { type: 'string', default: '8000' },
  },
  strict: true,
});
const seed = Number(values.seed);
const rounds = Number(values.rounds);
const maxHoldMs = Number(values['max-hold-ms']);
for (const [k, v] of [['--seed', seed], ['--rounds', rounds], ['--max-hold-ms', maxHoldMs]] as const) {
  if (!Number.isInteger(v) || v < 0) {
    console.error(`chaos: ${k} must be a non-negative integer`);
    process.exit(2);
  }
}
const log = (s: string): void => void process.stderr.write(`${new Date().toISOString()} ${s}\n`);
const r = await runSchedule({ seed, rounds, maxHoldMs, log });
const rows = [['round', 'fault', 'target', 'hold ms', 'primary', 'outcome', 'converge ms', 'acked', 'lost', '2 writable ms']];
for (const x of r.rounds) {
  rows.push([String(x.round), x.fault, x.target, String(x.holdMs), `${x.primaryBefore}→${x.primaryAfter ?? '?'}`, x.error ? `${x.outcome} (${x.error})` : x.outcome, String(x.convergeMs ?? 'n/a'), String(x.acked), String(x.lost), String(x.twoWritableMs)]);
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
for (const row of rows) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join('  '));
console.log(r.violations.length === 0 ? `seed=${seed} rounds=${rounds} violations=0` : `seed=${seed} violations=${r.violations.length}:\n  ${r.violations.join('\n  ')}\nreplay: npm run chaos -- --seed ${seed} --rounds ${rounds}`);
console.log(JSON.stringify({ chaos: true, seed, rounds: r.rounds, violations: r.violations }));
process.exit(r.violations.length === 0 ? 0 : 1);
