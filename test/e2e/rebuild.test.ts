// rebuild_node end to end (issue 14), through Emit on real servers: a 3-node shard run by a node agent
// (AgentShard), a replica killed with kill -9 and its data directory deleted under a continuous writer,
// then rebuilt from a streamed physical copy: it replicates from the primary, is read-only, and every
// table's CHECKSUM TABLE equals the primary's. Then the leader is killed in the middle of a rebuild: the
// next leader resumes the same copy and the job ends done exactly once. The refusals answer with the
// original's numbers. The same shard serves the backup checks (backup-checks.ts).
import t from 'tap';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { ContinuousWriter, checkAcknowledged } from '../chaos/writer.js';
import { backupChecks } from './backup-checks.js';
import { AgentShard, APP, caughtUp, tableChecksums, waitFor, type NodeV } from './agent-shard.js';

const bed = new AgentShard('e2e-rebuild');
t.teardown(() => bed.stop());

const dataDirOf = (port: number): string => join(bed.env.base, 'storage', String(port), 'data');

function rebuildParas(nodes: { hostaddr: string; port: number }[], extra: Record<string, unknown> = {}, node: Record<string, string> = {}) {
  return {
    cluster_id: String(bed.cluster),
    shard_id: String(bed.shard),
    allow_pull_from_master: '0',
    allow_replica_delay: '30',
    rb_nodes: nodes.map((n) => ({ hostaddr: n.hostaddr, port: String(n.port), need_backup: '0', hdfs_host: '', pv_limit: '0', ...node })),
    ...extra,
  };
}

/** Waits until the node has applied everything the primary has binlogged. */
async function nodeCaughtUp(primary: NodeV, replica: NodeV): Promise<void> {
  const pc = await bed.adminConnection(primary.port);
  const rc = await bed.adminConnection(replica.port);
  try {
    await caughtUp(pc, rc, 30);
  } finally {
    await pc.end();
    await rc.end();
  }
}

t.before(async () => {
  await bed.start();
});

t.test('refusals name the field and carry the original numbers', async (t) => {
  const s = await bed.settled();
  const leader = await bed.env.leader();
  const primary = await bed.env.emit(leader, 'rebuild_node', rebuildParas([s.primary]));
  t.equal(primary.status, 'failed');
  t.equal(String(primary.error_code), '70041', `the primary is refused: ${primary.error_info}`);
  t.match(primary.error_info, /rb_nodes\[0\].*primary/);
  const stranger = await bed.env.emit(leader, 'rebuild_node', rebuildParas([{ hostaddr: '127.0.0.1', port: 1 }]));
  t.equal(String(stranger.error_code), '70041', `a node of no shard is refused: ${stranger.error_info}`);
  const none = await bed.env.emit(leader, 'rebuild_node', { cluster_id: String(bed.cluster), shard_id: String(bed.shard) });
  t.equal(String(none.error_code), '70036', `rb_nodes missing: ${none.error_info}`);
  const noPort = await bed.env.emit(leader, 'rebuild_node', { ...rebuildParas([]), rb_nodes: [{ hostaddr: '127.0.0.1' }] });
  t.equal(String(noPort.error_code), '70038', `port missing: ${noPort.error_info}`);
  t.match(noPort.error_info, /paras\.rb_nodes\[0\]\.port/);
  const meta = await bed.env.emit(leader, 'rebuild_node', { ...rebuildParas([s.nodes[1]!]), cluster_id: '-1', shard_id: '-1' });
  t.equal(String(meta.error_code), '70001', 'the metadata shard form is refused with its reason');
  t.match(meta.error_info, /metadata shard/);
});

// manual_backup_cluster on the same shard (test/e2e/backup-checks.ts), while every node is healthy.
t.test('manual_backup_cluster into fs and s3 storages', (t) => backupChecks(t, bed));

