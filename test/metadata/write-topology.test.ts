// The projection on a real MariaDB: round trip, minimal writes (counted independently by triggers),
// replay skipped, stale term refused, job rows as XPanel reads them, foreign rows left alone,
// idempotent failover appends, and kill -9 of the server in the middle of a large projection.
import t from 'tap';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import {
  StaleTermError,
  TopologyError,
  appendFailoverRow,
  createSchema,
  ensureLogTablesFor,
  getProjectionState,
  newJob,
  normalizeTopology,
  projectTopology,
  readTopology,
  updateJob,
  type FailoverRow,
  type Topology,
} from '../../src/metadata/index.js';
import { at, computeNode, job, machine, startMetaServer, topologyA, type MetaServer } from './fixtures.js';

const DB = 'kunlun_metadata_db';
const WATCHED = [
  'server_nodes',
  'db_clusters',
  'shards',
  'shard_nodes',
  'comp_nodes',
  'cluster_mgr_nodes',
  'meta_db_nodes',
  'node_map_master',
  'cluster_general_job_log',
  'global_configuration',
];

let meta: MetaServer;
let c: Connection;

t.before(async () => {
  meta = await startMetaServer('meta-project');
  c = await meta.connect();
  await createSchema(c);
  // Every row written to a topology table is counted by a trigger, independently of what the
  // projection reports about itself.
  await c.query('CREATE DATABASE ktest');
  await c.query('CREATE TABLE ktest.writes (n bigint AUTO_INCREMENT PRIMARY KEY, tbl varchar(64), op varchar(8))');
  for (const table of WATCHED) {
    for (const op of ['INSERT', 'UPDATE', 'DELETE']) {
      await c.query(
        `CREATE TRIGGER ${DB}.tw_${table}_${op.toLowerCase()} AFTER ${op} ON ${DB}.${table} FOR EACH ROW ` +
          `INSERT INTO ktest.writes (tbl, op) VALUES ('${table}', '${op}')`,
      );
    }
  }
});
t.teardown(async () => {
  await c?.end().catch(() => undefined);
  await meta?.destroy();
});

/** Rows written since the last call, per table and operation (as { table: {inserted, updated, deleted} }). */
async function triggerCounts(): Promise<Record<string, { inserted: number; updated: number; deleted: number }>> {
  const [rows] = await c.query<RowDataPacket[]>('SELECT tbl, op, COUNT(*) AS n FROM ktest.writes GROUP BY tbl, op');
  await c.query('DELETE FROM ktest.writes');
  const out: Record<string, { inserted: number; updated: number; deleted: number }> = {};
  const key = { INSERT: 'inserted', UPDATE: 'updated', DELETE: 'deleted' } as const;
  for (const r of rows) {
    const tbl = String(r.tbl);
    out[tbl] ??= { inserted: 0, updated: 0, deleted: 0 };
    out[tbl][key[String(r.op) as keyof typeof key]] = Number(r.n);
  }
  return out;
}

async function readBack(): Promise<Topology> {
  const r = await readTopology(c);
  return r.topology;
}

/** B: a failover in shard 1, storage node 6 removed, compute node 3 added, the manager leader moved, job progress. */
function topologyB(): Topology {
  const b = topologyA();
  b.storageNodes[0]!.memberState = 'replica';
  b.storageNodes[1]!.memberState = 'source';
  b.storageNodes = b.storageNodes.filter((n) => n.id !== 6);
  b.shards[1]!.numNodes = 2;
  b.machines[0]!.usedPorts = [57004, 57008, 57012, 57016, 57020];
  b.machines[1]!.usedPorts = [47003, 47006, 47009];
  b.computeNodes.push(computeNode(3, 1));
  b.managers[0]!.memberState = 'replica';
  b.managers[1]!.memberState = 'source';
  b.replicaMasters[0] = { ...b.replicaMasters[0]!, nodeHost: '10.0.0.2_57004', masterHost: '10.0.0.2_57008' };
  b.replicaMasters[1]!.masterHost = '10.0.0.2_57008';
  b.jobs[1] = { ...b.jobs[1]!, status: 'done', memo: JSON.stringify({ computer_state: 'done', error_code: '0', error_info: 'OK' }), whenEnded: at(300) };
  b.jobs.push(job(4, { jobType: 'delete_node', status: 'ongoing', whenEnded: null }));
  return b;
}

