// Golden rows: what XPanel and node_mgr read in kunlun_metadata_db, written by the projection from a
// world built through the actors, compared field by field with the reference (clients-and-agent.md
// §3.1, §4.1; cluster_mgr-api.md §3.14, §9 tables). A real MariaDB metadata shard.
import t from 'tap';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { World } from '../../src/actors/world.js';
import { ANONYMOUS_REQUEST, createSchema, ensureLogTablesFor, projectTopology, readTopology } from '../../src/metadata/index.js';
import { desiredTopology } from '../../src/projection/desired-topology.js';
import { Leader, ev0 } from '../actors/helpers.js';
import { AgentClient } from '../../src/agent/client.js';
import { recordingAgent, type InstanceTaskReport } from '../../src/jobs/install-log.js';
import { freePort } from '../../src/launcher/ports.js';
import { startMetaServer, type MetaServer } from '../metadata/fixtures.js';

const DB = 'kunlun_metadata_db';
let meta: MetaServer;
let c: Connection;
const L = new Leader(new World());
let index = 0;

t.before(async () => {
  meta = await startMetaServer('xpanel-rows');
  c = await meta.connect();
  await createSchema(c);
  await c.query(`USE ${DB}`);
});
t.teardown(async () => {
  await c?.end().catch(() => undefined);
  await meta?.destroy();
});

/** What the leader's metadata reconciler does at each index. */
async function project(): Promise<void> {
  const read = await readTopology(c, { jobs: 'none' });
  const secrets = { comp: (id: number) => L.world.clusterSecret(id), storage: { user: 'pgx', password: 'pgx_pwd' } };
  const desired = desiredTopology(L.world.view(), read.topology, secrets, L.at);
  await ensureLogTablesFor(c, desired);
  await projectTopology(c, desired, { index: ++index, term: 1 });
}

async function rows(sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const [r] = await c.query<RowDataPacket[]>(sql, params);
  return r.map((x) => ({ ...x }));
}

