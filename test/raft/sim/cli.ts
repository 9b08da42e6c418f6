// npm run sim -- --seeds N [--start S0] [--seed S] [--duration MS] [--workers W] [--trace] [--verbose]
// Runs the deterministic simulator over seeds and ends with "seeds=N violations=V" (exit 1 if V > 0).
import { availableParallelism } from 'node:os';
import { describeTotals, runBatch } from './batch.js';
import { describeViolation, runSeed } from './simulation.js';

interface CliArgs {
  seeds: number;
  start: number;
  seed: number | undefined;
  durationMs: number;
  workers: number;
  trace: boolean;
  verbose: boolean;
}

const USAGE = `usage: npm run sim -- [options]
  --seeds N       run seeds start..start+N-1 (default 100)
  --start S0      first seed (default 1)
  --seed S        run only seed S and print its stats (replay a failure)
  --duration MS   simulated milliseconds of faults and load per seed (default 2000)
  --workers W     worker threads (default 1; 0 = one per core)
  --trace         with --seed: print every step
  --verbose       print every seed's stats`;

function parse(argv: string[]): CliArgs {
  const out: CliArgs = { seeds: 100, start: 1, seed: undefined, durationMs: 2000, workers: 1, trace: false, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer`);
      return v;
    };
    if (a === '--seeds') out.seeds = num();
    else if (a === '--start') out.start = num();
    else if (a === '--seed') out.seed = num();
    else if (a === '--duration') out.durationMs = num();
    else if (a === '--workers') out.workers = num() || availableParallelism();
    else if (a === '--trace') out.trace = true;
    else if (a === '--verbose') out.verbose = true;
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  return out;
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (args.seed !== undefined) {
    const r = runSeed({ seed: args.seed, durationMs: args.durationMs, trace: args.trace ? (line) => console.log(line) : undefined });
    console.log(`seed ${args.seed}: ${r.violation ? 'VIOLATION' : 'ok'} ${JSON.stringify(r.stats)}`);
    if (r.violation) console.log(describeViolation(r));
    console.log(`seeds=1 violations=${r.violation ? 1 : 0}`);
    return r.violation ? 1 : 0;
  }
  const seeds = Array.from({ length: args.seeds }, (_, i) => args.start + i);
  const res = await runBatch({
    seeds,
    durationMs: args.durationMs,
    workers: args.workers,
    onViolation: (r) => console.log(describeViolation(r)),
    onResult: args.verbose ? (r) => console.log(`seed ${r.seed}: ${r.violation ? 'VIOLATION' : 'ok'} ${JSON.stringify(r.stats)}`) : undefined,
  });
  console.log(`${describeTotals(res.totals)} in ${(res.ms / 1000).toFixed(1)}s`);
  console.log(`seeds=${seeds.length} violations=${res.violations.length}`);
  return res.violations.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  },
);