t.test('write A at index 10: every row inserted, read back equals A, XPanel finds what it looks for', async (t) => {
  const a = topologyA();
  const r = await projectTopology(c, a, { index: 10, term: 1 });
  t.equal(r.status, 'applied');
  t.strictSame(r.before, { index: 0, term: 0 });
  t.strictSame(r.after, { index: 10, term: 1 });
  const ins = (n: number): { inserted: number; updated: number; deleted: number } => ({ inserted: n, updated: 0, deleted: 0 });
  t.strictSame(r.changes, {
    server_nodes: ins(2),
    db_clusters: ins(1),
    shards: ins(2),
    shard_nodes: ins(6),
    comp_nodes: ins(2),
    cluster_mgr_nodes: ins(3),
    meta_db_nodes: ins(3),
    node_map_master: ins(2),
    cluster_general_job_log: ins(3),
    global_configuration: ins(1),
    comp_nodes_id_seq: ins(1),
    server_nodes_stats: ins(2),
  });
  const { comp_nodes_id_seq: _seq, server_nodes_stats: _stats, ...watched } = r.changes;
  t.strictSame(await triggerCounts(), watched, 'the triggers saw exactly these writes');

  const back = await readTopology(c);
  t.strictSame(back.topology, normalizeTopology(a), 'read back equals A');
  t.strictSame(back.warnings, []);
  t.strictSame(back.quirks, ["server_nodes ids 2, 3 store an empty port list as the string 'NULL'"], "empty lists are written as the original writes them");
  const st = await getProjectionState(c);
  t.strictSame([st.index, st.term], [10, 1]);
  t.ok(st.updatedAt !== null && Math.abs(st.updatedAt - Date.now()) < 60_000, 'updated_at is the server time of the write');

  const [leader] = await c.query<RowDataPacket[]>(`SELECT hostaddr, port FROM ${DB}.cluster_mgr_nodes WHERE member_state = 'source'`);
  t.strictSame(leader.map((x) => ({ ...x })), [{ hostaddr: '10.0.1.1', port: 58000 }], 'XPanel finds the leader');
  const [mode] = await c.query<RowDataPacket[]>(`SELECT value FROM ${DB}.global_configuration`);
  t.equal(mode[0]!.value, 'rbr', 'first row of global_configuration is the meta HA mode');
  const [ports] = await c.query<RowDataPacket[]>(`SELECT used_port, installing_port FROM ${DB}.server_nodes WHERE id = 2`);
  t.strictSame({ ...ports[0] }, { used_port: '57004,57008,57012,57016,57020,57024,', installing_port: 'NULL' });
  const [jobs] = await c.query<RowDataPacket[]>(`SELECT id, job_type, status, user_name FROM ${DB}.cluster_general_job_log ORDER BY id`);
  t.strictSame(jobs.map((x) => [Number(x.id), String(x.job_type), String(x.status), String(x.user_name)]), [
    [1, 'create_cluster', 'done', 'kunlun_test'],
    [2, 'add_comps', 'ongoing', 'kunlun_test'],
    [3, 'shard_coldbackup', 'not_started', 'internal_user'],
  ]);
  const [seq] = await c.query<RowDataPacket[]>(`SELECT MAX(id) AS m FROM ${DB}.comp_nodes_id_seq`);
  t.equal(Number(seq[0]!.m), 2, 'the compute id sequence moved past the ids in use');

  const logs = await ensureLogTablesFor(c, a);
  t.equal(logs.createdTables.length, 2);
  t.strictSame(logs.addedPartitions.map((p) => p.compNodeId), [1, 2]);
  t.strictSame(await ensureLogTablesFor(c, a), { createdTables: [], addedPartitions: [], skippedClusters: [] }, 'idempotent');
});

