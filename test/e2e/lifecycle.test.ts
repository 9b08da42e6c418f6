// Issue 6, end to end, through HTTP only, like an operator: register the machines, create a cluster of
// 2 rbr shards × 3 real MariaDB nodes and a compute node, write through a shard primary and read it on
// its replicas, grow and shrink it (add_shards of a one-node shard, add_nodes to it, add_comps,
// delete_node, delete_comp, delete_shard), and delete it: no process, instance directory or metadata row may be left.
import t from 'tap';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { ADMIN, E2eEnv, waitFor } from './env.js';

interface NodeV { id: number; shard: number; hostaddr: string; port: number; status: string; memberState: string; access: string }
interface ShardV { id: number; cluster: number; name: string; status: string; primary: number | null; nodes: number[] }
interface JobV { id: number; jobType: string; parent: number | null; steps: { step: string; startedAt: number; endedAt: number }[] }
interface View { clusters: { id: number; status: string; comps: number[] }[]; shards: ShardV[]; nodes: NodeV[]; comps: { id: number; cluster: number }[] }

const env = new E2eEnv('e2e-lifecycle');
t.teardown(() => env.stop());

async function login(n: { hostaddr: string; port: number }): Promise<mysql.Connection> {
  return mysql.createConnection({ host: n.hostaddr, port: n.port, user: ADMIN.user, password: ADMIN.password, connectTimeout: 5_000 });
}

async function sql<T extends RowDataPacket>(n: { hostaddr: string; port: number }, q: string, p: unknown[] = []): Promise<T[]> {
  const c = await login(n);
  try {
    return (await c.query<T[]>(q, p))[0];
  } finally {
    await c.end();
  }
}

