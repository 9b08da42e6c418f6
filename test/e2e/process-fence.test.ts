// A hung primary of an agent-run shard (SIGSTOP): the failover cannot fence it over SQL, so the
// leader asks the machine's node agent to kill it. It must never wake up writable; the agent's
// keepalive starts it again read-only after its restart delay, in the replica role (init_rpl_role),
// so crash recovery drops the commit that hung waiting for an ACK and the rejoin reconciler re-points
// it as a replica of the new primary instead of marking it for a rebuild. Every acknowledged write is
// on the new primary and on the rejoined node.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { ContinuousWriter, checkAcknowledged } from '../chaos/writer.js';
import { AgentShard, APP, pidAlive, waitFor } from './agent-shard.js';

const bed = new AgentShard('e2e-process-fence');
t.teardown(() => bed.stop());

t.test('SIGSTOP of an agent-run primary: the agent kills it, it restarts read-only and rejoins', async (t) => {
  await bed.start();
  const s0 = await bed.settled();
  const oldId = s0.primary.id;
  const old = s0.primary;
  const tracker = bed.primaryTracker({ host: old.hostaddr, port: old.port });
  const writer = new ContinuousWriter({ getPrimary: tracker.get, credentials: APP, queryTimeoutMs: 3_000 });
  writer.start();
  await writer.waitForAcks(100, 20_000);

  const pid = (await bed.pidOf(old.port))!;
  t.ok(pid, `the agent runs the primary (pid ${pid})`);
  const tStop = Date.now();
  process.kill(pid, 'SIGSTOP');
  t.teardown(() => {
    if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  });

  const done = await waitFor('a finished failover', async () => {
    const s = await bed.state().catch(() => null);
    return s && s.shard.primary !== oldId && s.shard.task === null && s.shard.last?.outcome === 'finished' ? s : undefined;
  }, 60_000);
  const neu = done.primary!;
  t.comment(`failover to node ${neu.id} finished ${Date.now() - tStop} ms after the SIGSTOP`);
  t.equal(done.node(oldId)?.fence?.method, 'kill', 'the old primary is recorded as fenced by a kill');
  await waitFor('the hung server to be gone', () => Promise.resolve(pidAlive(pid) ? undefined : true), 10_000);
  t.pass(`the hung server (pid ${pid}) was killed; it never woke up writable`);
  await writer.waitForAcks(30, 20_000, `${neu.hostaddr}:${neu.port}`);
  // Its agent said the process was stopped, so the replicas' silence confirmed it at once, and the
  // agent killed it before the replicas were frozen (docs/ha.md, hangs). bench:failover --fault
  // sigstop: median about 2.3 s on a loaded 2-core machine; the bound leaves room for a slower CI.
  const firstMs = writer.firstAckAfter(tStop, `${neu.hostaddr}:${neu.port}`)!.at - tStop;
  t.ok(firstMs <= 6_000, `SIGSTOP → first acknowledged write on the new primary in ${firstMs} ms (bound 6000)`);

  // The keepalive starts it again after its restart delay (9 s by default); then the rejoin.
  const settled = await waitFor('the old primary to rejoin or be marked for rebuild', async () => {
    const n = (await bed.state().catch(() => null))?.node(oldId);
    return n && (n.repair === 'ok' || n.repair === 'needs_rebuild') ? n : undefined;
  }, 60_000);
  if (settled.repair !== 'ok') {
    t.comment(`rebuild reason: ${settled.rebuild?.reason}`);
    if (process.env.KEEP_RUN_DIR) spawnSync('cp', ['-r', bed.env.dir, `${bed.env.dir}-kept`]);
  }
  t.equal(settled.repair, 'ok', 'it rejoined: the unacknowledged commit it hung on was dropped at recovery, nothing errant');
  t.equal(settled.source, neu.id, 'it replicates from the new primary');
  const restarted = await bed.pidOf(old.port);
  t.ok(restarted && restarted !== pid, `the agent restarted it (pid ${restarted})`);
  // What its recovery did with the commit it hung on (when the SIGSTOP caught one waiting for its ACK).
  t.comment(bed.truncations(old.port)[0] ?? 'recovery truncated nothing: no commit was waiting for an ACK');

  const report = await writer.stop();
  tracker.stop();
  t.comment(`writer: ${report.acked} acknowledged, ${report.failed} failed, longest unavailability ${report.longestMs} ms`);
  const ids = writer.acked.map((a) => a.id);
  const nc = await bed.adminConnection(neu.port);
  const onNew = await checkAcknowledged(nc, ids);
  t.same(onNew.missing, [], `all ${onNew.checked} acknowledged writes are on the new primary`);
  const [[pos]] = await nc.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS p');
  await nc.end();
  const oc = await bed.adminConnection(old.port);
  await waitFor('the rejoined node to catch up', async () => {
    const [[r]] = await oc.query<RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, 1) AS w', [pos!.p]);
    return Number(r!.w) === 0 ? true : undefined;
  }, 20_000);
  const onOld = await checkAcknowledged(oc, ids);
  t.same(onOld.missing, [], 'and on the rejoined node');
  const [[ro]] = await oc.query<RowDataPacket[]>('SELECT @@read_only AS ro');
  t.equal(Number(ro!.ro), 1, 'the rejoined node is read-only');
  await oc.end();

  // It recovered in the replica role (init_rpl_role=SLAVE); it must still be able to lead again.
  await bed.env.run('manual_switch', {
    cluster_id: String(bed.cluster), shard_id: String(bed.shard), master_hostaddr: `${neu.hostaddr}_${neu.port}`, assign_hostaddr: `${old.hostaddr}_${old.port}`,
  });
  const back = await mysql.createConnection({ host: old.hostaddr, port: old.port, ...APP });
  await back.query('INSERT INTO cmgr_chaos.acked_writes (id, written_at_ms) VALUES (?, ?)', [900_000_001, Date.now()]);
  await back.end();
  t.pass('switched back to it: it takes writes (acknowledged by a semi-sync replica) again');

  await bed.env.run('delete_cluster', { cluster_id: String(bed.cluster) });
  t.same(bed.env.leftoverProcesses(), [], 'after delete_cluster: no instance process left');
});
