// npm run sim -- --seeds N [--seed S] [--start S0] [--duration MS] [--trace]
// Runs the deterministic simulator over seeds and ends with "seeds=N violations=V" (exit 1 if V > 0).
import { describeViolation, runSeed, type SimResult } from './simulation.js';

interface CliArgs {
  seeds: number;
  start: number;
  seed: number | undefined;
  durationMs: number;
  trace: boolean;
  verbose: boolean;
}

function parse(argv: string[]): CliArgs {
  const out: CliArgs = { seeds: 100, start: 1, seed: undefined, durationMs: 2000, trace: false, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer`);
      return v;
    };
    if (a === '--seeds') out.seeds = num();
    else if (a === '--start') out.start = num();
    else if (a === '--seed') out.seed = num();
    else if (a === '--duration') out.durationMs = num();
    else if (a === '--trace') out.trace = true;
    else if (a === '--verbose') out.verbose = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run sim -- [--seeds N] [--start S0] [--seed S] [--duration MS] [--trace] [--verbose]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return out;
}

function main(): number {
  const args = parse(process.argv.slice(2));
  const seeds = args.seed !== undefined ? [args.seed] : Array.from({ length: args.seeds }, (_, i) => args.start + i);
  const started = Date.now();
  let violations = 0;
  const totals = { events: 0, writes: 0, reads: 0, elections: 0, crashes: 0, snapshots: 0, confChanges: 0, transfers: 0 };
  for (const seed of seeds) {
    const r: SimResult = runSeed({
      seed,
      durationMs: args.durationMs,
      trace: args.trace ? (line: string) => console.log(line) : undefined,
    });
    const s = r.stats;
    totals.events += s.events;
    totals.writes += s.writesAcked;
    totals.reads += s.readsDone;
    totals.elections += s.elections;
    totals.crashes += s.crashes;
    totals.snapshots += s.snapshotsSent;
    totals.confChanges += s.confChanges;
    totals.transfers += s.transfers;
    if (args.verbose || args.seed !== undefined) {
      console.log(`seed ${seed}: ${r.violation ? 'VIOLATION' : 'ok'} ${JSON.stringify(s)}`);
    }
    if (r.violation) {
      violations++;
      console.log(describeViolation(r));
    }
  }
  const secs = (Date.now() - started) / 1000;
  console.log(
    `totals: ${totals.events} steps, ${totals.writes} acknowledged writes, ${totals.reads} reads, ` +
      `${totals.elections} leaders, ${totals.crashes} crashes, ${totals.snapshots} snapshots sent, ` +
      `${totals.confChanges} membership changes, ${totals.transfers} transfers in ${secs.toFixed(1)}s`,
  );
  console.log(`seeds=${seeds.length} violations=${violations}`);
  return violations > 0 ? 1 : 0;
}

process.exitCode = main();