t.test('a replica killed with kill -9 and its data dir deleted, under a writer, is rebuilt', async (t) => {
  const s = await bed.settled();
  const victim = s.nodes.find((n) => n.id !== s.primary.id)!;
  const tracker = bed.primaryTracker({ host: s.primary.hostaddr, port: s.primary.port });
  const writer = new ContinuousWriter({ getPrimary: tracker.get, credentials: APP, queryTimeoutMs: 5_000 });
  writer.start();
  await writer.waitForAcks(50, 20_000);

  const pid = (await bed.pidOf(victim.port))!;
  process.kill(pid, 'SIGKILL');
  rmSync(dataDirOf(victim.port), { recursive: true, force: true });
  t.comment(`killed node ${victim.id} (${victim.hostaddr}:${victim.port}, pid ${pid}) and deleted its data dir`);
  await writer.waitForAcks(50, 20_000);

  const id = await bed.env.submit('rebuild_node', rebuildParas([victim]));
  const end = await bed.env.wait(id, 180_000);
  t.equal(end.status, 'done', `rebuild_node ended done (${end.error_code} ${end.error_info})`);
  const key = `${victim.hostaddr}_${victim.port}`;
  t.same(Object.keys(end.attachment ?? {}).sort(), [key, 'job_step'].sort(), 'the attachment holds job_step and one "ip_port" key, as XPanel reads it');
  t.equal(end.attachment!.job_step, 'check_param,xtracback_data,checksum_data,recover_data,backup_old_data,rebuild_sync,done');
  t.match(end.attachment![key], { status: 'done', step: 'done', error_code: '0', error_info: '' }, 'the node entry says done');
  t.ok(existsSync(dataDirOf(victim.port)), 'the data dir is back');
  await writer.waitForAcks(50, 20_000);
  const report = await writer.stop();
  tracker.stop();
  t.comment(`writer: ${report.acked} acknowledged, ${report.failed} failed, longest unavailability ${report.longestMs} ms`);

  const after = await bed.settled();
  t.equal(after.nodes.find((n) => n.id === victim.id)?.source, after.primary.id, 'the rebuilt node replicates from the primary');
  await nodeCaughtUp(after.primary, victim);
  const rc = await bed.adminConnection(victim.port);
  const pc = await bed.adminConnection(after.primary.port);
  try {
    const [[ro]] = await rc.query<RowDataPacket[]>('SELECT @@read_only AS ro');
    t.equal(Number(ro!.ro), 1, 'it is read-only');
    const [[st]] = await rc.query<RowDataPacket[]>('SHOW SLAVE STATUS');
    t.equal(st!.Master_Port, after.primary.port, 'SHOW SLAVE STATUS names the primary');
    t.equal(st!.Slave_IO_Running, 'Yes');
    t.equal(st!.Slave_SQL_Running, 'Yes');
    const [[semi]] = await rc.query<RowDataPacket[]>("SELECT @@rpl_semi_sync_slave_enabled AS s");
    t.equal(Number(semi!.s), 1, 'as a semi-sync replica');
    const mine = await tableChecksums(rc);
    const theirs = await tableChecksums(pc);
    t.ok(Object.keys(theirs).length > 0, `${Object.keys(theirs).length} tables compared`);
    t.same(mine, theirs, 'CHECKSUM TABLE of every table equals the primary\'s');
  } finally {
    await rc.end();
    await pc.end();
  }
  const rows = await waitFor('the rows of the job and its child', async () => {
    const r = await bed.env.metaRows<RowDataPacket>("SELECT id, job_type, status FROM cluster_general_job_log WHERE job_type IN ('rebuild_node', 'rb_shard_node') ORDER BY id");
    return r.length === 2 && r.every((x) => x.status === 'done') ? r : undefined;
  }, 30_000).catch(() => [] as RowDataPacket[]);
  t.match(rows.map((r): [unknown, unknown] => [r.job_type, r.status]), [['rebuild_node', 'done'], ['rb_shard_node', 'done']], 'the job and its rb_shard_node child have their rows');
});

