// expand_cluster end to end (issue 16), through Emit on real servers: a cluster of two one-node rbr
// shards and a compute node (E2eEnv: 3 managers, a metadata shard, a node agent). A table of 50k rows
// on shard 1 is moved to shard 2 under a writer that inserts, updates and deletes where the compute
// node's routing says the table is (re-reading it after an error, as a compute node would). The job
// ends done with the checksum step passed; every acknowledged insert is on shard 2 exactly once, every
// acknowledged delete is gone; the old location refuses writes; the writer's longest pause is reported.
import t from 'tap';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { connectComp } from '../../src/compute/connect.js';
import { tableShard } from '../../src/compute/table-placement.js';
import { ADMIN, E2eEnv, waitFor } from './env.js';
import { RoutedWriter } from '../helpers/routed-writer.js';

interface NodeV { id: number; hostaddr: string; port: number }
interface ShardV { id: number; cluster: number; primary: number | null }
interface CompV { id: number; cluster: number; hostaddr: string; port: number }
interface View { shards: ShardV[]; nodes: NodeV[]; comps: CompV[] }

const APP = { user: 'expand_app', password: 'expand-App-Pw-1' };
const DB = 'postgres_$$_public';
const ROWS = 50_000;
const TABLE = { db: 'postgres', schema: 'public', table: 't' };

const env = new E2eEnv('e2e-expand');
t.teardown(() => env.stop());

const as = (n: NodeV, user = ADMIN) => mysql.createConnection({ host: n.hostaddr, port: n.port, user: user.user, password: user.password, database: DB, connectTimeout: 5_000 });

async function query<T extends RowDataPacket>(n: NodeV, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = await mysql.createConnection({ host: n.hostaddr, port: n.port, user: ADMIN.user, password: ADMIN.password });
  try {
    return (await c.query<T[]>(sql, params))[0];
  } finally {
    await c.end();
  }
}