t.test('cluster lifecycle through /HttpService/Emit', async (t) => {
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
  // A machine whose agent does not answer is refused by the job (the ping is its first step).
  const dead = await env.submit('create_machine', {
    hostaddr: '127.0.0.2', machine_type: 'storage', rack_id: '1', datadir: '/d', logdir: '/l', wal_log_dir: '/w', total_mem: '1', total_cpu_cores: '1', nodemgr_port: '1',
  });
  const deadEnd = await env.wait(dead);
  t.equal(deadEnd.status, 'failed', 'create_machine with no agent answering fails');
  t.equal(Number(deadEnd.error_code), 70158, 'with the original error number');

  const t0 = Date.now();
  const created = await env.run('create_cluster', {
    ha_mode: 'rbr', shards: '2', nodes: '3', comps: '1', max_storage_size: '20', max_connections: '6', cpu_cores: '2',
    innodb_size: '16', dbcfg: '0', storage_iplists: [host], computer_iplists: [host],
  });
  const wall = Date.now() - t0;
  t.comment(`create_cluster (2 shards x 3 nodes rbr, 1 compute node) wall time: ${wall} ms`);
  console.log(`E2E create_cluster wall time: ${wall} ms`);
  const cluster = Number(created.attachment?.cluster_id);
  t.ok(cluster > 0, `cluster ${cluster} created`);
  const jobs = (await env.view<{ jobs: JobV[] }>()).jobs;
  const cj = jobs.find((j) => String(j.id) === created.job_id)!;
  for (const j of [cj, ...jobs.filter((x) => x.parent === cj.id)]) {
    t.comment(`${j.jobType} job ${j.id} steps: ${j.steps.map((s) => `${s.step} ${s.endedAt - s.startedAt}ms`).join(', ')}`);
  }

  // What XPanel reads of the job: job_info the request as sent (paras strings), and its install log
  // (one mysql row of 6 pieces for the create job, one postgres row for its compute child).
  const createParas = { ha_mode: 'rbr', shards: '2', nodes: '3', comps: '1', max_storage_size: '20', max_connections: '6', cpu_cores: '2', innodb_size: '16', dbcfg: '0', storage_iplists: [host], computer_iplists: [host] };
  const compsChild = jobs.find((x) => x.parent === cj.id && x.jobType === 'internal_add_comps')!;
  await waitFor('the install log rows', async () => {
    const r = await env.metaRows('SELECT general_log_id AS g, install_type AS k, status, job_info FROM mysql_pg_install_log WHERE general_log_id IN (?, ?) ORDER BY general_log_id, install_type', [cj.id, compsChild.id]);
    return r.length === 2 && r.every((x) => x.status === 'done') ? true : undefined;
  }, 20_000);
  const installRows = await env.metaRows('SELECT general_log_id AS g, install_type AS k, job_info FROM mysql_pg_install_log WHERE general_log_id IN (?, ?) ORDER BY general_log_id, install_type', [cj.id, compsChild.id]);
  t.same(installRows.map((r) => [Number(r.g), String(r.k), (JSON.parse(String(r.job_info)) as { piece: string }[]).length]), [[cj.id, 'mysql', 6], [compsChild.id, 'postgres', 1]]);
  t.ok(installRows.every((r) => (JSON.parse(String(r.job_info)) as { piece: string }[]).every((x) => x.piece.startsWith(`${host}_`))), 'pieces are "ip_port"');
  const [jobRow] = await env.metaRows('SELECT job_info FROM cluster_general_job_log WHERE id = ?', [cj.id]);
  t.match(JSON.parse(String(jobRow!.job_info)), { version: '1.0', job_id: '', job_type: 'create_cluster', user_name: 'e2e', paras: createParas }, 'job_info is the request as sent');

  let v = await env.view<View>();
  const shards = v.shards.filter((s) => s.cluster === cluster);
  t.equal(shards.length, 2, 'two shards');
  t.ok(shards.every((s) => s.status === 'inuse' && s.nodes.length === 3 && s.primary !== null), 'each in use with 3 nodes and a primary');
  t.equal(v.clusters.find((c) => c.id === cluster)?.status, 'inuse', 'cluster in use');
  t.equal(v.clusters.find((c) => c.id === cluster)?.comps.length, 1, 'one compute node');

  // Replication: write on the primary, read it on every replica; replicas are read-only.
  for (const s of shards) {
    const nodes = s.nodes.map((id) => v.nodes.find((n) => n.id === id)!);
    const primary = nodes.find((n) => n.id === s.primary)!;
    t.equal(primary.access, 'writable', `shard ${s.name}: primary writable in the world`);
    await sql(primary, 'CREATE DATABASE IF NOT EXISTS e2e');
    await sql(primary, 'CREATE TABLE IF NOT EXISTS e2e.t (id INT PRIMARY KEY, v VARCHAR(20))');
    await sql(primary, 'INSERT INTO e2e.t VALUES (?, ?)', [s.id, `shard-${s.id}`]);
    for (const r of nodes.filter((n) => n.id !== s.primary)) {
      const got = await waitFor(`row on replica ${r.port}`, async () => {
        const rows = await sql(r, 'SELECT v FROM e2e.t WHERE id = ?', [s.id]).catch(() => []);
        return rows.length === 1 ? rows[0]!.v as string : undefined;
      }, 15_000);
      t.equal(got, `shard-${s.id}`, `replica ${r.port} of ${s.name} has the row`);
      const ro = await sql(r, 'SELECT @@global.read_only AS ro');
      t.equal(Number(ro[0]!.ro), 1, `replica ${r.port} is read-only`);
    }
    const semi = await sql(primary, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'");
    t.equal(Number(semi[0]!.Value), 2, `${s.name}: two semi-sync replicas`);
  }

  // The metadata tables follow (MetadataReconciler projects the world).
  await waitFor('metadata rows of the new cluster', async () => {
    const rows = await env.metaRows('SELECT COUNT(*) AS n FROM shard_nodes WHERE db_cluster_id = ?', [cluster]);
    return Number(rows[0]!.n) === 6 ? true : undefined;
  }, 20_000);
  t.pass('shard_nodes has the 6 nodes');
  // XPanel's rows (clients-and-agent.md §3.1): the child job is internal, the memo has the original's keys.
  const child = jobs.find((x) => x.parent === cj.id)!;
  const childRow = await waitFor('the child job row', async () => {
    const r = await env.metaRows('SELECT job_type, user_name FROM cluster_general_job_log WHERE id = ?', [child.id]);
    return r[0];
  }, 20_000);
  t.strictSame({ ...childRow }, { job_type: 'internal_add_comps', user_name: 'internal_user' }, 'create_cluster\'s child is logged as internal');
  const memoRow = await env.metaRows('SELECT memo, status FROM db_clusters WHERE id = ?', [cluster]);
  t.match(JSON.parse(String(memoRow[0]!.memo)), { ha_mode: 'rbr', shards: '2', nodes: '3', comps: '1' }, 'db_clusters.memo as the original writes it');
  t.equal(memoRow[0]!.status, 'inuse');
  const cname = String(created.attachment?.cluster_name);
  const logTables = await env.metaRows("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'kunlun_metadata_db' AND TABLE_NAME IN (?, ?)", [`commit_log_${cname}`, `ddl_ops_log_${cname}`]);
  t.equal(logTables.length, 2, 'the cluster\'s log tables exist');

  // Grow: a one-node shard (explicitly asynchronous: a lone primary must not wait for acks), a replica
  // for it (semi-sync from then on), and one more compute node.
  const added = await env.run('add_shards', { cluster_id: String(cluster), shards: '1', nodes: '1', storage_iplists: [host] });
  // XPanel's shape: shard_ids is [{<shard name>: "<id>"}].
  const newShard = Number(Object.values((added.attachment?.shard_ids as Record<string, string>[])[0]!)[0]);
  v = await env.view<View>();
  const lone = v.nodes.find((n) => n.id === v.shards.find((s) => s.id === newShard)!.primary)!;
  await sql(lone, 'CREATE DATABASE IF NOT EXISTS e2e');
  await sql(lone, 'CREATE TABLE e2e.t (id INT PRIMARY KEY, v VARCHAR(20))');
  await sql(lone, 'INSERT INTO e2e.t VALUES (?, ?)', [newShard, 'lone']);
  t.pass('a one-node shard takes writes');
  const addedNodes = await env.run('add_nodes', { cluster_id: String(cluster), shard_id: String(newShard), nodes: '1', storage_iplists: [host] });
  const nn = (addedNodes.attachment?.nodes as { node_id: number; port: number }[])[0]!;
  const rowOnNew = await waitFor('the row on the added replica', async () => {
    const rows = await sql({ hostaddr: host, port: nn.port }, 'SELECT v FROM e2e.t WHERE id = ?', [newShard]).catch(() => []);
    return rows.length === 1 ? rows[0]!.v as string : undefined;
  }, 20_000);
  t.equal(rowOnNew, 'lone', 'the added replica caught up from the primary');
  const semi = await sql(lone, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'");
  t.equal(Number(semi[0]!.Value), 1, 'the added replica acknowledges semi-sync');
  v = await env.view<View>();
  t.equal(v.shards.find((s) => s.id === newShard)!.nodes.length, 2, 'the new shard has 2 nodes');
  t.equal(v.shards.find((s) => s.id === newShard)?.status, 'inuse', 'the added shard is in use');

  const compsBefore = v.clusters.find((c) => c.id === cluster)!.comps;
  await env.run('add_comps', { cluster_id: String(cluster), comps: '1', computer_iplists: [host] });
  v = await env.view<View>();
  const compsAfter = v.clusters.find((c) => c.id === cluster)!.comps;
  t.equal(compsAfter.length, compsBefore.length + 1, 'one more compute node');

  // Shrink.
  await env.run('delete_node', { cluster_id: String(cluster), shard_id: String(newShard), hostaddr: host, port: String(nn.port) });
  await t.rejects(login({ hostaddr: host, port: nn.port }), 'the deleted node no longer accepts connections');
  const c = await login(lone);
  await c.query({ sql: 'INSERT INTO e2e.t VALUES (?, ?)', timeout: 5_000 }, [newShard + 1000, 'alone again']);
  await c.end();
  t.pass('its primary, alone again, still commits (no wait for an absent replica)');
  const gone = compsAfter.find((x) => !compsBefore.includes(x))!;
  await env.run('delete_comp', { cluster_id: String(cluster), comp_id: String(gone) });
  await env.run('delete_shard', { cluster_id: String(cluster), shard_id: String(newShard) });
  v = await env.view<View>();
  t.equal(v.shards.filter((s) => s.cluster === cluster).length, 2, 'back to 2 shards');
  t.equal(v.clusters.find((x) => x.id === cluster)!.comps.length, compsBefore.length, 'back to the compute nodes it had');
  await t.rejects(login(lone), 'the deleted shard\'s node no longer accepts connections');

  // Delete: nothing left behind.
  await env.run('delete_cluster', { cluster_id: String(cluster) });
  v = await env.view<View>();
  t.notOk(v.clusters.some((c) => c.id === cluster), 'cluster gone from the world');
  t.same(env.leftoverProcesses(), [], 'no instance process left');
  t.same(env.leftoverDirs(), [], 'no instance directory left');
  await waitFor('metadata rows removed', async () => {
    const [a, b, c, d] = await Promise.all([
      env.metaRows('SELECT COUNT(*) AS n FROM db_clusters WHERE id = ?', [cluster]),
      env.metaRows('SELECT COUNT(*) AS n FROM shards WHERE db_cluster_id = ?', [cluster]),
      env.metaRows('SELECT COUNT(*) AS n FROM shard_nodes WHERE db_cluster_id = ?', [cluster]),
      env.metaRows('SELECT COUNT(*) AS n FROM comp_nodes WHERE db_cluster_id = ?', [cluster]),
    ]);
    return [a, b, c, d].every((r) => Number(r[0]!.n) === 0) ? true : undefined;
  }, 20_000);
  t.pass('no metadata row of the cluster left');
  const name = String(created.attachment?.cluster_name);
  const tables = await env.metaRows("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'kunlun_metadata_db' AND TABLE_NAME IN (?, ?)", [`commit_log_${name}`, `ddl_ops_log_${name}`]);
  t.same(tables, [], `no commit_log_/ddl_ops_log_ table of ${name} left`);
});
