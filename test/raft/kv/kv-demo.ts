// A member process running the key-value demo: a RaftNode with KvStateMachine behind kv-http.ts.
// Used by the real-process kill test and by bench/raft. Prints one JSON line {"ready":true,...} on
// stdout once it serves; logs go to stderr.
//
//   node dist/test/raft/kv/kv-demo.js --id m1 --cluster c1 --data /tmp/d1 \
//     --raft 127.0.0.1:7001 --http 127.0.0.1:8001 \
//     --peer m2=127.0.0.1:7002 --peer m3=127.0.0.1:7003 --bootstrap m1,m2,m3 [--exit-with-stdin]
//     [--tick-ms 100] [--election-ticks 10] [--snapshot-entries 10000] [--wal-sync auto|inline|threadpool]

import { parseArgs } from 'node:util';
import pino from 'pino';
import { KvStateMachine } from './kv-state-machine.js';
import { createKvHttpServer } from './kv-http.js';
import { RaftNode } from '../../../src/raft/node/raft-node.js';

function hostPort(s: string, what: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${what}: expected host:port, got "${s}"`);
  return { host: s.slice(0, i), port };
}

function intOpt(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${what}: expected a positive integer, got "${v}"`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      id: { type: 'string' },
      cluster: { type: 'string', default: 'kv-demo' },
      data: { type: 'string' },
      raft: { type: 'string' },
      http: { type: 'string' },
      peer: { type: 'string', multiple: true, default: [] },
      bootstrap: { type: 'string', default: '' },
      'tick-ms': { type: 'string' },
      'election-ticks': { type: 'string' },
      'snapshot-entries': { type: 'string' },
      'wal-sync': { type: 'string', default: 'auto' },
      'log-level': { type: 'string', default: 'warn' },
      'exit-with-stdin': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.id || !values.data || !values.raft || !values.http) {
    throw new Error('required: --id, --data, --raft host:port, --http host:port');
  }
  const peers: Record<string, { host: string; port: number }> = {};
  for (const p of values.peer) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new Error(`--peer: expected id=host:port, got "${p}"`);
    peers[p.slice(0, eq)] = hostPort(p.slice(eq + 1), '--peer');
  }
  const walSync = values['wal-sync'];
  if (walSync !== 'auto' && walSync !== 'inline' && walSync !== 'threadpool') {
    throw new Error(`--wal-sync: expected auto, inline or threadpool, got "${walSync}"`);
  }
  const logger = pino({ level: values['log-level'], base: { member: values.id } }, pino.destination(2));
  const sm = new KvStateMachine();
  const node = await RaftNode.start({
    id: values.id,
    clusterId: values.cluster,
    dataDir: values.data,
    listen: hostPort(values.raft, '--raft'),
    peers,
    bootstrap: values.bootstrap ? values.bootstrap.split(',').filter((s) => s !== '') : [],
    stateMachine: sm,
    tickMs: intOpt(values['tick-ms'], '--tick-ms'),
    electionTicks: intOpt(values['election-ticks'], '--election-ticks'),
    snapshotEntries: intOpt(values['snapshot-entries'], '--snapshot-entries'),
    walSyncMode: walSync,
    logger,
  });
  const server = createKvHttpServer(node, sm);
  const httpAddr = hostPort(values.http, '--http');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(httpAddr.port, httpAddr.host, () => resolve());
  });
  const address = server.address();
  const httpPort = typeof address === 'object' && address ? address.port : httpAddr.port;

  let exiting = false;
  const shutdown = (code: number) => {
    if (exiting) return;
    exiting = true;
    server.closeAllConnections();
    server.close();
    node.stop().then(
      () => process.exit(code),
      () => process.exit(code || 1),
    );
  };
  node.on('fatal', (err) => {
    logger.error({ err: err.message }, 'kv-demo: raft node failed');
    shutdown(1);
  });
  process.on('SIGTERM', () => shutdown(0));
  process.on('SIGINT', () => shutdown(0));
  if (values['exit-with-stdin']) {
    // The parent holds our stdin: when it dies, even by SIGKILL, the pipe closes and we follow.
    process.stdin.on('end', () => shutdown(0));
    process.stdin.on('error', () => shutdown(0));
    process.stdin.resume();
  }
  process.stdout.write(`${JSON.stringify({ ready: true, id: values.id, raftPort: node.port, httpPort, pid: process.pid })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`kv-demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
