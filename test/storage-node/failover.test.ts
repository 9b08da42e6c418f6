// Failover on a real 3-node MariaDB shard by calling the building blocks directly, as the leader's
// reconciler will: kill -9 the primary under a continuous writer; detect (probe + assess with the
// replicas' corroboration); stop IO threads; choose the candidate; wait until it applied what it
// received; fence the old primary; re-point the other replica; promote. Then every acknowledged write
// must be on the new primary and on the replica following it, and the old primary, restarted, comes
// back read-only and rejoins (or is flagged for rebuild when it holds commits no replica got).
import t from 'tap';
import type { RowDataPacket } from 'mysql2/promise';
import { assessPrimary } from '../../src/shard-ha/decide/assess.js';
import { chooseCandidate } from '../../src/shard-ha/decide/elect.js';
import { trackDead, type DeadTrack } from '../../src/shard-ha/decide/guards.js';
import { ContinuousWriter, checkAcknowledged } from '../chaos/writer.js';
import { NodeProber, probeNode } from '../../src/storage-node/probe.js';
import { fence, promote, rejoin, repoint, stopIoThreads, waitApplied } from '../../src/shard-ha/failover-steps.js';
import type { StorageNode } from '../../src/storage-node/storage-node.js';
import { app, repl, waitFor, writeShard } from './fixtures/nodes.js';
import { setTimeout as sleep } from 'node:timers/promises';

const bed = writeShard('failover-test');

