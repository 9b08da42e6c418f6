// The reader over a metadata shard written the way the original tools write it (install scripts,
// cluster_mgr 1.0, node_mgr, with their quirks), then the adoption path: project what was read and
// see only the rows that could not be represented change.
import t from 'tap';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { createSchema, normalizeTopology, projectTopology, readTopology, type Topology } from '../../src/metadata/index.js';
import { at, cluster, computeNode, job, machine, manager, metaNode, replicaMaster, shard, startMetaServer, storageNode, type MetaServer } from './fixtures.js';

let meta: MetaServer;
let c: Connection;

const MEMO = JSON.stringify({ ha_mode: 'mgr', shards: '1', nodes: '3', comps: '1', computer_user: 'abc', computer_passwd: 'abc', innodb_size: '1', dbcfg: '0' });
const ts = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

t.before(async () => {
  meta = await startMetaServer('meta-read');
  c = await meta.connect();
});
t.teardown(async () => {
  await c?.end().catch(() => undefined);
  await meta?.destroy();
});

t.test('write a topology the way the original tools do', async (t) => {
  await createSchema(c);
  await c.query('USE Kunlun_Metadata_DB');
  await c.query("SET SESSION time_zone = '+00:00'");
  // Install scripts (cloudnative bootstrap).
  await c.query("INSERT INTO global_configuration (name, value) VALUES ('meta_ha_mode', 'mgr'), ('a_custom', 'x')");
  await c.query(
    `INSERT INTO meta_db_nodes (hostaddr, port, user_name, passwd, member_state, sync_state, degrade_conf_state, degrade_run_state, replica_delay, degrade_conf_time, sync_num)
     VALUES ('10.0.2.1', 57301, 'pgx', 'pgx_pwd', 'source', 'fsync', 'OFF', 'OFF', 0, 0, 1),
            ('10.0.2.2', 57301, 'pgx', 'pgx_pwd', 'replica', 'fsync', 'OFF', 'OFF', 0, 0, 1)`,
  );
  // cluster_mgr 1.0 leader start-up.
  await c.query("INSERT INTO cluster_mgr_nodes (hostaddr, port, member_state, prometheus_port) VALUES ('10.0.1.1', 58000, 'source', 57010), ('10.0.1.2', 58000, 'replica', 57010)");
  // create_machine: comma-terminated port lists, and the string 'NULL' for an empty one.
  await c.query(
    `INSERT INTO server_nodes (hostaddr, rack_id, datadir, logdir, wal_log_dir, comp_datadir, total_mem, total_cpu_cores, svc_since, machine_type,
       port_range, used_port, installing_port, node_stats, nodemgr_port, nodemgr_tcp_port, nodemgr_prometheus_port, nodemgr_bin_path)
     VALUES ('10.0.0.2', '1', '/data', '/log', '/wal', '/comp', 16384, 8, ?, 'storage', '57000-58000', '57001,57005,', 'NULL', 'running', 58002, 58003, 58010, '/kunlun/node_mgr/bin'),
            ('10.0.0.3', NULL, '/data', '/log', '/wal', '/comp', 8192, 4, ?, 'computer', '47000-48000', 'NULL', 'abc,47003,', 'dead', 58002, 58003, 58010, '/kunlun/node_mgr/bin')`,
    [ts(at(1)), ts(at(1) + 500)],
  );
  // node_mgr registering itself on a host nobody created: no machine_type.
  await c.query(
    "INSERT INTO server_nodes (hostaddr, total_mem, total_cpu_cores, svc_since, nodemgr_port, nodemgr_bin_path, nodemgr_tcp_port, nodemgr_prometheus_port) VALUES ('10.0.0.9', 0, 0, ?, 58002, '/nm', 58003, 58010)",
    [ts(at(2))],
  );
  // create_cluster (1.0), and a cluster made by the old python scripts: no memo, no nick name.
  await c.query(
    "INSERT INTO db_clusters (name, nick_name, owner, ddl_log_tblname, business, ha_mode, when_created, memo) VALUES ('cluster_1685613600_000001', 'c1', 'abc', 'ddl_ops_log_cluster_1685613600_000001', 'kunlun', 'mgr', ?, ?)",
    [ts(at(10)), MEMO],
  );
  await c.query("INSERT INTO db_clusters (name, owner, ddl_log_tblname, business, ha_mode, when_created) VALUES ('legacy-cluster', 'dept', 'ddl_ops_log_legacy', 'biz', 'rbr', ?)", [ts(at(11))]);
  await c.query("INSERT INTO shards (name, when_created, num_nodes, db_cluster_id) VALUES ('shard_1', ?, 3, 1), ('shard_1', ?, 2, 2)", [ts(at(20)), ts(at(21))]);
  // 1.0 writes every node of a mgr shard as 'replica', no status, svr_node_id=1.
  const node = "INSERT INTO shard_nodes (hostaddr, port, user_name, passwd, shard_id, db_cluster_id, svr_node_id, member_state, when_created) VALUES (?, ?, 'pgx', 'pgx_pwd', ?, ?, ?, 'replica', ?)";
  await c.query(node, ['10.0.0.2', 57001, 1, 1, 1, ts(at(30))]);
  await c.query(node, ['10.0.0.2', 57005, 1, 1, 1, ts(at(30))]);
  await c.query('SET SESSION foreign_key_checks = 0');
  await c.query(node, ['10.0.0.2', 57009, 1, 1, 99, ts(at(30))]);
  await c.query(node, ['10.0.0.4', 57001, 2, 2, 1, ts(at(31))]);
  await c.query("SET SESSION sql_mode = ''");
  await c.query("INSERT INTO shard_nodes (hostaddr, port, user_name, passwd, shard_id, db_cluster_id, svr_node_id, status, when_created) VALUES ('10.0.0.5', 57001, 'pgx', 'pgx_pwd', 2, 2, 1, 'bogus', ?)", [ts(at(31))]);
  await c.query("SET SESSION sql_mode = DEFAULT");
  // add_comps: reserve the id in the sequence, then the row.
  await c.query('INSERT INTO comp_nodes_id_seq (id) VALUES (1), (2), (9)');
  const comp = "INSERT INTO comp_nodes (id, name, hostaddr, port, db_cluster_id, user_name, passwd, status, svr_node_id, when_created) VALUES (?, ?, ?, ?, ?, 'abc', 'abc', 'active', ?, ?)";
  await c.query(comp, [1, 'comp1', '10.0.0.3', 47001, 1, 1, ts(at(40))]);
  await c.query(comp, [2, 'comp2', '10.0.0.3', 47004, 2, 3, ts(at(41))]);
  await c.query(comp, [9, 'comp9', '10.0.0.3', 47007, 77, 3, ts(at(42))]);
  await c.query('SET SESSION foreign_key_checks = 1');
  await c.query(
    "INSERT INTO node_map_master (cluster_id, node_host, master_host, master_uuid) VALUES (-1, '10.0.2.2_57301', '10.0.2.1_57301', 'u-meta'), (2, '10.0.0.5_57001', '10.0.0.4_57001', NULL)",
  );
  // Jobs the way 1.0 writes them: insert, then related_id and job_info, then status by index.
  const a = job(1);
  await c.query('INSERT INTO cluster_general_job_log (job_type, user_name, when_started) VALUES (?, ?, ?)', [a.jobType, a.userName, ts(a.whenStarted)]);
  await c.query("UPDATE cluster_general_job_log SET related_id = '0', job_info = ? WHERE id = 1", [a.jobInfo]);
  await c.query('UPDATE cluster_general_job_log SET status = 3, memo = ?, when_ended = ? WHERE id = 1', [a.memo, ts(a.whenEnded!)]);
  await c.query(
    "INSERT INTO cluster_general_job_log (job_type, user_name, when_started, related_id, status, memo, when_ended, job_info) VALUES ('update_cluster_coldback_time_period', 'xpanel', ?, '0', 'failed', 'cluster_id 9 not exists', ?, '{}')",
    [ts(at(200)), ts(at(201))],
  );
  // node_mgr updates a rebuild job's row itself.
  await c.query("INSERT INTO cluster_general_job_log (job_type, user_name, when_started, related_id, status, memo) VALUES ('rebuild_node', 'kunlun_test', ?, '0', 'ongoing', '{\"step\":\"clear_old_data\"}')", [ts(at(300))]);
  const [n] = await c.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM shard_nodes');
  t.equal(Number(n[0]!.n), 5, 'all rows in, the invalid ones included');
});

