// kill -9 the manager leader in the middle of a failover: the next leader reads the task's recorded
// steps and the real world, continues after the last recorded step and finishes it; every step is
// recorded once (events and rbr_consfailover rows), no acknowledged write is lost. Steps are slowed
// by the chaos setting failover_step_delay_ms so the kill lands mid-task.
import t from 'tap';
import type { RowDataPacket } from 'mysql2/promise';
import { ContinuousWriter, checkAcknowledged } from '../chaos/writer.js';
import { FAILOVER_ORDER } from '../../src/shard-ha/index.js';
import { HaCluster, HA_APP, NODE_IDS, waitFor } from '../helpers/ha-cluster.js';

const ha = new HaCluster({ label: 'shard-ha-leader-kill', sets: ['probe_interval_ms=300', 'failover_step_delay_ms=1200'] });

t.before(async () => {
  await ha.start();
});
t.teardown(async () => {
  await ha.stop();
});

t.test('kill -9 the manager leader mid-failover: the new leader completes it', async (t) => {
  const [n1] = NODE_IDS;
  const primary = ha.primaryTracker(100);
  const writer = new ContinuousWriter({ getPrimary: primary.get, credentials: HA_APP, queryTimeoutMs: 4_000 });
  writer.start();
  await writer.waitForAcks(50, 15_000);

  await ha.instance(n1).kill9();
  const mid = await waitFor('the failover to reach its elect step', async () => {
    const s = await ha.shardView();
    return s?.task && s.task.lastStep && FAILOVER_ORDER.indexOf(s.task.lastStep.step as (typeof FAILOVER_ORDER)[number]) >= FAILOVER_ORDER.indexOf('elect') ? s.task : undefined;
  }, 40_000);
  const first = (await ha.leader())!;
  t.comment(`task ${mid.task} at step ${mid.lastStep!.step} (term ${mid.term}); killing leader ${first.info.member}`);
  await ha.group.kill9(first.m);

  const sh = await waitFor('the failover to finish under a new leader', async () => {
    const s = await ha.shardView();
    return s && s.task === null && s.last?.task === mid.task ? s : undefined;
  }, 60_000);
  const second = (await ha.leader())!;
  t.ok(second.info.term > first.info.term, `a new leader (term ${second.info.term}) took over`);
  t.equal(sh.last!.outcome, 'finished', 'the task finished');
  t.not(sh.primary, n1, `node ${sh.primary} is the primary`);
  t.equal(sh.primary, mid.candidate, 'the candidate elected before the kill was promoted');
  t.ok(sh.primaryTerm > mid.term, `the primary was recorded by the new leader's term (${sh.primaryTerm})`);

  const rows = await waitFor('the rbr_consfailover rows', async () => {
    const r = await ha.q<RowDataPacket>('SELECT step FROM rbr_consfailover WHERE taskid = ? ORDER BY id', [String(mid.task)]);
    return r.length >= FAILOVER_ORDER.length + 1 ? r : undefined;
  }, 20_000);
  t.same(rows.map((r) => String(r.step)), [...FAILOVER_ORDER, 'end'], 'one row per step, exactly once, across the leader change');

  const newInst = ha.instance(sh.primary!);
  await writer.waitForAcks(30, 20_000, newInst.address);
  const report = await writer.stop();
  primary.stop();
  t.comment(`writer: ${report.acked} acknowledged, ${report.failed} failed, longest unavailability ${report.longestMs} ms`);
  const nc = await newInst.connect();
  const check = await checkAcknowledged(nc, writer.acked.map((a) => a.id));
  t.same(check.missing, [], `all ${check.checked} acknowledged writes are on the new primary`);
  await nc.end();
});