t.test('server_nodes and server_nodes_stats: node_mgr registration taken over, agent columns, dead machines', async (t) => {
  // node_mgr on 10.0.0.1 registered itself before the machine was created (clients-and-agent.md §4.1).
  await c.query(
    'INSERT INTO server_nodes (hostaddr, total_mem, total_cpu_cores, nodemgr_port, nodemgr_bin_path, nodemgr_tcp_port, nodemgr_prometheus_port) VALUES (?, 0, 0, ?, ?, ?, ?)',
    ['10.0.0.1', 58002, '/kunlun/kunlun-node-manager-1.0.0/bin', 58003, 58010],
  );
  const [bare] = await rows('SELECT id FROM server_nodes WHERE hostaddr = ?', ['10.0.0.1']);
  const bareId = Number(bare!.id);
  await c.query('INSERT INTO server_nodes_stats (id, comp_datadir_avail, datadir_avail, wal_log_dir_avail, log_dir_avail) VALUES (?, 0, 0, 0, 0)', [bareId]);

  L.must({ kind: 'machine.create', hostaddr: '10.0.0.1', role: 'storage', rackId: '1', datadir: '/d', logdir: '/l', walLogDir: '/w', totalMemMB: 1024, totalCpuCores: 4 });
  L.must({ kind: 'machine.create', hostaddr: '10.0.0.1', role: 'computer', rackId: '1', compDatadir: '/c', totalMemMB: 1024, totalCpuCores: 4 });
  L.must({ kind: 'machine.create', hostaddr: '10.0.0.2', role: 'storage', rackId: '2', datadir: '/d', logdir: '/l', walLogDir: '/w', totalMemMB: 2048, totalCpuCores: 8, agentPort: 58002 });
  await project();

  const cols = 'id, hostaddr, machine_type, node_stats, nodemgr_port, nodemgr_bin_path, nodemgr_tcp_port, nodemgr_prometheus_port, port_range';
  const sel = `SELECT ${cols} FROM server_nodes WHERE id <> 1 ORDER BY id`;
  const first = await rows(sel);
  t.equal(first.length, 3, 'one row per (host, machine_type): no bare row left beside them');
  const agent = { nodemgr_port: 58002, nodemgr_bin_path: '/kunlun/kunlun-node-manager-1.0.0/bin', nodemgr_tcp_port: 58003, nodemgr_prometheus_port: 58010 };
  t.strictSame(first[0], { id: bareId, hostaddr: '10.0.0.1', machine_type: 'storage', node_stats: 'running', ...agent, port_range: '57000-58000' }, "the host's first role takes node_mgr's row over");
  t.strictSame(first[1], { id: first[1]!.id, hostaddr: '10.0.0.1', machine_type: 'computer', node_stats: 'running', ...agent, port_range: '47000-48000' }, "its other role copies node_mgr's columns");
  t.strictSame(first[2], {
    id: first[2]!.id,
    hostaddr: '10.0.0.2',
    machine_type: 'storage',
    node_stats: 'running',
    nodemgr_port: 58002,
    nodemgr_bin_path: null,
    nodemgr_tcp_port: null,
    nodemgr_prometheus_port: null,
    port_range: '57000-58000',
  }, 'a host without a registration row: the agent port given at create_machine');

  const zero = { comp_datadir_used: 0, comp_datadir_avail: 0, datadir_used: 0, datadir_avail: 0, wal_log_dir_used: 0, wal_log_dir_avail: 0, log_dir_used: 0, log_dir_avail: 0, avg_network_usage_pct: 0 };
  const stats = await rows('SELECT * FROM server_nodes_stats ORDER BY id');
  t.strictSame(stats, first.map((m) => ({ id: m.id, ...zero })), 'one zeroed stats row per machine row, as node_mgr writes it');

  // The agent of 10.0.0.2 stops answering: the machine is dead (the "machine offline" alarm); back again, running.
  L.must({ kind: 'machine.set_health', hostaddr: '10.0.0.2', stats: 'dead', evidence: ev0 });
  await c.query('UPDATE server_nodes_stats SET datadir_used = 7 WHERE id = ?', [first[2]!.id]);
  await project();
  t.strictSame((await rows(sel)).map((r) => [r.hostaddr, r.machine_type, r.node_stats]), [
    ['10.0.0.1', 'storage', 'running'],
    ['10.0.0.1', 'computer', 'running'],
    ['10.0.0.2', 'storage', 'dead'],
  ]);
  t.equal((await rows('SELECT datadir_used FROM server_nodes_stats WHERE id = ?', [first[2]!.id]))[0]!.datadir_used, 7, 'a stats row that exists is left as it is');
  L.must({ kind: 'machine.set_health', hostaddr: '10.0.0.2', stats: 'running', evidence: ev0 });
  await project();
  t.equal((await rows('SELECT node_stats FROM server_nodes WHERE id = ?', [first[2]!.id]))[0]!.node_stats, 'running');

  // delete_machine takes the stats row with it (cluster_mgr-api.md §3.16).
  L.must({ kind: 'machine.delete', hostaddr: '10.0.0.1', role: 'computer' });
  await project();
  t.strictSame((await rows('SELECT id FROM server_nodes_stats ORDER BY id')).map((r) => r.id), [bareId, first[2]!.id]);
});

t.test('db_clusters: memo with the original keys and string values once the cluster is complete; status inuse', async (t) => {
  L.must({ kind: 'machine.create', hostaddr: '10.0.0.3', role: 'storage', rackId: '1', datadir: '/d', logdir: '/l', walLogDir: '/w', totalMemMB: 1024, totalCpuCores: 4 });
  L.must({ kind: 'machine.create', hostaddr: '10.1.0.1', role: 'computer', rackId: '1', compDatadir: '/c', totalMemMB: 1024, totalCpuCores: 4 });
  const created = L.must({ kind: 'cluster.create', haMode: 'rbr', nickName: 'c1', maxStorageSizeGB: 20, maxConnections: 6, cpuCores: 8, innodbSizeMB: 128, dbcfg: 1, compUser: 'abc', compPassword: 'Comp-Pw-1' });
  const cluster = Number(created.committed[0]!.event.agg.slice(8));
  await project();
  const sel = 'SELECT id, name, nick_name, ha_mode, memo, status FROM db_clusters WHERE id = ?';
  const creating = (await rows(sel, [cluster]))[0]!;
  t.equal(creating.memo, null, 'no memo while the cluster is being created (the original writes it when complete)');
  t.equal(creating.status, 'inuse', 'the original inserts the row inuse when creation starts');

  const shard = L.shard(cluster, 57100);
  L.must({ kind: 'comp.add', cluster, hostaddr: '10.1.0.1', port: 47100 });
  L.must({ kind: 'cluster.set_status', cluster, status: 'inuse' });
  await project();

  const done = (await rows(sel, [cluster]))[0]!;
  t.equal(done.status, 'inuse');
  t.equal(done.ha_mode, 'rbr');
  t.equal(done.nick_name, 'c1');
  // cluster_mgr-api.md §4.3, plus fullsync_level that XPanel reads (clients-and-agent.md §3.1).
  t.strictSame(JSON.parse(String(done.memo)), {
    ha_mode: 'rbr',
    shards: '1',
    nodes: '3',
    comps: '1',
    max_storage_size: '20',
    max_connections: '6',
    cpu_cores: '8',
    computer_user: 'abc',
    computer_passwd: 'Comp-Pw-1',
    innodb_size: '128',
    dbcfg: '1',
    fullsync_level: '1',
  });

  // Written once: a later shard does not change it (add_shards in the original reads it, never writes it).
  t.ok(L.shard(cluster, 57104) > shard);
  await project();
  t.equal((await rows(sel, [cluster]))[0]!.memo, done.memo, 'the memo is kept as written');
});