function expected(): Topology {
  const bareMachine = machine(4, {
    hostaddr: '10.0.0.9',
    compDatadir: null,
    datadir: null,
    logdir: null,
    walLogDir: null,
    totalMemMb: 0,
    totalCpuCores: 0,
    svcSince: at(2),
    nodemgrBinPath: '/nm',
    machineType: null,
    portRange: null,
  });
  const dirs = { compDatadir: '/comp', datadir: '/data', logdir: '/log', walLogDir: '/wal' };
  const sn = (id: number, shardId: number, clusterId: number, hostaddr: string, port: number, when: number) =>
    storageNode(id, shardId, clusterId, { machineId: 1, hostaddr, port, whenCreated: when, status: 'creating', maxStorageGb: 0, innodbBufferPoolMb: 0 });
  const cn = (id: number, clusterId: number, port: number, machineId: number, when: number) =>
    computeNode(id, clusterId, { port, machineId, whenCreated: when, cpuCores: 0, maxMemMb: 0, maxConns: 0 });
  return {
    metaHaMode: 'mgr',
    machines: [
      machine(2, { ...dirs, rackId: '1', svcSince: at(1), usedPorts: [57001, 57005] }),
      machine(3, { ...dirs, hostaddr: '10.0.0.3', totalMemMb: 8192, totalCpuCores: 4, svcSince: at(1) + 500, nodeStats: 'dead', machineType: 'computer', portRange: '47000-48000', installingPorts: [47003] }),
      bareMachine,
    ],
    clusters: [
      cluster(1, { nickName: 'c1', memo: MEMO, haMode: 'mgr' }),
      cluster(2, { name: 'legacy-cluster', nickName: null, owner: 'dept', ddlLogTblname: 'ddl_ops_log_legacy', business: 'biz', memo: null, whenCreated: at(11) }),
    ],
    shards: [shard(1, 1), shard(2, 2, { name: 'shard_1', numNodes: 2, whenCreated: at(21) })],
    storageNodes: [
      sn(1, 1, 1, '10.0.0.2', 57001, at(30)),
      sn(2, 1, 1, '10.0.0.2', 57005, at(30)),
      sn(3, 1, 1, '10.0.0.2', 57009, at(30)),
      sn(4, 2, 2, '10.0.0.4', 57001, at(31)),
      sn(5, 2, 2, '10.0.0.5', 57001, at(31)),
    ],
    computeNodes: [cn(1, 1, 47001, 1, at(40)), cn(2, 2, 47004, 3, at(41))],
    managers: [manager(1, { memberState: 'source', prometheusPort: 57010 }), manager(2, { prometheusPort: 57010 })],
    metaNodes: [metaNode(1, { memberState: 'source' }), metaNode(2)],
    replicaMasters: [
      replicaMaster(1, { clusterId: -1, nodeHost: '10.0.2.2_57301', masterHost: '10.0.2.1_57301', masterUuid: 'u-meta' }),
      replicaMaster(2, { clusterId: 2, nodeHost: '10.0.0.5_57001', masterHost: '10.0.0.4_57001', masterUuid: null }),
    ],
    jobs: [
      job(1),
      job(2, { jobType: 'update_cluster_coldback_time_period', status: 'failed', memo: 'cluster_id 9 not exists', whenStarted: at(200), whenEnded: at(201), jobInfo: '{}', userName: 'xpanel' }),
      job(3, { jobType: 'rebuild_node', status: 'ongoing', memo: '{"step":"clear_old_data"}', whenStarted: at(300), whenEnded: null, jobInfo: null }),
    ],
    backupStorages: [],
  };
}

