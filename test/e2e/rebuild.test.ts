// rebuild_node end to end (issue 14), through Emit on real servers: a 3-node shard run by a node agent
// (AgentShard), a replica killed with kill -9 and its data directory deleted under a continuous writer,
// then rebuilt from a streamed physical copy: it replicates from the primary, is read-only, and every
// table's CHECKSUM TABLE equals the primary's. Then the leader is killed in the middle of a rebuild: the
// next leader resumes the same copy and the job ends done exactly once. The refusals answer with the
// original's numbers.
import t from 'tap';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { ContinuousWriter } from '../chaos/writer.js';
import { AgentShard, APP, waitFor, type NodeV } from './agent-shard.js';

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

/** CHECKSUM TABLE of every user table, by name. */
async function checksums(c: Connection): Promise<Record<string, string>> {
  const [tables] = await c.query<RowDataPacket[]>(
    "SELECT table_schema AS s, table_name AS n FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('mysql','information_schema','performance_schema','sys') ORDER BY 1, 2",
  );
  const out: Record<string, string> = {};
  for (const tb of tables) {
    const [[r]] = await c.query<RowDataPacket[]>(`CHECKSUM TABLE \`${String(tb.s)}\`.\`${String(tb.n)}\``);
    out[`${String(tb.s)}.${String(tb.n)}`] = String(r!.Checksum);
  }
  return out;
}

async function caughtUp(primary: NodeV, replica: NodeV): Promise<void> {
  const pc = await bed.adminConnection(primary.port);
  const [[pos]] = await pc.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS p');
  await pc.end();
  const rc = await bed.adminConnection(replica.port);
  try {
    await waitFor('the rebuilt node to catch up', async () => {
      const [[r]] = await rc.query<RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, 1) AS w', [pos!.p]);
      return Number(r!.w) === 0 ? true : undefined;
    }, 30_000);
  } finally {
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
  await caughtUp(after.primary, victim);
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
    const mine = await checksums(rc);
    const theirs = await checksums(pc);
    t.ok(Object.keys(theirs).length > 0, `${Object.keys(theirs).length} tables compared`);
    t.same(mine, theirs, 'CHECKSUM TABLE of every table equals the primary\'s');
  } finally {
    await rc.end();
    await pc.end();
  }
  const rows = await bed.env.metaRows<RowDataPacket>("SELECT id, job_type, status FROM cluster_general_job_log WHERE job_type IN ('rebuild_node', 'rb_shard_node') ORDER BY id");
  t.match(rows.map((r): [unknown, unknown] => [r.job_type, r.status]), [['rebuild_node', 'done'], ['rb_shard_node', 'done']], 'the job and its rb_shard_node child have their rows');
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
