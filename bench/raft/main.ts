// Benchmark: our 3-member Raft group (kv-demo processes, WAL with fsync) against a 3-member etcd,
// both on loopback on this machine, through the same HTTP/1.1 keep-alive load generator sending
// etcd-style JSON puts of 256-byte values to the leader. Levels are interleaved (ours, then etcd, at
// each concurrency) so both systems see the same background load. Ends with one JSON line.
//
//   npm run bench:raft [-- --duration 8 --warmup 2 --levels 1,16,64,256 --payload 256 --wal-sync auto]

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { KvDemoCluster } from '../../test/raft/kv/kv-demo-process.js';
import { EtcdCluster } from './etcd-cluster.js';
import { makeBodies, runLoad, type LoadResult } from './load.js';

interface Row extends LoadResult {
  system: 'ours' | 'etcd';
}

function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '8' },
      warmup: { type: 'string', default: '2' },
      levels: { type: 'string', default: '1,16,64,256' },
      payload: { type: 'string', default: '256' },
      keyspace: { type: 'string', default: '10000' },
      systems: { type: 'string', default: 'ours,etcd' },
      'wal-sync': { type: 'string', default: 'auto' },
    },
    strict: true,
  });
  const durationMs = Number(values.duration) * 1000;
  const warmupMs = Number(values.warmup) * 1000;
  const payloadBytes = Number(values.payload);
  const keyspace = Number(values.keyspace);
  const levels = values.levels.split(',').map(Number);
  const systems = values.systems.split(',');
  // The machine is shared: record its load before we add ours, and again at the end.
  const loadBefore = os.loadavg().map((x) => Number(x.toFixed(2)));
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cmgr-raft-bench-'));
  const ours = await KvDemoCluster.create({
    root: path.join(root, 'ours'),
    ids: ['m1', 'm2', 'm3'],
    extraArgs: ['--wal-sync', values['wal-sync']],
  });
  const etcd = new EtcdCluster(path.join(root, 'etcd'));
  const killAll = () => {
    ours.killAllSync();
    etcd.killAllSync();
  };
  process.on('exit', killAll);
  process.on('SIGINT', () => process.exit(130));
  process.on('SIGTERM', () => process.exit(143));

  const rows: Row[] = [];
  try {
    const bodies = makeBodies(keyspace, payloadBytes);
    let oursPort = 0;
    let etcdPort = 0;
    if (systems.includes('ours')) {
      await ours.startAll();
      const leader = await ours.waitLeader(20000);
      oursPort = ours.member(leader).httpPort;
      process.stderr.write(`ours: leader ${leader} on http port ${oursPort}\n`);
    }
    if (systems.includes('etcd')) {
      await etcd.start(3);
      etcdPort = await etcd.leaderClientPort();
      process.stderr.write(`etcd: leader on client port ${etcdPort}\n`);
    }
    for (const c of levels) {
      for (const system of ['ours', 'etcd'] as const) {
        if (!systems.includes(system)) continue;
        const port = system === 'ours' ? oursPort : etcdPort;
        const r = await runLoad({ host: '127.0.0.1', port, concurrency: c, warmupMs, durationMs, payloadBytes, keyspace }, bodies);
        rows.push({ system, ...r });
        process.stderr.write(
          `${system} c=${c}: ${fmt(r.opsPerSec, 0)} ops/s p50 ${fmt(r.p50Ms)} ms p99 ${fmt(r.p99Ms)} ms (errors ${r.errors})\n`,
        );
      }
    }
  } finally {
    await ours.killAll();
    await etcd.stop();
    process.off('exit', killAll);
    fs.rmSync(root, { recursive: true, force: true });
  }

  const header = ['system', 'concurrency', 'ops/s', 'p50 ms', 'p99 ms', 'errors'];
  const lines: string[][] = [header];
  const ratios: Array<{ concurrency: number; throughput: number; p50: number; p99: number }> = [];
  for (const c of levels) {
    const o = rows.find((r) => r.system === 'ours' && r.concurrency === c);
    const e = rows.find((r) => r.system === 'etcd' && r.concurrency === c);
    for (const r of [o, e]) if (r) lines.push([r.system, String(c), fmt(r.opsPerSec, 0), fmt(r.p50Ms), fmt(r.p99Ms), String(r.errors)]);
    if (o && e) {
      const ratio = { concurrency: c, throughput: o.opsPerSec / e.opsPerSec, p50: o.p50Ms / e.p50Ms, p99: o.p99Ms / e.p99Ms };
      ratios.push(ratio);
      lines.push(['ours/etcd', String(c), `${fmt(ratio.throughput)}x`, `${fmt(ratio.p50)}x`, `${fmt(ratio.p99)}x`, '']);
    }
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  for (const l of lines) console.log(l.map((cell, i) => cell.padStart(widths[i] as number)).join('  '));

  const r64 = ratios.find((r) => r.concurrency === 64);
  const r1 = ratios.find((r) => r.concurrency === 1);
  const summary = {
    bench: 'raft',
    payloadBytes,
    walSync: values['wal-sync'],
    durationS: durationMs / 1000,
    warmupS: warmupMs / 1000,
    keyspace,
    machine: {
      cpus: os.cpus().length,
      loadavgBefore: loadBefore,
      loadavgAfter: os.loadavg().map((x) => Number(x.toFixed(2))),
      node: process.version,
    },
    config: {
      ours: { members: 3, tickMs: 100, electionTicks: 10, heartbeatTicks: 1, walSync: values['wal-sync'], fsync: 'fdatasync per Ready', snapshotEntries: 10000 },
      etcd: { members: 3, version: etcdVersion(), heartbeatMs: 100, electionMs: 1000, fsync: 'default (per WAL write)', endpoint: 'HTTP gateway /v3/kv/put' },
      load: { generator: 'node:http keep-alive, one connection per worker, closed loop, to the leader', body: 'etcd JSON put, base64 key and value' },
    },
    results: rows.map((r) => ({
      system: r.system,
      concurrency: r.concurrency,
      ops: r.ops,
      errors: r.errors,
      opsPerSec: Number(r.opsPerSec.toFixed(1)),
      p50Ms: Number(r.p50Ms.toFixed(3)),
      p99Ms: Number(r.p99Ms.toFixed(3)),
      maxMs: Number(r.maxMs.toFixed(3)),
    })),
    ratios: ratios.map((r) => ({
      concurrency: r.concurrency,
      throughput: Number(r.throughput.toFixed(3)),
      p50: Number(r.p50.toFixed(3)),
      p99: Number(r.p99.toFixed(3)),
    })),
    targets: {
      c64ThroughputAtLeast2x: r64 ? r64.throughput >= 2 : null,
      c64P99Lower: r64 ? r64.p99 < 1 : null,
      c1P50NotHigher: r1 ? r1.p50 <= 1 : null,
    },
  };
  console.log(JSON.stringify(summary));
}

function etcdVersion(): string {
  try {
    return execFileSync('/usr/bin/etcd', ['--version'], { encoding: 'utf8' }).split('\n')[0]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