t.test('write B at index 12: only the rows that differ are written', async (t) => {
  const b = topologyB();
  const r = await projectTopology(c, b, { index: 12, term: 1 });
  t.equal(r.status, 'applied');
  const expected = {
    server_nodes: { inserted: 0, updated: 2, deleted: 0 },
    shards: { inserted: 0, updated: 1, deleted: 0 },
    shard_nodes: { inserted: 0, updated: 2, deleted: 1 },
    comp_nodes: { inserted: 1, updated: 0, deleted: 0 },
    cluster_mgr_nodes: { inserted: 0, updated: 2, deleted: 0 },
    node_map_master: { inserted: 0, updated: 2, deleted: 0 },
    cluster_general_job_log: { inserted: 1, updated: 1, deleted: 0 },
  };
  t.strictSame(r.changes, { ...expected, comp_nodes_id_seq: { inserted: 1, updated: 0, deleted: 0 } });
  t.strictSame(await triggerCounts(), expected, 'the triggers agree: nothing else was touched');
  t.strictSame(await readBack(), normalizeTopology(b), 'read back equals B');
  t.strictSame(await getProjectionState(c).then((s) => [s.index, s.term]), [12, 1]);
});

t.test('replaying A at index 10 is skipped: nothing written', async (t) => {
  const r = await projectTopology(c, topologyA(), { index: 10, term: 1 });
  t.equal(r.status, 'skipped');
  t.strictSame(r.changes, {});
  t.strictSame(await triggerCounts(), {});
  t.strictSame(await readBack(), normalizeTopology(topologyB()), 'the tables still hold B');
  t.strictSame(await getProjectionState(c).then((s) => [s.index, s.term]), [12, 1]);
});

t.test('a new leader raises the fence; the old leader is refused even at a higher index', async (t) => {
  const r = await projectTopology(c, topologyB(), { index: 12, term: 2 });
  t.equal(r.status, 'skipped', 'the new leader found index 12 already there');
  t.strictSame(r.after, { index: 12, term: 2 });
  const late = topologyA();
  await t.rejects(projectTopology(c, late, { index: 14, term: 1 }), StaleTermError);
  try {
    await projectTopology(c, late, { index: 14, term: 1 });
  } catch (e) {
    t.match((e as Error).message, /index 14 term 1 refused: the metadata shard was written at index 12 by term 2/);
  }
  t.strictSame(await triggerCounts(), {}, 'no row written by the old leader');
  t.strictSame(await getProjectionState(c).then((s) => [s.index, s.term]), [12, 2]);
  t.strictSame(await readBack(), normalizeTopology(topologyB()));
});

t.test('the same topology at a higher index is applied without writing a row', async (t) => {
  const r = await projectTopology(c, topologyB(), { index: 13, term: 2 });
  t.equal(r.status, 'applied');
  t.strictSame(r.changes, {});
  t.strictSame(await triggerCounts(), {});
  t.strictSame(await getProjectionState(c).then((s) => [s.index, s.term]), [13, 2]);
});

t.test('a topology invalid as a whole (two leaders) is refused and changes nothing', async (t) => {
  const bad = topologyB();
  bad.managers[2]!.memberState = 'source';
  await t.rejects(projectTopology(c, bad, { index: 14, term: 2 }), TopologyError);
  await t.rejects(projectTopology(c, topologyB(), { index: 0, term: 2 }), RangeError);
  t.strictSame(await triggerCounts(), {});
  t.strictSame(await getProjectionState(c).then((s) => s.index), 13);
});