t.test('add_nodes on a shard whose primary purged its early binlogs: the new replica is seeded by copy', async (t) => {
  const s = await bed.settled();
  const pc = await bed.adminConnection(s.primary.port);
  try {
    await pc.query('CREATE DATABASE IF NOT EXISTS seed_test');
    await pc.query('CREATE TABLE IF NOT EXISTS seed_test.t (id INT PRIMARY KEY, v VARCHAR(64))');
    await pc.query("INSERT INTO seed_test.t VALUES (1, 'before the purge'), (2, 'also before')");
    await pc.query('FLUSH BINARY LOGS');
    const [[st]] = await pc.query<RowDataPacket[]>('SHOW MASTER STATUS');
    // A replica still reading an older file keeps it: purge until they have all moved on.
    const logs = await waitFor('the early binlogs to be purged', async () => {
      await pc.query('PURGE BINARY LOGS TO ?', [st!.File]);
      const [l] = await pc.query<RowDataPacket[]>('SHOW BINARY LOGS');
      return l.length === 1 ? l : undefined;
    }, 20_000);
    t.equal(String(logs[0]!.Log_name), String(st!.File), `the primary keeps only ${String(st!.File)}: the early binlogs are gone`);
  } finally {
    await pc.end();
  }
  const before = new Set(s.nodes.map((n) => n.id));
  const end = await bed.env.run('add_nodes', { cluster_id: String(bed.cluster), shard_id: String(bed.shard), nodes: '1', storage_iplists: ['127.0.0.1'] }, 240_000);
  t.equal(end.status, 'done');
  const after = await bed.settled();
  const added = after.nodes.find((n) => !before.has(n.id))!;
  t.ok(added, `node ${added.id} added (${added.hostaddr}:${added.port})`);
  t.equal(added.source, after.primary.id, 'it replicates from the primary');
  await nodeCaughtUp(after.primary, added);
  const nc = await bed.adminConnection(added.port);
  const pc2 = await bed.adminConnection(after.primary.port);
  try {
    const [rows] = await nc.query<RowDataPacket[]>('SELECT id FROM seed_test.t ORDER BY id');
    t.same(rows.map((r) => Number(r.id)), [1, 2], 'it holds the rows written before the purge');
    t.same(await tableChecksums(nc), await tableChecksums(pc2), "CHECKSUM TABLE of every table equals the primary's");
  } finally {
    await nc.end();
    await pc2.end();
  }
  // The projection writes the rows after the jobs end: wait for it.
  const kids = await waitFor('the seeding child\'s row', async () => {
    const rows = await bed.env.metaRows<RowDataPacket>("SELECT job_type, status FROM cluster_general_job_log WHERE job_type = 'rb_shard_node' ORDER BY id DESC LIMIT 1");
    return rows[0]?.status === 'done' ? rows : undefined;
  }, 30_000);
  t.match(kids, [{ job_type: 'rb_shard_node', status: 'done' }], 'seeded by an rb_shard_node child');
});

