// Only the manager's path to the primary is cut (the manager reaches node 21 through a FaultProxy,
// storage_connect_map; the replicas replicate from it directly): the replicas still hear it, so it is
// an unreachable-primary alarm (health "unreachable" with the evidence), never a failover; the
// application keeps writing to it; when the path heals, the primary is alive again. Then the primary
// turns read-only: it is made writable again, not failed over.
import t from 'tap';
import type { RowDataPacket } from 'mysql2/promise';
import { ContinuousWriter } from '../chaos/writer.js';
import { HaCluster, HA_APP, NODE_IDS, waitFor } from '../helpers/ha-cluster.js';
import { setTimeout as sleep } from 'node:timers/promises';

const ha = new HaCluster({ label: 'shard-ha-partition', proxied: [0], sets: ['probe_interval_ms=300'] });

t.before(async () => {
  await ha.start();
});
t.teardown(async () => {
  await ha.stop();
});

t.test("cut only the manager's path to the primary: alarm, no failover", async (t) => {
  const [n1] = NODE_IDS;
  const proxy = ha.proxies.get(0)!;
  const primary = ha.primaryTracker(100);
  const writer = new ContinuousWriter({ getPrimary: primary.get, credentials: HA_APP, queryTimeoutMs: 3_000 });
  writer.start();
  await writer.waitForAcks(50, 15_000);

  proxy.setMode({ kind: 'blackhole' });
  proxy.cutExisting();
  const tCut = Date.now();
  const alarm = await waitFor('the unreachable-primary conclusion', async () => {
    const n = await ha.node(n1);
    return n?.health === 'unreachable' ? n : undefined;
  }, 20_000);
  t.equal(alarm.evidence?.facts.verdict, 'unreachable-but-replicas-see-it', `evidence: ${alarm.evidence?.summary}`);
  t.ok(Number(alarm.evidence?.facts.contradictions) > 0, 'replicas still hear the primary');

  // Hold the cut well past what a real death takes to be confirmed and failed over (≈ 2-5 s here).
  const acksBefore = writer.acked.length;
  let sawTask = false;
  while (Date.now() - tCut < 10_000) {
    const s = await ha.shardView();
    if (s && (s.task !== null || s.last !== null || s.primary !== n1)) sawTask = true;
    const n = await ha.node(n1);
    if (n?.health === 'dead') sawTask = true;
    await sleep(200);
  }
  t.notOk(sawTask, 'no failover task, no dead conclusion, the primary unchanged for 10 s');
  t.ok(writer.acked.length > acksBefore + 20, `the application kept writing to the primary (${writer.acked.length - acksBefore} acks during the cut)`);

  proxy.setMode({ kind: 'pass' });
  await waitFor('the primary to be alive again', async () => ((await ha.node(n1))?.health === 'alive' ? true : undefined), 15_000);
  const s = (await ha.shardView())!;
  t.equal(s.primary, n1, 'still the same primary');
  t.equal(s.last, null, 'no failover ever ran');

  // A reachable primary that turned read-only (e.g. restarted: nodes start read-only) is opened
  // again by the observer, not failed over.
  const c1 = await ha.instance(n1).connect();
  await c1.query('SET GLOBAL read_only = ON');
  const reopenedIn = await waitFor('the observer to make the primary writable again', async () => {
    const [[r]] = await c1.query<RowDataPacket[]>('SELECT @@read_only AS ro');
    return Number(r!.ro) === 0 ? true : undefined;
  }, 15_000);
  t.ok(reopenedIn, 'the read-only primary is writable again');
  await writer.waitForAcks(20, 15_000);
  const after = (await ha.shardView())!;
  t.equal(after.primary, n1, 'same primary');
  t.equal(after.last, null, 'no failover for a read-only primary');
  await c1.end();

  const report = await writer.stop();
  primary.stop();
  t.comment(`writer: ${report.acked} acknowledged, ${report.failed} failed, longest unavailability ${report.longestMs} ms`);
});