t.test('job rows as XPanel reads them; secrets never reach the table and the row stays stable', async (t) => {
  const b = topologyB();
  const request = {
    version: '1.0',
    job_type: 'create_cluster',
    user_name: 'kunlun_test',
    paras: { nick_name: 'c2', shards: '1', computer_user: 'abc', computer_passwd: 'Secret-Pw-1' },
  };
  const j = newJob({ id: 5, jobType: 'create_cluster', request, userName: 'kunlun_test', startedAt: at(400) + 7 });
  b.jobs.push(updateJob(j, 'done', { error_code: '0', error_info: 'OK', cluster_id: '2', computer_user: 'abc', computer_pwd: 'Secret-Pw-1' }, at(460)));
  // A topology built without the helpers carries the secret in raw text: the projection redacts it too.
  b.jobs.push(job(6, { jobInfo: JSON.stringify({ paras: { password: 'Secret-Pw-2' } }) }));
  await projectTopology(c, b, { index: 14, term: 2 });
  const [rows] = await c.query<RowDataPacket[]>(
    `SELECT id, job_type, status, memo, job_info, user_name, when_started, when_ended FROM ${DB}.cluster_general_job_log WHERE id IN (5, 6) ORDER BY id`,
  );
  const all = JSON.stringify(rows);
  t.notMatch(all, /Secret-Pw/, 'no password in job_info or memo');
  const memo = JSON.parse(String(rows[0]!.memo)) as Record<string, string>;
  t.strictSame(memo, { error_code: '0', error_info: 'OK', cluster_id: '2', computer_user: 'abc', computer_pwd: '<redacted>' });
  const info = JSON.parse(String(rows[0]!.job_info)) as { job_type: string; paras: Record<string, string> };
  t.equal(info.paras.nick_name, 'c2', 'XPanel formats the operation log from job_info.paras');
  t.equal(rows[0]!.status, 'done');
  await triggerCounts();
  const again = await projectTopology(c, b, { index: 15, term: 2 });
  t.strictSame(again.changes, {}, 'redacted rows compare equal next time: no rewrite');
  t.strictSame(await triggerCounts(), {});
});

