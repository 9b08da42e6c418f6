// Issue 6: a failed install rolls back what it created. One storage port of the machine's range has a
// leftover instance directory the agent refuses to install over (a port merely held by another program
// no longer fails an install: the node moves on, issue 11), so install_mysql of one node fails:
// create_cluster must fail with the install error number, and every instance it did install (storage and compute) must be gone, with
// the cluster, its shards and nodes removed from the world and the metadata tables.
import t from 'tap';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AgentClient } from '../../src/agent/client.js';
import { E2eEnv, waitFor } from './env.js';

const env = new E2eEnv('e2e-rollback');
t.teardown(() => env.stop());

t.test('create_cluster with an install that fails is rolled back', async (t) => {
  await env.start();
  const host = '127.0.0.1';
  const lo = Number(env.storageRange.split('-')[0]);
  // The second node of shard_1 goes to lo+4 (stride 4 on one machine).
  const leftover = join(env.base, 'storage', String(lo + 4));
  mkdirSync(leftover, { recursive: true });
  await env.run('create_machine', {
    hostaddr: host, machine_type: 'storage', rack_id: '1', datadir: '/d', logdir: '/l', wal_log_dir: '/w',
    port_range: env.storageRange, total_mem: '4096', total_cpu_cores: '2', nodemgr_port: String(env.agentPort),
  });
  await env.run('create_machine', {
    hostaddr: host, machine_type: 'computer', rack_id: '1', comp_datadir: '/c',
    port_range: env.computeRange, total_mem: '4096', total_cpu_cores: '2', nodemgr_port: String(env.agentPort),
  });
  const id = await env.submit('create_cluster', {
    ha_mode: 'rbr', shards: '1', nodes: '3', comps: '1', max_storage_size: '20', max_connections: '6', cpu_cores: '2',
    innodb_size: '16', dbcfg: '0', storage_iplists: [host], computer_iplists: [host],
  });
  const end = await env.wait(id);
  t.equal(end.status, 'failed', 'the job failed');
  t.equal(Number(end.error_code), 70146, 'with the install error number');
  t.match(end.error_info, new RegExp(`${lo + 4}.*exists but no instance is registered`), 'naming the port and the reason');
  rmSync(leftover, { recursive: true, force: true }); // ours, not the job's
  const steps = (end.attachment?.steps as { step: string; ok: boolean }[]).map((s) => `${s.step}:${s.ok}`);
  t.ok(steps.includes('failed:false') && steps.includes('rollback:true'), `failure recorded, then rolled back (${steps.join(' ')})`);
  const cluster = Number(end.attachment?.cluster_id);
  const v = await env.view<{ clusters: { id: number }[]; shards: { cluster: number }[]; comps: { cluster: number }[] }>();
  t.notOk(v.clusters.some((c) => c.id === cluster), 'the cluster is gone from the world');
  t.notOk(v.shards.some((s) => s.cluster === cluster) || v.comps.some((c) => c.cluster === cluster), 'and its shards and comps');
  const onAgent = (await new AgentClient({ host, port: env.agentPort }).listInstances()).instances;
  t.same(onAgent.map((i) => i.port), [], 'no instance left on the agent');
  t.same(env.leftoverProcesses(), [], 'no instance process left');
  t.same(env.leftoverDirs(), [], 'no instance directory left');
  await waitFor('no metadata rows', async () => {
    const rows = await env.metaRows('SELECT COUNT(*) AS n FROM db_clusters WHERE id = ?', [cluster]);
    return Number(rows[0]!.n) === 0 ? true : undefined;
  });
  t.pass('no db_clusters row left');
});
