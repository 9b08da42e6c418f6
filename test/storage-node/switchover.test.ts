// Fencing and switchover on a real 3-node MariaDB shard: fence a reachable primary whose commits hang
// waiting for a semi-sync ACK (SET GLOBAL read_only alone would block behind them), switch to a
// caught-up replica and rejoin the old primary, all without losing an acknowledged write; a node with
// errant transactions is refused and flagged for rebuild; a step stops when the leader aborts it.
import t from 'tap';
import mysql from 'mysql2/promise';
import { checkSwitchTarget } from '../../src/shard-ha/decide/elect.js';
import { assessPrimary } from '../../src/shard-ha/decide/assess.js';
import { ContinuousWriter, checkAcknowledged } from '../chaos/writer.js';
import { probeNode } from '../../src/storage-node/probe.js';
import { StepError, fence, promote, rejoin, repoint, stopIoThreads, waitApplied } from '../../src/shard-ha/failover-steps.js';
import type { StorageNode } from '../../src/storage-node/storage-node.js';
import { app, repl, waitFor, writeShard } from './fixtures/nodes.js';

const bed = writeShard('switchover-test');
const signal = new AbortController().signal;

t.test('fence a primary with commits stuck on semi-sync, switch over, rejoin: nothing acknowledged is lost', async (t) => {
  const [n1, n2, n3] = bed.nodes as [StorageNode, StorageNode, StorageNode];
  let current = n1.endpoint;
  const writer = new ContinuousWriter({ getPrimary: () => current, credentials: app, queryTimeoutMs: 20_000 });
  writer.start();
  await writer.waitForAcks(50, 10_000);

  // Pre-check: probe the primary first, then the target.
  const pp = await probeNode(n1);
  const tp = await probeNode(n2);
  t.same(checkSwitchTarget(tp, pp, { maxBacklog: 1_000 }), { ok: true }, 'target healthy and close behind');

  // No replica ACKs any more: the writer's next commit hangs on the primary.
  await Promise.all([n2, n3].map((n) => stopIoThreads(n, signal)));
  await waitFor('a session waiting for a semi-sync ACK', async () => {
    const p = await probeNode(n1);
    return p.state!.semiSync.masterWaitSessions >= 1 ? true : undefined;
  });
  const acked = writer.acked.length;
  const f = await fence(n1, signal);
  t.ok(f.reachable && f.changed, f.detail);
  t.ok(f.killed >= 1, `killed ${f.killed} client sessions, among them the one waiting for an ACK`);
  t.ok(f.ms < 4_000, `fenced in ${f.ms} ms despite the stuck commit`);
  t.equal(writer.acked.length, acked, 'the stuck write was not acknowledged');
  const fp = await probeNode(n1);
  t.ok(fp.state!.readOnly && !fp.state!.semiSync.masterEnabled, 'read-only, semi-sync master side off');
  t.equal(assessPrimary(fp, []).verdict, 'read-only-primary', 'as the assessment sees it');
  const appConn = await mysql.createConnection({ host: bed.shard.primary.host, port: bed.shard.primary.port, ...app });
  await t.rejects(appConn.query('INSERT INTO cmgr_chaos.acked_writes VALUES (?, ?)', [999_999_999, 0]), /read-only|read_only/i, 'an application cannot write to the fenced node');
  appConn.destroy();
  const again = await fence(n1, signal);
  t.notOk(again.changed, `fence again: no setting to change (${again.detail})`);

  // The replicas fetch the rest from the fenced primary, the target catches up fully.
  await Promise.all([n2, n3].map((n) => n.run((sql) => n.flavor.startReplication(sql))));
  const oldPos = (await probeNode(n1)).state!.gtid.executed;
  await waitApplied(n2, oldPos, 10_000, signal);
  const check = checkSwitchTarget(await probeNode(n2), await probeNode(n1));
  t.same(check, { ok: true }, 'fully caught up: a valid switch target');
  const pr = await promote(n2, signal, { mustContain: oldPos });
  t.ok(pr.changed, pr.detail);
  current = n2.endpoint;
  t.ok((await repoint(n3, n2, repl, signal)).changed, 'the other replica follows the new primary');
  const rj = await rejoin(n1, n2, repl, signal);
  t.equal(rj.outcome, 'rejoined', `old primary rejoined: ${rj.detail}`);

  await writer.waitForAcks(50, 15_000, n2.address);
  const report = await writer.stop();
  t.comment(`writer: ${report.acked} acknowledged, ${report.failed} failed (${JSON.stringify(report.errors)}), longest gap ${report.longestMs} ms (includes the deliberately stuck commit)`);
  const ids = writer.acked.map((a) => a.id);
  const newPos = (await probeNode(n2)).state!.gtid.executed;
  for (const [i, inst] of bed.shard.nodes.entries()) {
    if (i !== 1) await waitApplied(bed.nodes[i]!, newPos, 10_000, signal);
    const c = await inst.connect();
    t.same((await checkAcknowledged(c, ids)).missing, [], `every acknowledged write on n${i + 1}`);
    await c.end();
  }
  const probes = await Promise.all(bed.nodes.map((n) => probeNode(n)));
  t.equal(assessPrimary(probes[1]!, [probes[0]!, probes[2]!]).verdict, 'healthy', 'the new primary is healthy with both replicas');
  t.equal(probes[1]!.state!.semiSync.masterClients, 2);
});

t.test('errant transactions: refused by repoint, flagged for rebuild by rejoin', async (t) => {
  const [, n2, n3] = bed.nodes as [StorageNode, StorageNode, StorageNode];
  const c = await bed.shard.nodes[2]!.connect();
  await c.query('STOP SLAVE');
  // The admin account bypasses read_only: a write of the node's own, binlogged under server_id 3.
  await c.query('INSERT INTO cmgr_chaos.acked_writes VALUES (?, ?)', [2_000_000_000, 0]);
  await c.end();
  const err = await repoint(n3, n2, repl, signal).catch((e: unknown) => e);
  t.ok(err instanceof StepError, 'repoint refuses');
  t.equal((err as StepError).code, 'errant');
  t.match((err as StepError).message, /has transactions n2 lacks: 0-3-\.\.\d+$/);
  const rj = await rejoin(n3, n2, repl, signal);
  t.equal(rj.outcome, 'needs-rebuild');
  t.equal(rj.errant.length, 1);
  t.match(rj.errant[0], /^0-3-\.\.\d+$/, 'the local write, by server 3 (seq is domain-wide)');
  const p3 = await probeNode(n3);
  t.ok(p3.state!.readOnly, 'left read-only');
  t.equal(p3.state!.replication!.io, 'stopped', 'and out of replication');
});

t.test('a step stops promptly when the leader aborts it', async (t) => {
  const ac = new AbortController();
  const n1 = bed.nodes[0]!;
  const t0 = Date.now();
  setTimeout(() => ac.abort(new Error('leadership lost')), 300);
  await t.rejects(waitApplied(n1, '0-2-999999999', 30_000, ac.signal), /leadership lost/);
  t.ok(Date.now() - t0 < 1_500, `stopped ${Date.now() - t0} ms after start`);
  await t.rejects(stopIoThreads(n1, ac.signal), /leadership lost/, 'an aborted signal stops a step before it starts');
  t.equal((await probeNode(n1)).state!.replication!.io, 'running', 'nothing was done');
});