t.test('the reader returns the topology, names the quirks it normalised and what it could not understand', async (t) => {
  const r = await readTopology(c, { database: 'Kunlun_Metadata_DB' });
  t.strictSame(r.topology, normalizeTopology(expected()));
  t.strictSame([...r.quirks].sort(), [
    "cluster 2 (legacy-cluster) has no memo: made outside cluster_mgr; XPanel lists it as abnormal",
    "server_nodes id 4 (10.0.0.9) has no machine_type: registered by node_mgr, not a placement host",
    "server_nodes ids 2, 3 store an empty port list as the string 'NULL'",
    "shard 1 (shard_1, mgr) has no 'source' row, as 1.0 writes mgr shards; its primary is found by probing",
  ]);
  t.strictSame([...r.warnings].sort(), [
    'cluster 2: name "legacy-cluster" cannot name commit_log_/ddl_ops_log_ tables; its logs are not managed',
    'comp_nodes id 9 (comp9) belongs to cluster 77, which does not exist; left out',
    "global_configuration's first row is a_custom, not meta_ha_mode; XPanel reads the first row as the meta HA mode",
    'server_nodes id 3: installing_port has entries that are not ports (abc); left out',
    "shard 2 (shard_1, rbr) has no 'source' row: its primary is unknown until probed",
    'shard_nodes id 3: svr_node_id 99 is not a machine; read as 1 (the pseudo server)',
    'shard_nodes id 5: status is "", not one of creating, inactive, active, deleted, manual_stop; read as "creating"',
  ]);
});

