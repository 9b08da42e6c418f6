// Runs many seeds, inline or spread over worker threads, and adds up what they did.
import { Worker } from 'node:worker_threads';
import { runSeed, type SimResult, type SimStats } from './simulation.js';

export interface Totals {
  seeds: number;
  steps: number;
  writes: number;
  reads: number;
  leaders: number;
  crashes: number;
  snapshots: number;
  confChanges: number;
  transfers: number;
}

export interface WorkerData {
  seeds: number[];
  durationMs: number;
}

export type WorkerMessage = { type: 'violation'; result: SimResult } | { type: 'done'; totals: Totals };

export function emptyTotals(): Totals {
  return { seeds: 0, steps: 0, writes: 0, reads: 0, leaders: 0, crashes: 0, snapshots: 0, confChanges: 0, transfers: 0 };
}

export function addStats(t: Totals, s: SimStats): void {
  t.seeds++;
  t.steps += s.events;
  t.writes += s.writesAcked;
  t.reads += s.readsDone;
  t.leaders += s.elections;
  t.crashes += s.crashes;
  t.snapshots += s.snapshotsSent;
  t.confChanges += s.confChanges;
  t.transfers += s.transfers;
}

function addTotals(a: Totals, b: Totals): void {
  for (const k of Object.keys(a) as (keyof Totals)[]) a[k] += b[k];
}

export function describeTotals(t: Totals): string {
  return (
    `${t.steps} steps, ${t.writes} acknowledged writes, ${t.reads} linearizable reads, ${t.leaders} leaders, ` +
    `${t.crashes} crashes, ${t.snapshots} snapshots sent, ${t.confChanges} membership changes, ${t.transfers} transfers`
  );
}

export interface BatchOptions {
  seeds: number[];
  durationMs: number;
  workers: number;
  onViolation?: (r: SimResult) => void;
  /** Per-seed results (inline runs only). */
  onResult?: (r: SimResult) => void;
}

export interface BatchResult {
  violations: SimResult[];
  totals: Totals;
  ms: number;
}

export async function runBatch(o: BatchOptions): Promise<BatchResult> {
  const started = Date.now();
  const violations: SimResult[] = [];
  const totals = emptyTotals();
  const workers = Math.max(1, Math.min(o.workers, o.seeds.length));
  if (workers === 1) {
    for (const seed of o.seeds) {
      const r = runSeed({ seed, durationMs: o.durationMs });
      addStats(totals, r.stats);
      o.onResult?.(r);
      if (r.violation) {
        violations.push(r);
        o.onViolation?.(r);
      }
    }
    return { violations, totals, ms: Date.now() - started };
  }
  // Interleaved shares: neighbouring seeds cost about the same, so the workers finish together.
  const shares: number[][] = Array.from({ length: workers }, () => []);
  o.seeds.forEach((s, i) => shares[i % workers]!.push(s));
  await Promise.all(
    shares.map(
      (seeds) =>
        new Promise<void>((resolve, reject) => {
          const data: WorkerData = { seeds, durationMs: o.durationMs };
          // No inherited loaders (a test runner's instrumentation would only slow the worker down).
          const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: data, execArgv: [] });
          let done = false;
          w.on('message', (m: WorkerMessage) => {
            if (m.type === 'violation') {
              violations.push(m.result);
              o.onViolation?.(m.result);
            } else {
              addTotals(totals, m.totals);
              done = true;
            }
          });
          w.on('error', reject);
          w.on('exit', (code) => (done && code === 0 ? resolve() : reject(new Error(`simulator worker exited with ${code}`))));
        }),
    ),
  );
  violations.sort((a, b) => a.seed - b.seed);
  return { violations, totals, ms: Date.now() - started };
}