t.test('a SIGSTOPped primary with its agent down ends needs_rebuild and is rebuilt automatically; nothing acknowledged is lost', async (t) => {
  const s = await bed.settled();
  const old = s.primary;
  const replicas = s.nodes.filter((n) => n.id !== old.id);
  const tracker = bed.primaryTracker({ host: old.hostaddr, port: old.port });
  // Ids after the first writer's (same table).
  const writer = new ContinuousWriter({ getPrimary: tracker.get, credentials: APP, queryTimeoutMs: 3_000, firstId: 500_000 });
  writer.start();
  t.teardown(async () => {
    tracker.stop();
    await writer.stop();
  });
  await writer.waitForAcks(50, 20_000);
  const pid = (await bed.pidOf(old.port))!;
  // The agent fence is unavailable: the old primary cannot be killed, it will wake up.
  await bed.env.agent.kill9();
  // A commit that the primary writes to its binlog but no replica receives: it waits for an ACK.
  const conns = await Promise.all(replicas.map((r) => bed.adminConnection(r.port)));
  await Promise.all(conns.map((c) => c.query('STOP SLAVE IO_THREAD')));
  const hung = await bed.adminConnection(old.port);
  void hung.query('INSERT INTO cmgr_chaos.acked_writes (id, written_at_ms) VALUES (?, ?)', [990_000_001, Date.now()]).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 500));
  process.kill(pid, 'SIGSTOP');
  let resumed = false;
  t.teardown(() => {
    if (!resumed) process.kill(pid, 'SIGCONT');
  });
  await Promise.all(conns.map((c) => c.query('START SLAVE IO_THREAD')));
  await Promise.all(conns.map((c) => c.end()));
  const done = await waitFor('a failover away from the hung primary', async () => {
    const st = await bed.state().catch(() => null);
    return st && st.shard.primary !== null && st.shard.primary !== old.id && st.shard.task === null ? st : undefined;
  }, 90_000);
  t.comment(`failover to node ${done.shard.primary}`);
  process.kill(pid, 'SIGCONT');
  resumed = true;
  hung.destroy();
  bed.env.agent.start();
  t.teardown(async () => {
    if (t.passing()) return;
    const v = await bed.env.view<{ nodes: unknown[]; jobs: { id: number; jobType: string; status: string; errorInfo: string }[] }>().catch(() => null);
    t.comment(JSON.stringify({ nodes: v?.nodes, jobs: v?.jobs.map((j) => [j.id, j.jobType, j.status, j.errorInfo]) }).slice(0, 6000));
  });
  const marked = await waitFor('the old primary to be marked needs_rebuild', async () => {
    const n = (await bed.state().catch(() => null))?.node(old.id);
    return n && (n.repair === 'needs_rebuild' || n.rebuild !== null) ? n : undefined;
  }, 90_000);
  t.pass(`node ${old.id} needs a rebuild: ${marked.rebuild?.reason ?? ''}`);
  const back = await waitFor('the automatic rebuild to bring it back as a replica', async () => {
    const st = await bed.state().catch(() => null);
    const n = st?.node(old.id);
    return st && n && n.repair === 'ok' && n.health === 'alive' && n.source === st.shard.primary ? st : undefined;
  }, 240_000);
  const jobs = (await bed.env.view<{ jobs: { id: number; jobType: string; status: string; user: string | null; system: string | null }[] }>()).jobs;
  const auto = jobs.filter((j) => j.jobType === 'rebuild_node' && j.status === 'done').pop();
  t.ok(auto, `a rebuild_node job the leader started ended done (job ${auto?.id}, ${auto?.system ?? auto?.user ?? ''})`);
  const report = await writer.stop();
  tracker.stop();
  t.comment(`writer: ${report.acked} acknowledged, ${report.failed} failed, longest unavailability ${report.longestMs} ms`);
  const primary = back.primary!;
  const rebuilt = back.node(old.id)!;
  await nodeCaughtUp(primary, rebuilt);
  const ids = writer.acked.map((a) => a.id);
  for (const n of [primary, rebuilt]) {
    const c = await bed.adminConnection(n.port);
    const r = await checkAcknowledged(c, ids);
    t.same(r.missing, [], `all ${r.checked} acknowledged writes are on node ${n.id}`);
    const [[ro]] = await c.query<RowDataPacket[]>('SELECT @@read_only AS ro');
    if (n.id === old.id) t.equal(Number(ro!.ro), 1, 'the rebuilt node is read-only');
    await c.end();
  }
  const rc = await bed.adminConnection(rebuilt.port);
  const [errant] = await rc.query<RowDataPacket[]>('SELECT id FROM cmgr_chaos.acked_writes WHERE id = 990000001');
  t.same(errant, [], 'the commit that was never acknowledged is gone from the rebuilt node');
  await rc.end();
});

t.test('the leader killed mid-copy: the next leader resumes it and the job ends done exactly once', async (t) => {
  const s = await bed.settled();
  const victim = s.nodes.find((n) => n.id !== s.primary.id)!;
  const leader = await bed.env.leader();
  // Slow enough (2 MB/s) that the copy is still streaming when the leader dies.
  const id = await bed.env.submit('rebuild_node', rebuildParas([victim], {}, { pv_limit: '2', need_backup: '1' }), leader);
  await waitFor('the copy to stream', async () => {
    const st = await bed.agent().copyStatus({ port: victim.port }).catch(() => null);
    return st?.step === 'receiving' && st.bytes > 1_000_000 ? true : undefined;
  }, 60_000);
  await bed.env.group.kill9(leader);
  t.comment(`killed leader ${leader.id} while the copy streamed`);
  const end = await bed.env.wait(id, 240_000);
  t.equal(end.status, 'done', `the job ended done (${end.error_code} ${end.error_info})`);
  const entry = end.attachment![`${victim.hostaddr}_${victim.port}`] as Record<string, string>;
  t.equal(entry.status, 'done');
  const st = await bed.agent().copyStatus({ port: victim.port });
  t.equal(st.copy_id, `rebuild-job${entry.job_id}`, 'the one copy of the job ran (no second copy was started)');
  t.ok(st.old_datadir, `need_backup kept the old data aside (${st.old_datadir})`);
  const after = await bed.settled();
  t.equal(after.nodes.find((n) => n.id === victim.id)?.source, after.primary.id, 'the rebuilt node replicates from the primary');

  const survivors = bed.env.group.alive();
  await bed.env.group.stopAll();
  for (const m of survivors) {
    const ends = bed.env.replay(m, `job/${id}`).filter((e) => e.type === 'job.done' || e.type === 'job.failed');
    t.equal(ends.length, 1, `member ${m.id}: the job ended exactly once in its log`);
  }
});