t.test('the first free ids are above every row, the AUTO_INCREMENT counters and the compute id sequence', async (t) => {
  const r = await readTopology(c);
  t.strictSame(r.nextIds, { machines: 5, clusters: 3, shards: 3, storageNodes: 6, computeNodes: 10, managers: 3, metaNodes: 3, replicaMasters: 3, jobs: 4, backupStorages: 1 });
  t.strictSame(r.projection, { index: 0, term: 0 }, 'never projected: this is an adoption');
});

t.test('only unfinished jobs, or none, when asked', async (t) => {
  t.strictSame((await readTopology(c, { jobs: 'unfinished' })).topology.jobs.map((j) => j.id), [3]);
  t.strictSame((await readTopology(c, { jobs: 'none' })).topology.jobs, []);
});

t.test('a missing table or column is reported, not fatal', async (t) => {
  await c.query('CREATE DATABASE kmeta_partial');
  await c.query('CREATE TABLE kmeta_partial.cluster_mgr_nodes (id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, hostaddr varchar(512) NOT NULL, port int NOT NULL)');
  await c.query("INSERT INTO kmeta_partial.cluster_mgr_nodes (hostaddr, port) VALUES ('10.0.1.7', 58000)");
  const r = await readTopology(c, { database: 'kmeta_partial' });
  t.strictSame(r.topology.managers, [manager(1, { hostaddr: '10.0.1.7', prometheusPort: null, memberState: 'replica' })]);
  t.equal(r.projection, null, 'not a schema of ours');
  t.equal(r.nextIds.managers, 2);
  t.ok(r.warnings.includes('table server_nodes does not exist; no machines read'));
  t.ok(r.warnings.includes('cluster_mgr_nodes.member_state does not exist; managers get "replica" for memberState'));
});

t.test('adoption: projecting what was read changes only what could not be represented', async (t) => {
  const read = await readTopology(c);
  const r = await projectTopology(c, read.topology, { index: 1, term: 1 });
  t.equal(r.status, 'applied');
  t.strictSame(r.changes, {
    shard_nodes: { inserted: 0, updated: 2, deleted: 0 },
    comp_nodes: { inserted: 0, updated: 0, deleted: 1 },
    // node_mgr writes a stats row beside every server_nodes row; the fixture's machines have none.
    server_nodes_stats: { inserted: 3, updated: 0, deleted: 0 },
  }, 'the unreadable status and the dangling svr_node_id are rewritten, the orphan compute node goes, the missing stats rows come');
  t.strictSame(r.foreignMachines, [], "node_mgr's bare row is part of the adopted topology");
  const again = await readTopology(c);
  t.strictSame(again.topology, read.topology, 'the tables now hold exactly the adopted topology');
  t.equal(again.warnings.length, 4, 'the unreadable rows are gone; what remains is not about rows');
  t.notMatch(again.warnings.join('\n'), /shard_nodes|comp_nodes/);
  t.strictSame(again.projection, { index: 1, term: 1 });
  t.equal(again.nextIds.computeNodes, 10, 'a deleted compute id is not handed out again');
});