t.test("node_mgr's own server rows and old job history stay; a removed machine goes with its stats row", async (t) => {
  // What node_mgr and the original cluster_mgr write on their own.
  await c.query(`INSERT INTO ${DB}.server_nodes (hostaddr, total_mem, total_cpu_cores, nodemgr_port) VALUES (?, ?, ?, ?)`, ['10.0.9.9', 0, 0, 58002]);
  const [bare] = await c.query<RowDataPacket[]>(`SELECT id FROM ${DB}.server_nodes WHERE hostaddr = ?`, ['10.0.9.9']);
  const bareId = Number(bare[0]!.id);
  await c.query(`INSERT INTO ${DB}.server_nodes_stats (id, comp_datadir_avail, datadir_avail, wal_log_dir_avail, log_dir_avail) VALUES (?, 0, 0, 0, 0)`, [bareId]);
  await c.query(`INSERT INTO ${DB}.cluster_general_job_log (id, job_type, status, user_name) VALUES (1000, 'create_machine', 'done', 'old')`);

  const b = topologyB();
  b.machines.push(machine(40, { hostaddr: '10.0.0.40' }));
  await projectTopology(c, b, { index: 16, term: 2 });
  // The projection wrote machine 40's zeroed stats row; node_mgr fills it.
  await c.query(`UPDATE ${DB}.server_nodes_stats SET comp_datadir_avail = 1, datadir_avail = 1, wal_log_dir_avail = 1, log_dir_avail = 1 WHERE id = 40`);
  await triggerCounts();

  const r = await projectTopology(c, topologyB(), { index: 17, term: 2 });
  t.strictSame(r.changes, {
    server_nodes_stats: { inserted: 0, updated: 0, deleted: 1 },
    server_nodes: { inserted: 0, updated: 0, deleted: 1 },
  });
  t.strictSame(r.foreignMachines, [bareId], "node_mgr's registration row is reported, not deleted");
  const [left] = await c.query<RowDataPacket[]>(`SELECT id FROM ${DB}.server_nodes ORDER BY id`);
  t.strictSame(left.map((x) => Number(x.id)), [1, 2, 3, bareId], 'the pseudo row, the topology machines and the bare row');
  const [hist] = await c.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${DB}.cluster_general_job_log WHERE id = 1000`);
  t.equal(Number(hist[0]!.n), 1, 'job history not in the topology is kept');
  const [stats] = await c.query<RowDataPacket[]>(`SELECT id FROM ${DB}.server_nodes_stats ORDER BY id`);
  t.strictSame(stats.map((x) => Number(x.id)), [2, 3, bareId], 'one stats row per machine row left');
  await c.query(`DELETE FROM ${DB}.server_nodes_stats WHERE id = ?`, [bareId]);
  await c.query(`DELETE FROM ${DB}.server_nodes WHERE id = ?`, [bareId]);
  await c.query(`DELETE FROM ${DB}.cluster_general_job_log WHERE id = 1000`);
  await triggerCounts();
});

t.test('a row the server refuses is left out, the rest written; the reason holds no value; a pool is refused', async (t) => {
  const bad = topologyB();
  // Valid as far as the validator can tell, refused by the server: utf8_general_ci compares 'ß' equal
  // to 's', so these two names collide on the (db_cluster_id, name) unique key.
  bad.computeNodes.push(computeNode(7, 1, { name: 'compß', passwd: 'Very-Secret-9' }), computeNode(8, 1, { name: 'comps', passwd: 'Very-Secret-9' }));
  bad.shards[0]!.numNodes = 5;
  const r = await projectTopology(c, bad, { index: 18, term: 2 });
  t.equal(r.status, 'applied');
  t.strictSame(r.failed.map((f) => [f.table, f.key]), [['comp_nodes', '8']], 'only the second of the colliding rows fails');
  t.match(r.failed[0]!.reason, /^refused by the server: ER_DUP_ENTRY on key /);
  t.notMatch(JSON.stringify(r), /Very-Secret-9|comps/, 'neither the password nor the value is in the result');
  t.strictSame(await triggerCounts(), { comp_nodes: { inserted: 1, updated: 0, deleted: 0 }, shards: { inserted: 0, updated: 1, deleted: 0 } }, 'the other rows are written');
  const [ids] = await c.query<RowDataPacket[]>(`SELECT id FROM ${DB}.comp_nodes WHERE id IN (7, 8)`);
  t.strictSame(ids.map((x) => Number(x.id)), [7]);
  t.strictSame(await getProjectionState(c).then((s) => s.index), 18, 'the index is recorded');

  // At the recorded index, a retry tries the failed row alone; once its cause is gone it is written.
  await c.query(`UPDATE ${DB}.comp_nodes SET name = 'comp7' WHERE id = 7`);
  await triggerCounts();
  const fixed = { ...bad, computeNodes: bad.computeNodes.map((n) => (n.id === 7 ? { ...n, name: 'comp7' } : n)) };
  const again = await projectTopology(c, fixed, { index: 18, term: 2 }, { retry: r.failed });
  t.equal(again.status, 'retried');
  t.strictSame(again.failed, []);
  t.strictSame(await triggerCounts(), { comp_nodes: { inserted: 1, updated: 0, deleted: 0 } }, 'only the retried row was written');
  t.equal((await projectTopology(c, fixed, { index: 18, term: 2 })).status, 'skipped', 'without a retry the recorded index is skipped');

  const { createPool } = await import('mysql2/promise');
  const pool = createPool({ host: meta.server.host, port: meta.server.port, user: 'clustmgr', password: 'clustmgr-pw' });
  await t.rejects(projectTopology(pool, topologyB(), { index: 19, term: 2 }), /not a pool/);
  await pool.end();
});

t.test('an invalid row is left out and its new dependants with it; an existing row stays as it is', async (t) => {
  const x = topologyB();
  x.computeNodes = x.computeNodes.filter((n) => n.id <= 3);
  x.shards[0]!.numNodes = 5; // as written at index 18
  x.computeNodes[0]!.passwd = 'p'.repeat(17); // an existing row: its old row stays
  x.clusters.push({ ...x.clusters[0]!, id: 5, name: 'c5', nickName: 'n'.repeat(121), ddlLogTblname: 'ddl_ops_log_c5' }); // a new row
  x.shards.push({ ...x.shards[0]!, id: 9, clusterId: 5, name: 'shard9' });
  x.computeNodes.push(computeNode(9, 5, { name: 'comp9' }));
  x.computeNodes.push(computeNode(10, 1, { name: 'comp10' }));
  await triggerCounts();
  const r = await projectTopology(c, x, { index: 20, term: 2 });
  t.strictSame(r.failed, [
    { table: 'db_clusters', key: '5', reason: 'nickName is longer than 120 characters' },
    { table: 'shards', key: '9', reason: 'its db_clusters row 5 is not written' },
    { table: 'comp_nodes', key: '1', reason: 'passwd is longer than 16 characters' },
    { table: 'comp_nodes', key: '9', reason: 'its db_clusters row 5 is not written' },
  ]);
  t.strictSame(await triggerCounts(), { comp_nodes: { inserted: 1, updated: 0, deleted: 2 } }, 'comp 10 written, 7 and 8 deleted, comp 1 untouched');
  const [comp1] = await c.query<RowDataPacket[]>(`SELECT passwd FROM ${DB}.comp_nodes WHERE id = 1`);
  t.equal(comp1.length, 1, 'the failing existing row is not deleted');
  t.equal(String(comp1[0]!.passwd).length <= 16, true, 'and keeps its old value');
});

t.test('failover rows are appended once per idempotency key, also under concurrent retries', async (t) => {
  const row: FailoverRow = {
    host: '10.0.0.2_57004',
    shardId: 1,
    clusterId: 1,
    taskId: 'failover-17',
    step: 'promote',
    newMasterHost: '10.0.0.2_57008',
    description: 'primary unreachable; 2 replicas agree',
    consfailoverMsg: JSON.stringify({ sw_type: 'auto' }),
    timestamp: at(500) + 1,
    errCode: 0,
    errMsg: null,
  };
  const first = await appendFailoverRow(c, 'failover/17/promote', row);
  t.equal(first.inserted, true);
  const retry = await appendFailoverRow(c, 'failover/17/promote', row);
  t.strictSame(retry, { id: first.id, inserted: false }, 'a retry returns the first row');
  const c2 = await meta.connect();
  const both = await Promise.all([
    appendFailoverRow(c, 'failover/17/repoint', { ...row, step: 'repoint' }),
    appendFailoverRow(c2, 'failover/17/repoint', { ...row, step: 'repoint' }),
  ]);
  await c2.end();
  t.equal(both.filter((x) => x.inserted).length, 1, 'exactly one of two concurrent appends wrote');
  t.equal(both[0].id, both[1].id);
  // XPanel's switch-over history query.
  const [hist] = await c.query<RowDataPacket[]>(
    `SELECT taskid, COUNT(*) AS n, MAX(err_code) AS e FROM ${DB}.rbr_consfailover WHERE taskid IS NOT NULL AND cluster_id = '1' GROUP BY taskid`,
  );
  t.strictSame(hist.map((x) => ({ ...x })), [{ taskid: 'failover-17', n: 2, e: 0 }]);
  const [ts] = await c.query<RowDataPacket[]>(`SELECT CAST(UNIX_TIMESTAMP(\`timestamp\`) * 1000 AS UNSIGNED) AS ms FROM ${DB}.rbr_consfailover WHERE id = ?`, [first.id]);
  t.equal(Number(ts[0]!.ms), at(500) + 1, 'the leader-stamped time is stored, in UTC');
  await t.rejects(appendFailoverRow(c, 'failover/17/x', { ...row, shardId: -1 }), /shardId must be in 0\.\.4294967295/);
  await t.rejects(appendFailoverRow(c, 'bad key with spaces', row), /key must be 1-191 printable ASCII/);
});

t.test('kill -9 of the metadata server in the middle of a large projection: all or nothing, the index tells which', async (t) => {
  const before = await getProjectionState(c);
  const small = normalizeTopology(await readBack());
  t.equal(small.metaHaMode, 'rbr');
  const big: Topology = { ...small, metaHaMode: 'mgr', jobs: [...small.jobs] };
  for (let id = 10_001; id <= 15_000; id++) {
    big.jobs.push(job(id, { memo: JSON.stringify({ error_code: '0', error_info: 'x'.repeat(300), n: id }) }));
  }
  // Another session holds the meta_ha_mode row, which the projection updates after all the job rows:
  // it then waits with every row written and nothing committed, and that is when the server dies.
  const holder = await meta.connect();
  await holder.query('START TRANSACTION');
  await holder.query(`SELECT value FROM ${DB}.global_configuration WHERE name = ? FOR UPDATE`, ['meta_ha_mode']);
  const projector = c;
  const threadId = projector.threadId;
  const pending = projectTopology(projector, big, { index: before.index + 10, term: before.term }).then(
    () => 'committed' as const,
    (e: Error) => e,
  );
  // Watch the cheap process list; INNODB_TRX walks the transaction's locks and would slow it down. Once
  // the UPDATE shows, wait for it to be in the lock wait (it shows a moment before it gets there).
  const deadline = Date.now() + 40_000;
  let trx = { state: 'none', rows: 0 };
  let seen = false;
  while (Date.now() < deadline && trx.state !== 'LOCK WAIT') {
    if (!seen) {
      const [p] = await holder.query<RowDataPacket[]>('SELECT INFO AS i FROM information_schema.PROCESSLIST WHERE ID = ?', [threadId]);
      seen = /^UPDATE `kunlun_metadata_db`\.`global_configuration`/.test(String(p[0]?.i ?? ''));
    }
    if (seen) {
      const [tx] = await holder.query<RowDataPacket[]>(
        'SELECT trx_state AS s, trx_rows_modified AS n FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ?',
        [threadId],
      );
      trx = tx.length ? { state: String(tx[0]!.s), rows: Number(tx[0]!.n) } : { state: 'none', rows: 0 };
    }
    if (trx.state !== 'LOCK WAIT') await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(trx.state, 'LOCK WAIT', 'the projection is waiting inside its transaction');
  t.ok(trx.rows >= 5_000, `it had written ${trx.rows} rows, none committed, when the server was killed`);
  await meta.server.kill9();
  const outcome = await pending;
  t.type(outcome, Error, 'the projector saw its connection die');
  holder.destroy();
  projector.destroy();

  await meta.server.start();
  c = await meta.connect();
  const state = await getProjectionState(c);
  const back = normalizeTopology(await readBack());
  // The recorded index says which topology the tables hold.
  if (state.index === before.index) t.strictSame(back, small, 'nothing of the projection survived: the tables hold the previous topology');
  else t.strictSame(back, normalizeTopology(big), 'all of it survived');
  t.equal(state.index, before.index, 'killed before commit: the recorded index is still the old one');

  const r = await projectTopology(c, big, { index: before.index + 10, term: before.term });
  t.equal(r.status, 'applied', 'the projection runs again after the restart');
  t.equal(r.changes.cluster_general_job_log?.inserted, 5_000);
  t.strictSame(normalizeTopology(await readBack()), normalizeTopology(big));
  t.strictSame(await getProjectionState(c).then((s) => s.index), before.index + 10);
});
