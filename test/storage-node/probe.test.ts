// The probe against a real 3-node MariaDB shard: what it reads, how it classifies failures (a hung
// node is unreachable within the deadline, a node out of connections is alive-busy, a bad password is
// misconfigured), and detection end to end: a SIGSTOPped primary is declared dead through its
// replicas' stale heartbeats, while a primary only the manager cannot reach (fault proxy) is not.
import t from 'tap';
import { rmSync } from 'node:fs';
import type { Connection } from 'mysql2/promise';
import { makeRunDir, startShard, type LaunchedShard } from '../../src/launcher/index.js';
import { assessPrimary, type Verdict } from '../../src/shard-ha/decide/assess.js';
import { FaultProxy } from '../chaos/fault-proxy.js';
import { NodeProber, classifyError, probeNode } from '../../src/storage-node/probe.js';
import type { StorageNode } from '../../src/storage-node/storage-node.js';
import { admin, repl, storageNode, waitFor } from './fixtures/nodes.js';
import { setTimeout as sleep } from 'node:timers/promises';

const dir = makeRunDir('probe-test');
let shard: LaunchedShard;
const nodes: StorageNode[] = [];
let proxy: FaultProxy | null = null;

t.before(async () => {
  shard = await startShard({ dir, nodes: 3, admin, repl });
  nodes.push(...shard.nodes.map((n, i) => storageNode(n, `n${i + 1}`)));
  const c = await shard.primary.connect();
  await c.query('CREATE DATABASE probe_t');
  await c.query('CREATE TABLE probe_t.x (id INT PRIMARY KEY)');
  await c.query('INSERT INTO probe_t.x VALUES (1)');
  await c.end();
});
t.teardown(async () => {
  for (const n of shard?.nodes ?? []) if (n.proc.paused) n.resume();
  await proxy?.close();
  await Promise.all(nodes.map((n) => n.close()));
  await Promise.all(shard?.nodes.map((n) => n.kill9()) ?? []);
  rmSync(dir, { recursive: true, force: true });
});

t.test('classifyError: busy is alive, network trouble is unreachable, bad grants are misconfigured', (t) => {
  const e = (code: string, errno?: number): unknown => Object.assign(new Error(code), { code, errno });
  t.equal(classifyError(e('ER_CON_COUNT_ERROR', 1040)), 'alive-busy');
  t.equal(classifyError(e('ER_LOCK_WAIT_TIMEOUT', 1205)), 'alive-busy');
  t.equal(classifyError(e('ER_TOO_MANY_USER_CONNECTIONS', 1203)), 'alive-busy');
  t.equal(classifyError(e('ER_USER_LIMIT_REACHED', 1226)), 'alive-busy');
  for (const c of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'DEADLINE']) {
    t.equal(classifyError(e(c)), 'unreachable', c);
  }
  t.equal(classifyError(e('ER_SERVER_SHUTDOWN', 1053)), 'unreachable');
  t.equal(classifyError(e('ER_ACCESS_DENIED_ERROR', 1045)), 'misconfigured');
  t.equal(classifyError(e('ER_SPECIFIC_ACCESS_DENIED_ERROR', 1227)), 'misconfigured');
  t.equal(classifyError(e('ER_HOST_IS_BLOCKED', 1129)), 'misconfigured');
  t.equal(classifyError(new TypeError('cannot read x of undefined')), 'alive-error', 'our own bug never looks like a dead node');
  t.equal(classifyError(e('ER_PARSE_ERROR', 1064)), 'alive-error');
  t.end();
});