t.test('expand_cluster moves a written table to another shard', async (t) => {
  await env.start();
  const cluster = await env.createCluster(2, 1);
  const v = await env.view<View>();
  const [s1, s2] = v.shards.filter((s) => s.cluster === cluster).sort((a, b) => a.id - b.id) as [ShardV, ShardV];
  const nodeOfShard = (id: number): NodeV => v.nodes.find((n) => n.id === v.shards.find((s) => s.id === id)!.primary)!;
  const p1 = nodeOfShard(s1.id);
  const p2 = nodeOfShard(s2.id);
  const comp = v.comps.find((c) => c.cluster === cluster)!;

  for (const p of [p1, p2]) {
    await query(p, 'CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [APP.user, '%', APP.password]);
    await query(p, `GRANT SELECT, INSERT, UPDATE, DELETE ON \`${DB}\`.* TO ?@?`, [APP.user, '%']);
  }
  await query(p1, `CREATE DATABASE \`${DB}\``);
  await query(p1, `CREATE TABLE \`${DB}\`.t (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(64), n INT, d DECIMAL(12,3), at DATETIME(6), b VARBINARY(16)) ENGINE=InnoDB`);
  await query(p1, `INSERT INTO \`${DB}\`.t SELECT seq, CONCAT('r', seq), seq % 97, seq / 7, '2026-01-02 03:04:05.123456' + INTERVAL seq SECOND, IF(seq % 11 = 0, NULL, UNHEX(HEX(seq))) FROM \`${DB}\`.seq_1_to_${ROWS}`);

  // Refusals name the field, before any job exists.
  const leader = await env.leader();
  const same = await env.emit(leader, 'expand_cluster', { cluster_id: String(cluster), src_shard_id: String(s1.id), dst_shard_id: String(s1.id), table_list: ['postgres.public.t'] });
  t.equal(same.status, 'failed', `moving to the same shard is refused: ${same.error_info}`);
  t.match(same.error_info, /paras\.dst_shard_id/);
  const hostile = await env.emit(leader, 'expand_cluster', { cluster_id: String(cluster), src_shard_id: String(s1.id), dst_shard_id: String(s2.id), table_list: ['postgres.public.t`; DROP TABLE x'] });
  t.equal(hostile.status, 'failed', 'a table name that is not an identifier is refused');
  t.match(hostile.error_info, /paras\.table_list\[0\]/);

  const list = await env.emit(leader, 'get_expand_table_list', { cluster_id: String(cluster), shard_id: String(s1.id), policy: 'top_size' });
  t.equal(list.status, 'done', `get_expand_table_list: ${list.error_info}`);
  t.equal(list.attachment?.table_list, 'postgres.public.t', 'the largest table is listed as db.schema.table');

  const cc = await connectComp({ host: comp.hostaddr, port: comp.port, user: 'abc', password: 'abc' });
  t.teardown(() => cc.end());
  const route = async (): Promise<number> => (await tableShard(cc, TABLE)) ?? s1.id;
  const writer = new RoutedWriter({ connect: (shard) => as(nodeOfShard(shard), APP), route, existing: ROWS, deleteEvery: 5 });
  writer.start();
  await waitFor('the writer', () => Promise.resolve(writer.inserted.length >= 50), 20_000);

  const t0 = Date.now();
  const id = await env.submit('expand_cluster', { cluster_id: String(cluster), src_shard_id: String(s1.id), dst_shard_id: String(s2.id), table_list: ['postgres.public.t'], drop_old_table: '0' });
  const stages = new Set<string>();
  const end = await waitFor(
    `expand_cluster job ${id}`,
    async () => {
      const a = await env.emit(leader, 'get_status', {}, id);
      stages.add(a.status);
      return a.status === 'done' || a.status === 'failed' ? a : undefined;
    },
    120_000,
  );
  const wall = Date.now() - t0;
  await waitFor('writes after the move', () => Promise.resolve(writer.inserted.length > 200), 20_000);
  const after = writer.inserted.length;
  await waitFor('more writes on the new shard', () => Promise.resolve(writer.inserted.length >= after + 20), 20_000);
  await writer.stop();

  t.equal(end.status, 'done', `the job ends done: ${end.error_code} ${end.error_info}`);
  const memo = end.attachment?.memo_info as Record<string, unknown>;
  t.equal(memo.checksum, 'ok', 'the checksum step passed');
  t.equal(memo.stage, 'done');
  t.ok(Number(memo.rows) >= ROWS - writer.deleted.length, `the copy counted every row it copied (${String(memo.rows)})`);
  t.ok(Number(memo.verified_rows) >= ROWS - writer.deleted.length, `the check covered every row (${String(memo.verified_rows)})`);
  t.ok(stages.has('done'), `get_status showed the stages ${[...stages].join(' → ')}`);
  t.equal(await route(), s2.id, 'the compute node routes the table to shard 2');

  const rows = await query(p2, `SELECT id FROM \`${DB}\`.t`);
  const onDst = new Set(rows.map((r) => Number(r.id)));
  t.equal(rows.length, onDst.size, 'no row is on shard 2 twice');
  const lost = writer.inserted.filter((x) => !onDst.has(x));
  t.same(lost, [], `every one of ${writer.inserted.length} acknowledged inserts is on shard 2`);
  const back = writer.deleted.filter((x) => onDst.has(x));
  t.same(back, [], `every one of ${writer.deleted.length} acknowledged deletes is gone on shard 2`);
  const plus = writer.maybeInserted.filter((x) => onDst.has(x)).length;
  const minus = writer.maybeDeleted.filter((x) => !onDst.has(x)).length;
  t.equal(rows.length, ROWS + writer.inserted.length + plus - writer.deleted.length - minus, 'shard 2 has exactly the rows written');

  const old = await as(p1);
  t.teardown(() => old.end());
  await t.rejects(old.query('INSERT INTO t (id) VALUES (?)', [10 ** 9]), { code: 'ER_NO_SUCH_TABLE' }, 'the old location refuses writes');
  const [kept] = await old.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`t_moved_${id}\``);
  t.ok(Number(kept[0]!.n) > 0, `the old table is kept as t_moved_${id}`);
  const [trg] = await old.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM information_schema.triggers WHERE trigger_schema = ?', [DB]);
  t.equal(Number(trg[0]!.n), 0, 'the capture triggers are dropped');

  const [row] = await env.metaRows<RowDataPacket>('SELECT status, table_list, src_shard, dest_shard FROM table_move_jobs WHERE id = ?', [Number(id)]);
  t.match(row, { status: 'done', table_list: 'postgres.public.t', src_shard: s1.id, dest_shard: s2.id }, 'table_move_jobs holds the move');
  const [log] = await env.metaRows<RowDataPacket>('SELECT related_id FROM cluster_general_job_log WHERE id = ?', [Number(id)]);
  t.equal(log?.related_id, id, 'the job row points at it');

  const pause = writer.longestPauseMs;
  t.comment(`expand_cluster of ${ROWS} rows under a writer: ${wall} ms; writer's longest pause ${pause} ms, ${writer.errors} errors; rows copied ${String(memo.rows)} at ${String(memo.copy_rows_per_s)} rows/s, replayed ${String(memo.replayed)}`);
  console.log(`E2E expand_cluster: ${wall} ms, longest writer pause ${pause} ms`);
});
