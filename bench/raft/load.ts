// One HTTP/1.1 keep-alive load generator for both systems: `concurrency` workers, each with its own
// connection, each sending the next put as soon as the previous one is answered (closed loop).
// Warm-up requests are not counted; latency is measured per request from send to full response.

import http from 'node:http';
import { postJson, putBody } from '../../test/raft/kv/kv-client.js';

export interface LoadResult {
  concurrency: number;
  ops: number;
  errors: number;
  seconds: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LoadOptions {
  host: string;
  port: number;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  payloadBytes: number;
  keyspace: number;
}

/** Request bodies built once so the generator spends its CPU on requests, not on base64. */
export function makeBodies(keyspace: number, payloadBytes: number): string[] {
  const bodies: string[] = [];
  for (let i = 0; i < keyspace; i++) {
    const v = Buffer.alloc(payloadBytes);
    for (let j = 0; j < payloadBytes; j++) v[j] = (i * 131 + j * 7) & 0xff;
    bodies.push(putBody(`key-${String(i).padStart(8, '0')}`, v));
  }
  return bodies;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export async function runLoad(o: LoadOptions, bodies: string[]): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency, maxFreeSockets: o.concurrency });
  let lat = new Float64Array(1 << 16);
  let n = 0;
  let errors = 0;
  let firstError = '';
  const start = performance.now();
  const measureFrom = start + o.warmupMs;
  const end = measureFrom + o.durationMs;
  let next = 0;
  async function worker(): Promise<void> {
    while (performance.now() < end) {
      const body = bodies[next++ % bodies.length] as string;
      const t0 = performance.now();
      let ok = false;
      try {
        const r = await postJson(agent, o.host, o.port, '/v3/kv/put', body, 10000);
        ok = r.status === 200;
        if (!ok && !firstError) firstError = `HTTP ${r.status}: ${r.body.slice(0, 200)}`;
      } catch (err) {
        if (!firstError) firstError = String(err);
      }
      const t1 = performance.now();
      if (t0 < measureFrom || t1 > end) continue;
      if (!ok) {
        errors++;
        continue;
      }
      if (n === lat.length) {
        const bigger = new Float64Array(lat.length * 2);
        bigger.set(lat);
        lat = bigger;
      }
      lat[n++] = t1 - t0;
    }
  }
  await Promise.all(Array.from({ length: o.concurrency }, () => worker()));
  agent.destroy();
  if (errors > 0) process.stderr.write(`load: ${errors} failed requests at concurrency ${o.concurrency}; first: ${firstError}\n`);
  const sorted = lat.slice(0, n).sort();
  const seconds = o.durationMs / 1000;
  return {
    concurrency: o.concurrency,
    ops: n,
    errors,
    seconds,
    opsPerSec: n / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: n > 0 ? (sorted[n - 1] as number) : NaN,
  };
}
