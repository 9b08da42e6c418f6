// Issue 6: kill -9 the manager leader in the middle of create_cluster. A new leader must finish the
// job (or fail it with everything rolled back), and the job must end exactly once: the Raft log of
// every member holds one job.done or job.failed for it, and the agent holds exactly the instances the
// world knows (nothing installed twice, nothing orphaned).
import t from 'tap';
import mysql from 'mysql2/promise';
import { AgentClient } from '../../src/agent/client.js';
import { ADMIN, E2eEnv, waitFor } from './env.js';
import { setTimeout as sleep } from 'node:timers/promises';

interface JobV { id: number; jobType: string; parent: number | null; status: string; step: { name: string } | null; steps: { step: string; ok: boolean }[] }
interface View {
  clusters: { id: number; status: string; comps: number[] }[];
  shards: { id: number; cluster: number; primary: number | null; nodes: number[]; status: string }[];
  nodes: { id: number; hostaddr: string; port: number }[];
  comps: { id: number; port: number }[];
  jobs: JobV[];
}

const env = new E2eEnv('e2e-leader-kill');
t.teardown(() => env.stop());

t.test('kill -9 of the leader during create_cluster', async (t) => {
  await env.start();
  const host = '127.0.0.1';
  await env.run('create_machine', {
    hostaddr: host, machine_type: 'storage', rack_id: '1', datadir: '/d', logdir: '/l', wal_log_dir: '/w',
    port_range: env.storageRange, total_mem: '4096', total_cpu_cores: '2', nodemgr_port: String(env.agentPort),
  });
  await env.run('create_machine', {
    hostaddr: host, machine_type: 'computer', rack_id: '1', comp_datadir: '/c',
    port_range: env.computeRange, total_mem: '4096', total_cpu_cores: '2', nodemgr_port: String(env.agentPort),
  });

  const leader = await env.leader();
  const jobId = await env.submit('create_cluster', {
    ha_mode: 'rbr', shards: '2', nodes: '3', comps: '1', max_storage_size: '20', max_connections: '6', cpu_cores: '2',
    innodb_size: '16', dbcfg: '0', storage_iplists: [host], computer_iplists: [host],
  }, leader);
  // Kill it while the storage nodes are being installed: intent is in the log, effects are half done.
  await waitFor('install_storage to start', async () => {
    const v = await env.group.get<View>(leader, '/api/v1/view');
    return v?.jobs.find((j) => String(j.id) === jobId)?.step?.name === 'install_storage' ? true : undefined;
  }, 30_000);
  await sleep(1_500);
  await env.group.kill9(leader);
  t.comment(`killed leader ${leader.id} during install_storage`);

  const end = await env.wait(jobId, 150_000);
  t.ok(end.status === 'done' || end.status === 'failed', `the job ended (${end.status} ${end.error_code} ${end.error_info})`);
  const v = await env.view<View>();
  const cluster = Number(end.attachment?.cluster_id);
  const ac = new AgentClient({ host, port: env.agentPort });
  const onAgent = (await ac.listInstances()).instances;
  if (end.status === 'done') {
    const shards = v.shards.filter((s) => s.cluster === cluster);
    t.equal(shards.length, 2, 'two shards');
    t.ok(shards.every((s) => s.status === 'inuse' && s.primary !== null && s.nodes.length === 3), 'in use, with primaries');
    const nodes = shards.flatMap((s) => s.nodes).map((id) => v.nodes.find((n) => n.id === id)!);
    const comps = v.clusters.find((c) => c.id === cluster)!.comps.map((id) => v.comps.find((c) => c.id === id)!);
    t.same(
      onAgent.map((i) => i.port).sort(),
      [...nodes.map((n) => n.port), ...comps.map((c) => c.port)].sort(),
      'the agent runs exactly the instances the world knows',
    );
    t.ok(onAgent.every((i) => i.status === 'running'), 'all running');
    const p = v.nodes.find((n) => n.id === shards[0]!.primary)!;
    const c = await mysql.createConnection({ host, port: p.port, user: ADMIN.user, password: ADMIN.password });
    await c.query('CREATE DATABASE IF NOT EXISTS kill_test');
    await c.end();
    t.pass('the primary takes writes');
  } else {
    t.notOk(v.clusters.some((c) => c.id === cluster), 'the failed cluster is gone');
    t.same(onAgent, [], 'nothing left on the agent');
    t.same(env.leftoverProcesses(), [], 'no instance process left');
  }
  // A child job (add_comps) ended too.
  for (const j of v.jobs.filter((x) => x.parent === Number(jobId))) t.ok(j.status === 'done' || j.status === 'failed', `child ${j.jobType} ${j.id} ended`);

  if (end.status === 'done') await env.run('delete_cluster', { cluster_id: String(cluster) });
  t.same(env.leftoverProcesses(), [], 'after delete_cluster: no instance process left');
  t.same(env.leftoverDirs(), [], 'after delete_cluster: no instance directory left');

  // Exactly once, from the logs themselves: every member's Raft log has one ending for the job.
  const survivors = env.group.alive();
  await env.group.stopAll();
  for (const m of survivors) {
    const evs = env.replay(m, `job/${jobId}`);
    const ends = evs.filter((e) => e.type === 'job.done' || e.type === 'job.failed');
    t.equal(ends.length, 1, `member ${m.id}: the job ended exactly once in its log (${ends.map((e) => e.type).join(',')})`);
  }
  const killedEnds = env.replay(leader, `job/${jobId}`).filter((e) => e.type === 'job.done' || e.type === 'job.failed');
  t.equal(killedEnds.length, 0, 'the killed leader never ended it');
});