t.test('a healthy shard: primary and replicas as they are', async (t) => {
  const [p, r1, r2] = await Promise.all(nodes.map((n) => probeNode(n)));
  t.equal(p!.status, 'ok');
  const ps = p!.state!;
  t.equal(ps.readOnly, false);
  t.equal(ps.replication, null, 'the primary replicates from nobody');
  t.ok(ps.semiSync.masterEnabled && ps.semiSync.masterActive, 'semi-sync master on');
  t.equal(ps.semiSync.masterClients, 2);
  t.ok(ps.gtidStrictMode && ps.logReplicaUpdates);
  t.match(ps.gtid.executed, /^0-1-\d+$/);
  t.equal(ps.gtid.history, ps.gtid.executed, 'one writer: state equals position');
  t.ok(p!.totalMs >= 0 && p!.connectMs !== null, 'timings');
  for (const r of [r1!, r2!]) {
    t.equal(r.status, 'ok');
    const rep = r.state!.replication!;
    t.equal(rep.source, nodes[0]!.address, `${r.node} follows the primary`);
    t.equal(rep.io, 'running');
    t.ok(rep.sqlRunning);
    t.equal(rep.heartbeatPeriodSec, 1);
    t.equal(rep.sourceServerId, 1);
    t.ok(r.state!.readOnly);
    t.ok(r.state!.semiSync.slaveActive, 'semi-sync slave side active');
    await waitFor('replica caught up', async () => {
      const again = await probeNode(nodes[Number(r.node.slice(1)) - 1]!);
      return again.state!.gtid.executed === ps.gtid.executed ? true : undefined;
    });
  }
  const a = assessPrimary(p!, [r1!, r2!]);
  t.equal(a.verdict, 'healthy', a.summary);
  t.same(a.warnings, []);
});

t.test('NodeProber sees the IO thread make progress (heartbeats of an idle primary)', async (t) => {
  const prober = new NodeProber(nodes[1]!);
  const first = await prober.probe();
  t.equal(first.state!.replication!.progressAgeMs, null, 'unknown on the first probe');
  const ages: number[] = [];
  for (let i = 0; i < 8; i++) {
    await sleep(300);
    ages.push((await prober.probe()).state!.replication!.progressAgeMs!);
  }
  t.ok(ages.includes(0), `a heartbeat arrived within 2.4 s (ages ${ages.join(',')})`);
  t.ok(Math.max(...ages) < 1_600, 'never older than a heartbeat period plus a probe interval');
});

t.test('a paused node is unreachable within the deadline, pooled connection or new', async (t) => {
  const n = storageNode(shard.replicas[1]!, 'n3-short', { connectTimeoutMs: 500 });
  t.teardown(() => n.close());
  t.equal((await probeNode(n, { deadlineMs: 800 })).status, 'ok', 'warm the pool');
  shard.replicas[1]!.pause();
  try {
    const a = await probeNode(n, { deadlineMs: 800 });
    t.equal(a.status, 'unreachable', 'reused connection hangs: unreachable');
    t.ok(a.totalMs < 1_100, `answered in ${a.totalMs} ms`);
    const b = await probeNode(n, { deadlineMs: 800 });
    t.equal(b.status, 'unreachable', 'new connection: handshake never comes');
    t.ok(b.totalMs < 1_100, `answered in ${b.totalMs} ms`);
    t.match(b.error?.code, /ETIMEDOUT|DEADLINE/);
  } finally {
    shard.replicas[1]!.resume();
  }
  const back = await waitFor('resumed', async () => {
    const r = await probeNode(n, { deadlineMs: 800 });
    return r.status === 'ok' ? r : undefined;
  });
  t.equal(back.status, 'ok', 'answers again after SIGCONT');
});

t.test('max_connections exhausted: alive-busy, not unreachable', async (t) => {
  const inst = shard.replicas[1]!;
  const ctl = await inst.connect();
  const fillers: Connection[] = [];
  try {
    await ctl.query('SET GLOBAL max_connections = 4');
    // Fill every slot, including the one MariaDB keeps for SUPER accounts.
    for (let i = 0; i < 20; i++) {
      try {
        fillers.push(await inst.connect());
      } catch (e) {
        t.equal((e as { errno?: number }).errno, 1040, `full after ${fillers.length} more connections`);
        break;
      }
    }
    const n = storageNode(inst, 'n3-full');
    t.teardown(() => n.close());
    const r = await probeNode(n);
    t.equal(r.status, 'alive-busy');
    t.equal(r.error?.errno, 1040);
    t.ok(r.totalMs < 1_500, `classified in ${r.totalMs} ms`);
  } finally {
    await Promise.all(fillers.map((c) => c.end()));
    await ctl.query('SET GLOBAL max_connections = 300');
    await ctl.end();
  }
});

