// A manager leader dies (kill -9) in the middle of a manual_switch: the next leader resumes the job
// from its recorded steps, with the same failover task, and finishes the switch; no acknowledged
// write is lost. failover_step_delay_ms (chaos testing only) pauses before each step so the kill
// lands between "the job holds the shard" and "the switch is done".
import t from 'tap';
import { ContinuousWriter, checkAcknowledged } from '../chaos/writer.js';
import { CLUSTER_ID, HA_APP, HaCluster, SHARD_ID, waitFor } from '../helpers/ha-cluster.js';
import { emit, hostPort, primaryFinder, realRole, waitJob } from './helpers.js';

const ha = new HaCluster({ label: 'switch-leader-kill', sets: ['probe_interval_ms=250', 'failover_step_delay_ms=1500'] });

t.before(async () => {
  await ha.start();
});
t.teardown(async () => {
  await ha.stop();
});

interface JobInView {
  id: number;
  status: string;
  steps: { step: string; ok: boolean; info: string }[];
}

t.test('kill -9 the leader while it switches: the next leader finishes the same task', async (t) => {
  const s0 = (await ha.shardView())!;
  const fromId = s0.primary!;
  const toId = [21, 22, 23].find((x) => x !== fromId)!;
  const otherId = [21, 22, 23].find((x) => x !== fromId && x !== toId)!;
  const [from, to, other] = [ha.instance(fromId), ha.instance(toId), ha.instance(otherId)];
  let writer: ContinuousWriter | null = null;
  writer = new ContinuousWriter({ getPrimary: primaryFinder(ha.shard.nodes, () => writer), credentials: HA_APP, queryTimeoutMs: 10_000 });
  writer.start();
  await writer.waitForAcks(100, 20_000);

  const a = await emit(ha, 'manual_switch', { cluster_id: String(CLUSTER_ID), shard_id: String(SHARD_ID), master_hostaddr: hostPort(from), assign_hostaddr: hostPort(to) });
  t.equal(a.status, 'accept', JSON.stringify(a));
  const held = await waitFor('the job to hold the shard', async () => {
    const s = await ha.shardView();
    return s?.task ? s.task : undefined;
  }, 30_000);
  const first = (await ha.leader())!;
  t.equal(held.kind, 'switchover', `switchover task ${held.task} taken under term ${first.info.term}`);
  t.equal((await realRole(from)).readOnly, false, 'killed before the switch: the old primary is still writable');
  await ha.group.kill9(first.m);

  const end = await waitJob(ha, a.job_id, 120_000);
  t.equal(end.status, 'done', `job done after the leader died: ${end.error_code} ${end.error_info}`);
  const second = (await ha.leader())!;
  t.ok(second.info.term > first.info.term, `finished by the leader of term ${second.info.term}`);

  const s = (await ha.shardView())!;
  t.equal(s.primary, toId, 'the target is the primary');
  t.equal(s.task, null);
  t.same([s.last?.task, s.last?.outcome], [held.task, 'finished'], 'the same task finished; no second task was started');
  const v = await ha.group.get<{ jobs: JobInView[] }>(second.m, '/api/v1/view');
  const job = v!.jobs.find((j) => j.id === Number(a.job_id))!;
  t.equal(job.steps.filter((x) => x.step === 'check' && x.ok).length, 1, 'the check ran once (recorded, not repeated)');
  t.ok(job.steps.some((x) => x.step === 'switch' && x.ok), 'the switch step was run by the new leader');

  const [rf, rt, ro] = await Promise.all([realRole(from), realRole(to), realRole(other)]);
  t.same([rt.readOnly, rt.source], [false, null], 'target writable, no source');
  t.same([rf.readOnly, rf.source, rf.io, rf.sql], [true, to.address, 'Yes', 'Yes'], 'old primary a read-only replica of the target');
  t.same([ro.readOnly, ro.source], [true, to.address], 'the other replica follows the target');

  await writer.waitForAcks(100, 20_000, to.address);
  const rep = await writer.stop();
  t.comment(`writer: ${rep.acked} acknowledged, ${rep.failed} failed, longest gap ${rep.longestMs} ms`);
  const ids = writer.acked.map((x) => x.id);
  const c = await to.connect();
  t.same((await checkAcknowledged(c, ids)).missing, [], `all ${ids.length} acknowledged writes on the new primary`);
  await c.end();
});
