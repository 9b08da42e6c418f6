// Runs a share of the seeds in a worker thread and reports each violation as it happens.
import { parentPort, workerData } from 'node:worker_threads';
import { emptyTotals, addStats, type WorkerData, type WorkerMessage } from './batch.js';
import { runSeed } from './simulation.js';

// Loaded outside a worker (e.g. a test runner given the whole directory): nothing to do.
if (parentPort !== null) {
  const port = parentPort;
  const data = workerData as WorkerData;
  const totals = emptyTotals();
  for (const seed of data.seeds) {
    const r = runSeed({ seed, durationMs: data.durationMs });
    addStats(totals, r.stats);
    if (r.violation) port.postMessage({ type: 'violation', result: r } satisfies WorkerMessage);
  }
  port.postMessage({ type: 'done', totals } satisfies WorkerMessage);
}