t.test('a wrong password is misconfigured', async (t) => {
  const n = storageNode(shard.primary, 'bad', { password: 'wrong' });
  t.teardown(() => n.close());
  const r = await probeNode(n);
  t.equal(r.status, 'misconfigured');
  t.equal(r.error?.errno, 1045);
  t.end();
});

/** Probes primary (through `primaryNode`) and replicas every `every` ms until `until` holds or `ms` pass. */
async function watch(primaryNode: StorageNode, ms: number, until: (v: Verdict) => boolean, every = 250) {
  const probers = [new NodeProber(primaryNode, { deadlineMs: 600 }), ...nodes.slice(1).map((n) => new NodeProber(n, { deadlineMs: 600 }))];
  const t0 = Date.now();
  const seen: Array<{ at: number; verdict: Verdict; summary: string }> = [];
  while (Date.now() - t0 < ms) {
    const [p, ...rs] = await Promise.all(probers.map((x) => x.probe()));
    const a = assessPrimary(p!, rs);
    seen.push({ at: Date.now() - t0, verdict: a.verdict, summary: a.summary });
    if (until(a.verdict)) break;
    await sleep(every);
  }
  return seen;
}

t.test('cut only the manager path (fault proxy): replicas still see the primary, never dead', async (t) => {
  proxy = await FaultProxy.start({ target: shard.primary });
  const viaProxy = storageNode(shard.primary, 'n1', { via: proxy.endpoint, connectTimeoutMs: 400 });
  t.teardown(() => viaProxy.close());
  t.equal((await probeNode(viaProxy)).status, 'ok', 'the proxy passes traffic');
  proxy.setMode({ kind: 'blackhole' });
  const seen = await watch(viaProxy, 5_000, () => false);
  const verdicts = new Set(seen.map((s) => s.verdict));
  t.same([...verdicts], ['unreachable-but-replicas-see-it'], `5 s of blackholed manager path: ${seen.length} assessments, never dead`);
  t.match(seen[seen.length - 1]!.summary, /0 of 2 replicas confirm, 2 still see it/);
  proxy.setMode({ kind: 'drop' });
  const dropped = await probeNode(viaProxy, { deadlineMs: 600 });
  t.equal(dropped.status, 'unreachable', 'reset connections: unreachable at once');
  t.ok(dropped.totalMs < 300, `in ${dropped.totalMs} ms`);
  proxy.setMode({ kind: 'pass' });
  t.equal((await probeNode(viaProxy)).status, 'ok', 'path restored');
});

t.test('SIGSTOP the primary: dead once the replicas stop hearing heartbeats', async (t) => {
  const p = shard.primary;
  const before = await watch(nodes[0]!, 1_000, (v) => v === 'healthy');
  t.equal(before[before.length - 1]!.verdict, 'healthy');
  p.pause();
  const t0 = Date.now();
  let seen;
  try {
    seen = await watch(nodes[0]!, 10_000, (v) => v === 'dead');
  } finally {
    p.resume();
  }
  const dead = seen.find((s) => s.verdict === 'dead');
  t.ok(dead, `declared dead (${seen.map((s) => `${s.at}:${s.verdict}`).join(' ')})`);
  t.comment(`SIGSTOP → dead verdict after ${dead ? dead.at : 'never'} ms (${Date.now() - t0} ms incl. last probe)`);
  t.ok(dead && dead.at >= 1_500, 'not before the replicas could notice (2 heartbeat periods)');
  t.ok(dead && dead.at <= 6_000, 'within 6 s');
  t.ok(
    // A probe already answered when the pause landed may still say healthy (the first few ms).
    seen.slice(0, seen.indexOf(dead!)).every((s) => s.verdict === 'unreachable-but-replicas-see-it' || s.verdict === 'unreachable-unconfirmed' || (s.verdict === 'healthy' && s.at < 500)),
    'before that: no failover verdict',
  );
  const after = await watch(nodes[0]!, 15_000, (v) => v === 'healthy', 300);
  t.equal(after[after.length - 1]!.verdict, 'healthy', 'healthy again after SIGCONT, replicas reconnected');
});