t.test('cluster_general_job_log.user_name: as sent; empty when the request sent none; internal_user for internal jobs only', async (t) => {
  const paras = (host: string) => ({ hostaddr: host, machine_type: 'storage', port_range: '57000-58000', rack_id: '1', datadir: '/d', logdir: '/l', wal_log_dir: '/w', total_mem: '1024', total_cpu_cores: '4' });
  const jobId = (r: ReturnType<typeof L.must>): number => Number(r.committed.find((c) => c.event.type === 'job.created')!.event.agg.slice(4));
  const byUser = jobId(L.must({ kind: 'job.start', jobType: 'create_machine', request: paras('10.2.0.1') }, { user: 'super_dba' }));
  const anonymous = jobId(L.must({ kind: 'job.start', jobType: 'create_machine', request: paras('10.2.0.2') }, { system: ANONYMOUS_REQUEST }));
  const internal = jobId(L.must({ kind: 'job.start', jobType: 'create_machine', request: paras('10.2.0.3') }, { system: 'job 7 step add_machine' }));
  await project();
  const got = await rows('SELECT id, job_type, user_name FROM cluster_general_job_log WHERE id IN (?) ORDER BY id', [[byUser, anonymous, internal]]);
  t.strictSame(got, [
    { id: byUser, job_type: 'create_machine', user_name: 'super_dba' },
    { id: anonymous, job_type: 'create_machine', user_name: '' },
    { id: internal, job_type: 'create_machine', user_name: 'internal_user' },
  ]);
  // XPanel's operation log: `user_name != 'internal_user'`.
  t.equal((await rows("SELECT COUNT(*) AS n FROM cluster_general_job_log WHERE id IN (?) AND user_name <> 'internal_user'", [[byUser, anonymous, internal]]))[0]!.n, 2);
});

