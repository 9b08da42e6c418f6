// Automatic failover driven by the manager group, on real MariaDB: kill -9 the primary of an adopted
// rbr shard under a continuous writer. The leader's observer concludes "dead" (with the replicas'
// corroboration), the failover reconciler runs the recorded steps, the world and the metadata
// tables (shard_nodes.member_state, node_map_master, rbr_consfailover) show the new primary, every
// acknowledged write is on it and on the replica following it, and the old primary, restarted,
// comes back read-only and rejoins as a replica (or is marked for rebuild when it holds commits
// no replica got).
import t from 'tap';
import type { RowDataPacket } from 'mysql2/promise';
import { ContinuousWriter, checkAcknowledged } from '../chaos/writer.js';
import { HaCluster, HA_APP, NODE_IDS, SHARD_ID, CLUSTER_ID, waitFor } from '../helpers/ha-cluster.js';
import { scrape, value } from '../metrics/scrape.js';

const ha = new HaCluster({ label: 'shard-ha-failover', sets: ['probe_interval_ms=300'] });

t.before(async () => {
  await ha.start();
});
t.teardown(async () => {
  await ha.stop();
});

t.test('kill -9 the primary under load: the group fails over, loses no acknowledged write, the old primary rejoins', async (t) => {
  const [n1] = NODE_IDS;
  const primary = ha.primaryTracker(50);
  const writer = new ContinuousWriter({ getPrimary: primary.get, credentials: HA_APP, queryTimeoutMs: 4_000 });
  writer.start();
  await writer.waitForAcks(100, 15_000);

  const tKill = Date.now();
  await ha.instance(n1).kill9();

  const sh = await waitFor('a finished failover', async () => {
    const s = await ha.shardView();
    return s && s.primary !== n1 && s.task === null && s.last?.outcome === 'finished' ? s : undefined;
  }, 40_000);
  const tFinished = Date.now();
  const newId = sh.primary!;
  const newInst = ha.instance(newId);
  t.ok(newId !== n1, `node ${newId} is the new primary (task ${sh.last!.task})`);
  await writer.waitForAcks(50, 20_000, newInst.address);
  const first = writer.firstAckAfter(tKill, newInst.address)!;
  const report = await writer.stop();
  primary.stop();
  const killToWrite = first.at - tKill;
  t.comment(`kill → failover finished in the world ${tFinished - tKill} ms (poll), → first acknowledged write on node ${newId} ${killToWrite} ms`);
  t.comment(`writer: ${report.acked} acknowledged, ${report.failed} failed, longest unavailability ${report.longestMs} ms`);
  t.ok(killToWrite < 15_000, `first acknowledged write on the new primary ${killToWrite} ms after the kill`);

  // ---- the world ----
  const v = (await ha.view())!;
  const byId = new Map(v.nodes.map((n) => [n.id, n]));
  const other = NODE_IDS.find((id) => id !== n1 && id !== newId)!;
  t.equal(byId.get(n1)!.repair, 'fenced', 'the old primary is fenced');
  t.equal(byId.get(n1)!.memberState, 'replica');
  t.equal(byId.get(newId)!.memberState, 'source');
  t.equal(byId.get(newId)!.access, 'writable');
  t.equal(byId.get(other)!.source, newId, 'the other replica follows the new primary in the world');

  // ---- metrics: the leader that ran the failover counted and timed it ----
  const ms = (await scrape((await ha.leader())!.m.url, ha.group.auth('read'))).samples;
  t.equal(value(ms, 'cluster_mgr_failovers_total', { outcome: 'finished' }), 1, 'cluster_mgr_failovers_total{outcome="finished"} 1');
  t.equal(value(ms, 'cluster_mgr_failovers_total', { outcome: 'aborted' }), 0);
  t.equal(value(ms, 'cluster_mgr_failover_promotion_duration_seconds_count'), 1, 'the promotion is timed');
  t.ok(value(ms, 'cluster_mgr_failover_detection_duration_seconds_count')! >= 1, 'the detection is timed');
  t.equal(value(ms, 'cluster_mgr_storage_node_repair', { node: String(n1), repair: 'fenced' }), 1, 'the old primary is fenced in the metrics too');

  // ---- no acknowledged write lost ----
  const ids = writer.acked.map((a) => a.id);
  const nc = await newInst.connect();
  const onNew = await checkAcknowledged(nc, ids);
  t.same(onNew.missing, [], `all ${onNew.checked} acknowledged writes are on the new primary`);
  const oc = await ha.instance(other).connect();
  await waitFor('the other replica to apply every acknowledged write', async () => ((await checkAcknowledged(oc, ids)).missing.length === 0 ? true : undefined), 20_000);
  const [[slave]] = await oc.query<RowDataPacket[]>('SHOW SLAVE STATUS');
  t.equal(Number(slave!.Master_Port), newInst.port, 'the other replica replicates from the new primary');
  t.equal(String(slave!.Slave_IO_Running), 'Yes');

  // ---- metadata ----
  await waitFor('shard_nodes to show the new source', async () => {
    const rows = await ha.q<RowDataPacket>("SELECT id FROM shard_nodes WHERE member_state = 'source' AND shard_id = ?", [SHARD_ID]);
    return rows.length === 1 && Number(rows[0]!.id) === newId ? true : undefined;
  }, 20_000);
  const maps = await ha.q<RowDataPacket>('SELECT node_host, master_host FROM node_map_master WHERE cluster_id = ? ORDER BY node_host', [CLUSTER_ID]);
  const newHost = `${newInst.host}_${newInst.port}`;
  t.ok(maps.length === 2 && maps.every((r) => String(r.master_host) === newHost), `node_map_master points both other nodes at ${newHost}`);
  const steps = await ha.q<RowDataPacket>('SELECT step, err_code, new_master_host FROM rbr_consfailover WHERE taskid = ? ORDER BY id', [String(sh.last!.task)]);
  t.same(
    steps.map((r) => String(r.step)),
    ['detect', 'freeze', 'elect', 'drain', 'fence', 'repoint', 'promote', 'end'],
    'one rbr_consfailover row per step, exactly once, and the outcome',
  );
  t.ok(steps.every((r) => Number(r.err_code) === 0), 'every step succeeded');

  // ---- the old primary comes back read-only and rejoins ----
  await ha.instance(n1).start();
  const back = await waitFor('the old primary to rejoin or be marked for rebuild', async () => {
    const n = await ha.node(n1);
    return n && (n.repair === 'ok' || n.repair === 'needs_rebuild') ? n : undefined;
  }, 30_000);
  const c1 = await ha.instance(n1).connect();
  const [[ro]] = await c1.query<RowDataPacket[]>('SELECT @@read_only AS ro');
  t.equal(Number(ro!.ro), 1, 'the restarted former primary is read-only');
  if (back.repair === 'ok') {
    t.equal(back.source, newId, 'it rejoined as a replica of the new primary');
    await waitFor('the old primary to have every acknowledged write', async () => ((await checkAcknowledged(c1, ids)).missing.length === 0 ? true : undefined), 20_000);
    const [[s1]] = await c1.query<RowDataPacket[]>('SHOW SLAVE STATUS');
    t.equal(Number(s1!.Master_Port), newInst.port, 'it replicates from the new primary');
  } else {
    // The kill landed after a commit reached its binlog and before any replica got it: never acknowledged.
    t.match(back.rebuild?.reason ?? '', /transactions/, `marked for rebuild: ${back.rebuild?.reason}`);
    const sv = await ha.shardView();
    t.same(sv!.needsRebuild, [n1], 'the shard view lists it');
  }
  await Promise.all([nc.end(), oc.end(), c1.end()]);
});