t.test('kill -9 the primary under load: no acknowledged write lost, the shard follows the new primary', async (t) => {
  const [n1, n2, n3] = bed.nodes as [StorageNode, StorageNode, StorageNode];
  let current: { host: string; port: number } = n1.endpoint;
  const writer = new ContinuousWriter({ getPrimary: () => current, credentials: app, queryTimeoutMs: 4_000 });
  writer.start();
  await writer.waitForAcks(100, 10_000);

  // ---- kill ----
  const tKill = Date.now();
  await bed.shard.primary.kill9();

  // ---- detect: probe every 250 ms, dead needs replicas' corroboration and 2 consecutive verdicts ----
  const probers = bed.nodes.map((n) => new NodeProber(n, { deadlineMs: 800 }));
  let track: DeadTrack | null = null;
  let verdict: string;
  for (;;) {
    const [p, ...rs] = await Promise.all(probers.map((x) => x.probe()));
    const a = assessPrimary(p!, rs);
    verdict = a.verdict;
    const d = trackDead(track, a, Date.now());
    track = d.track;
    if (d.confirmed) break;
    if (Date.now() - tKill > 10_000) break;
    await sleep(250);
  }
  const tDetect = Date.now();
  t.equal(verdict, 'dead', 'the dead primary is confirmed');

  // ---- failover steps ----
  const signal = new AbortController().signal;
  const survivors = [n2, n3];
  const stopped = await Promise.all(survivors.map((n) => stopIoThreads(n, signal)));
  t.ok(stopped.every((s) => s.changed), 'IO threads stopped on both survivors');
  const probes = await Promise.all(survivors.map((n) => probeNode(n)));
  const choice = chooseCandidate(
    probes.map((p) => ({ node: p.node, executed: p.state!.gtid.executed, received: p.state!.gtid.received })),
    { ackers: 2 },
  );
  t.equal(choice.kind, 'candidate', 'a candidate holds everything both survivors received');
  if (choice.kind !== 'candidate') return;
  const cand = choice.node === 'n2' ? n2 : n3;
  const other = cand === n2 ? n3 : n2;
  const applied = await waitApplied(cand, choice.target, 10_000, signal);
  const fenced = await fence(n1, signal, { deadlineMs: 1_500 });
  t.equal(fenced.reachable, false, 'the killed primary cannot be fenced over SQL: reported, the caller kills or waits');
  // The other replica first: its semi-sync ACK is ready when the candidate starts taking writes.
  const rp = await repoint(other, cand, repl, signal);
  t.ok(rp.changed, rp.detail);
  const pr = await promote(cand, signal, { mustContain: choice.target });
  t.ok(pr.changed, pr.detail);
  const tPromote = Date.now();
  current = cand.endpoint;
  const steps = [...stopped, applied, fenced, rp, pr].map((s) => `${s.step} ${s.node} ${s.ms} ms`);
  t.comment(`steps: ${steps.join(', ')}`);

  await writer.waitForAcks(100, 15_000, cand.address);
  const first = writer.firstAckAfter(tKill, cand.address)!;
  const report = await writer.stop();
  const killToWrite = first.at - tKill;
  t.comment(
    `kill → detected ${tDetect - tKill} ms, → promoted ${tPromote - tKill} ms, → first acknowledged write on ${cand.id} ${killToWrite} ms`,
  );
  t.comment(`writer: ${report.acked} acknowledged, ${report.failed} failed, longest unavailability ${report.longestMs} ms`);
  t.ok(killToWrite < 6_000, `first acknowledged write on the new primary ${killToWrite} ms after the kill`);

  // ---- no acknowledged write lost ----
  const ids = writer.acked.map((a) => a.id);
  const cc = await bed.shard.nodes[bed.nodes.indexOf(cand)]!.connect();
  const onNew = await checkAcknowledged(cc, ids);
  t.same(onNew.missing, [], `all ${onNew.checked} acknowledged writes are on the new primary`);
  const newPos = (await probeNode(cand)).state!.gtid.executed;
  await waitApplied(other, newPos, 10_000, signal);
  const oc = await bed.shard.nodes[bed.nodes.indexOf(other)]!.connect();
  t.same((await checkAcknowledged(oc, ids)).missing, [], 'and on the replica following it');
  const op = await probeNode(other);
  t.equal(op.state!.replication!.source, cand.address, 'the other replica follows the new primary');
  t.equal(op.state!.replication!.io, 'running');
  t.ok(op.state!.readOnly);

  // ---- idempotent: running the steps again changes nothing ----
  t.notOk((await promote(cand, signal, { mustContain: choice.target })).changed, 'promote again: already primary');
  t.notOk((await repoint(other, cand, repl, signal)).changed, 'repoint again: already following');

  // ---- the old primary comes back read-only and rejoins ----
  await bed.shard.primary.start();
  const back = await probeNode(n1);
  t.equal(back.status, 'ok');
  t.equal(back.state!.readOnly, true, 'a restarted former primary is read-only');
  const rj = await rejoin(n1, cand, repl, signal);
  t.comment(`rejoin of the old primary: ${rj.outcome} (${rj.detail})`);
  const c1 = await bed.shard.primary.connect();
  if (rj.outcome === 'rejoined') {
    await waitApplied(n1, (await probeNode(cand)).state!.gtid.executed, 10_000, signal);
    t.same((await checkAcknowledged(c1, ids)).missing, [], 'the rejoined old primary has every acknowledged write');
    const p1 = await probeNode(n1);
    t.equal(p1.state!.replication!.source, cand.address, 'it follows the new primary');
    t.ok(p1.state!.readOnly && !p1.state!.semiSync.masterEnabled, 'read-only, semi-sync master side off');
    const again = await rejoin(n1, cand, repl, signal);
    t.equal(again.outcome, 'already', 'rejoin again: nothing to do');
    await waitFor('two semi-sync replicas on the new primary', async () => {
      const p = await probeNode(cand);
      return p.state!.semiSync.masterClients === 2 ? true : undefined;
    });
  } else {
    // The kill landed after a commit reached the old primary's binlog and before any replica got it:
    // that write was never acknowledged, and the old primary must not replicate on top of it.
    t.equal(rj.outcome, 'needs-rebuild');
    t.ok(rj.errant.length > 0, `errant: ${rj.errant.join(', ')}`);
    const [rows] = await c1.query<RowDataPacket[]>('SELECT id FROM cmgr_chaos.acked_writes');
    const onNewIds = new Set<number>();
    const [nrows] = await cc.query<RowDataPacket[]>('SELECT id FROM cmgr_chaos.acked_writes');
    for (const r of nrows) onNewIds.add(Number(r.id));
    const extra = rows.map((r) => Number(r.id)).filter((id) => !onNewIds.has(id));
    const acked = new Set(ids);
    t.ok(extra.length > 0, `rows only on the old primary: ${extra.join(', ')}`);
    t.ok(extra.every((id) => !acked.has(id)), 'none of them was acknowledged to the writer');
    const p1 = await probeNode(n1);
    t.ok(p1.state!.readOnly && !p1.state!.replication, 'it stays read-only and out of replication');
  }
  await Promise.all([cc.end(), oc.end(), c1.end()]);
});