t.test('cluster_general_job_log.job_info: the whole envelope as sent (strings stay strings), secrets removed; children built by the parent', async (t) => {
  const jobOf = (r: ReturnType<typeof L.must>): number => Number(r.committed.find((c) => c.event.type === 'job.created')!.event.agg.slice(4));
  const jobInfo = async (id: number): Promise<string> => String((await rows('SELECT job_info FROM cluster_general_job_log WHERE id = ?', [id]))[0]!.job_info);
  const submit = (body: Record<string, unknown>, cause: Parameters<typeof L.must>[1] = { user: 'super_dba' }) =>
    L.must({ kind: 'job.start', jobType: body.job_type as string, request: body.paras as Record<string, unknown>, envelope: body }, cause);

  // create_cluster exactly as XPanel builds it (clients-and-agent.md §1.3): every scalar a string.
  const create = {
    user_name: 'super_dba', job_id: '', version: '1.0', timestamp: '1664526000123', job_type: 'create_cluster',
    paras: {
      nick_name: '集群1', ha_mode: 'rbr', shards: '1', nodes: '3', comps: '1', max_storage_size: '20', max_connections: '6',
      cpu_cores: '8', innodb_size: '128', dbcfg: '1', fullsync_level: '1', computer_user: 'abc', computer_password: 'Secret-Pw-1',
      storage_iplists: ['10.0.0.3'], computer_iplists: ['10.1.0.1'],
    },
  };
  const createJob = jobOf(submit(create));
  const cluster = L.world.job(createJob)!.cluster!;
  // A child job: its parent builds the envelope (internal job type, internal_user, values as strings).
  const child = jobOf(L.must(
    { kind: 'job.start', jobType: 'internal_add_comps', request: { cluster_id: cluster, comps: 1, computer_iplists: ['10.1.0.1'], parent_step: 'start_comps' }, parent: createJob },
    { system: `job ${createJob} step start_comps` },
  ));
  const childAt = L.at;
  L.must({ kind: 'job.fail', job: createJob, code: 70001, info: 'test' });
  // manual_switch names hosts, not node ids; delete_cluster by name; a PHP `{}` arrives as `[]` (kept).
  const shard = L.shard(cluster, 57200);
  const sw = { version: '1.0', job_id: '', job_type: 'manual_switch', timestamp: '1664526000123', user_name: 'super_dba', paras: { cluster_id: String(cluster), shard_id: String(shard), master_hostaddr: '10.0.0.1_57200', assign_hostaddr: '10.0.0.2_57200' } };
  const swJob = jobOf(submit(sw));
  L.must({ kind: 'job.fail', job: swJob, code: 70001, info: 'test' });
  const machine = { version: '1.0', job_id: '', job_type: 'create_machine', timestamp: '1', extra_key: 'kept', paras: { hostaddr: '10.2.0.9', machine_type: 'computer', rack_id: '1', comp_datadir: '/c', total_mem: '1024', total_cpu_cores: '4' } };
  const anonymous = jobOf(submit(machine, { system: ANONYMOUS_REQUEST }));
  await project();

  const { computer_password: _secret, ...createParas } = create.paras;
  const got = await jobInfo(createJob);
  t.strictSame(JSON.parse(got), { ...create, paras: createParas }, 'create_cluster: every key and value as sent, the password removed');
  t.notMatch(got, 'Secret-Pw-1');
  t.match(got, /^\{"job_id":"","job_type":"create_cluster","paras":\{"comps":"1","computer_iplists":\["10\.1\.0\.1"\],/, 'compact, keys in alphabetical order (the original\'s JSON writer)');
  t.match(got, '"nick_name":"\\u96c6\\u7fa41"', 'non-ASCII escaped as XPanel sends it');
  t.strictSame(JSON.parse(await jobInfo(swJob)), sw, 'manual_switch: the host addresses as sent, not node ids');
  t.strictSame(JSON.parse(await jobInfo(anonymous)), machine, 'unknown top-level keys kept; no user_name stays absent');
  t.strictSame(JSON.parse(await jobInfo(child)), {
    version: '1.0', job_id: '', job_type: 'internal_add_comps', timestamp: String(childAt), user_name: 'internal_user',
    paras: { cluster_id: String(cluster), comps: '1', computer_iplists: ['10.1.0.1'] },
  });
  t.strictSame(await rows('SELECT user_name FROM cluster_general_job_log WHERE id = ?', [child]), [{ user_name: 'internal_user' }]);

  // The row comes from the world alone: a rebuilt projection (another leader, an emptied table) writes the same text.
  const before = await rows('SELECT id, job_info FROM cluster_general_job_log WHERE id IN (?) ORDER BY id', [[createJob, swJob, anonymous, child]]);
  await c.query('DELETE FROM cluster_general_job_log WHERE id IN (?)', [[createJob, swJob, anonymous, child]]);
  await project();
  t.strictSame(await rows('SELECT id, job_info FROM cluster_general_job_log WHERE id IN (?) ORDER BY id', [[createJob, swJob, anonymous, child]]), before);

  // What job_info cannot hold is refused before the job exists, naming the reason.
  const huge = { ...machine, paras: { ...machine.paras, hostaddr: '10.2.0.10', note: 'x'.repeat(70_000) } };
  const r = L.check({ kind: 'job.start', jobType: 'create_machine', request: huge.paras, envelope: huge });
  t.match(r, { ok: false, field: 'paras', reason: /over the 65535 bytes cluster_general_job_log\.job_info holds/ });
});

t.test('mysql_pg_install_log: one row per job and install type, pieces "ip_port" with the agent request (no secret), answers in memo', async (t) => {
  const jobOf = (r: ReturnType<typeof L.must>): number => Number(r.committed.find((c) => c.event.type === 'job.created')!.event.agg.slice(4));
  const job = jobOf(L.must({ kind: 'job.start', jobType: 'create_machine', request: { hostaddr: '10.3.0.1', machine_type: 'storage', rack_id: '1', datadir: '/d', logdir: '/l', wal_log_dir: '/w', total_mem: '1024', total_cpu_cores: '4' } }));
  L.must({ kind: 'job.step_start', job, step: 'install', index: 0, total: 1 });
  // Through the same wrapper a job's agent has: a real agent client whose agent is not there.
  const records: InstanceTaskReport[] = [];
  const record = async (r: InstanceTaskReport) => {
    records.push(r);
    L.must({ kind: 'job.record_instance_task', job, ...r });
    await Promise.resolve();
  };
  const agent = recordingAgent(new AgentClient({ host: '127.0.0.1', port: await freePort() }), '10.3.0.1', record);
  const install = { port: 57100, innodbBufferSizeMb: 128, isMaster: true, dbCfg: 1, admin: { user: 'clustmgr', password: 'Admin-Pw-9' } };
  await t.rejects(agent.installMysql(install, { requestId: `${job}`, taskSpecInfo: 'install_mysql_node7' }));
  const startedAt = L.at - 1000;
  t.strictSame(records.map((r) => [r.task, r.status]), [['mysql', 'ongoing'], ['mysql', 'failed']], 'sent, then its failure');
  // The node moved on to the next slot and installed there; a later uninstall of another node is still running.
  L.must({ kind: 'job.record_instance_task', job, task: 'mysql', hostaddr: '10.3.0.1', port: 57104, status: 'ongoing', request: { job_type: 'install_mysql', paras: { port: 57104 } } });
  L.must({ kind: 'job.record_instance_task', job, task: 'mysql', hostaddr: '10.3.0.1', port: 57104, status: 'done', answer: { status: 'success', info: 'installed' } });
  const doneAt = L.at;
  L.must({ kind: 'job.record_instance_task', job, task: 'uninstall_mysql', hostaddr: '10.3.0.2', port: 57200, status: 'ongoing', request: { job_type: 'uninstall_mysql', paras: { port: 57200 } } });
  await project();

  const got = await rows('SELECT general_log_id, install_type, status, when_started, when_ended, job_info, memo FROM mysql_pg_install_log WHERE general_log_id = ? ORDER BY id', [job]);
  t.equal(got.length, 2);
  const [mysqlRow, uninstallRow] = got as [Record<string, unknown>, Record<string, unknown>];
  t.notMatch(String(mysqlRow.job_info), 'Admin-Pw-9', 'no password in the install log');
  const ms = (v: unknown): number => (v as Date).getTime();
  t.strictSame({ ...mysqlRow, when_started: ms(mysqlRow.when_started), when_ended: ms(mysqlRow.when_ended), job_info: JSON.parse(String(mysqlRow.job_info)) as unknown, memo: JSON.parse(String(mysqlRow.memo)) as unknown }, {
    general_log_id: job,
    install_type: 'mysql',
    status: 'done',
    when_started: startedAt,
    when_ended: doneAt,
    job_info: [
      { piece: '10.3.0.1_57100', content: { cluster_mgr_request_id: String(job), job_type: 'install_mysql', paras: { admin: { user: 'clustmgr' }, dbCfg: 1, innodbBufferSizeMb: 128, isMaster: true, port: 57100 }, task_spec_info: 'install_mysql_node7' } },
      { piece: '10.3.0.1_57104', content: { job_type: 'install_mysql', paras: { port: 57104 } } },
    ],
    memo: {
      task_spec_info: 'install_mysql',
      response_array: [
        { piece: 'install_mysql#10.3.0.1:57100#hash0', info: { info: records[1]!.answer && (records[1]!.answer as { info: string }).info, status: 'failed' } },
        { piece: 'install_mysql#10.3.0.1:57104#hash1', info: { info: 'installed', status: 'success' } },
      ],
    },
  }, 'the original row shape (API reference §4.5): XPanel\'s details dialog reads job_info[].piece');
  t.match(uninstallRow, { general_log_id: job, install_type: 'uninstall_mysql', status: 'ongoing', when_ended: null, memo: null });
  t.strictSame(JSON.parse(String(uninstallRow.job_info)), [{ piece: '10.3.0.2_57200', content: { job_type: 'uninstall_mysql', paras: { port: 57200 } } }]);

  // The uninstall ends: the same row is updated, none added; a rerun of the projection changes nothing.
  L.must({ kind: 'job.record_instance_task', job, task: 'uninstall_mysql', hostaddr: '10.3.0.2', port: 57200, status: 'done', answer: { status: 'success', info: '' } });
  await project();
  const after = await rows('SELECT id, install_type, status FROM mysql_pg_install_log WHERE general_log_id = ? ORDER BY id', [job]);
  t.strictSame(after.map((r) => [r.install_type, r.status]), [['mysql', 'done'], ['uninstall_mysql', 'done']]);
  L.must({ kind: 'job.step_finish', job, step: 'install', ok: true, done: 1, total: 1 });
  L.must({ kind: 'job.finish', job });
  t.match(L.check({ kind: 'job.record_instance_task', job, task: 'mysql', hostaddr: '10.3.0.1', port: 1, status: 'ongoing' }), { ok: false, code: 'invalid_state' }, 'an ended job records nothing');
});
