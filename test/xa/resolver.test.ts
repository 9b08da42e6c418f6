// Leftover XA branches on real MariaDB shards under a real member group. A topology written into the
// metadata shard by "other tools" (one cluster, two single-node shards, one compute node) is adopted;
// TwoPhaseClient plays the compute node and crashes between the 2PC steps. The leader's resolver must:
// commit everywhere what the commit log says to commit; abort what has no decision once the safety
// window passed, with the abort row stored first; make a late commit-log insert from the compute node
// fail on the unique key, never leaving a transaction half-committed; and prune the commit log without
// deleting a decision a prepared branch still needs.
import t from 'tap';
import { readFileSync, rmSync } from 'node:fs';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { MariaDbInstance, makeRunDir } from '../../src/launcher/index.js';
import { createSchema, ensureClusterLogTables, ensureCommitLogPartition } from '../../src/metadata/index.js';
import { TwoPhaseClient, type TxnSpec } from '../chaos/two-phase-client.js';
import { commitLogTxnId, xaRecover } from '../../src/storage-node/xa.js';
import { MemberGroup, waitFor } from '../helpers/member-group.js';
import { setTimeout as sleep } from 'node:timers/promises';

const admin = { user: 'clustmgr', password: 'clustmgr_pwd' };
const dir = makeRunDir('xa-resolver-test');
const CN = 31;
const SAFETY_SEC = 3;
const names = ['shard1', 'shard2', 'meta'];
const servers = names.map((n, i) => new MariaDbInstance({ dir: `${dir}/${n}`, serverId: i + 1, admin, lowerCaseTableNames: n === 'meta' }));
const conns: Connection[] = [];
let group: MemberGroup;
let cn: TwoPhaseClient;
let nextXid = 1;
const startTs = Math.floor(Date.now() / 1000);

t.before(async () => {
  await Promise.all(servers.map((s) => s.start()));
  for (const s of servers) {
    const c = await s.connect();
    await c.query('SET GLOBAL read_only = OFF');
    conns.push(c);
  }
  for (const c of conns.slice(0, 2)) {
    await c.query('CREATE DATABASE app');
    await c.query('CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB');
  }
  const meta = conns[2]!;
  await createSchema(meta);
  await ensureClusterLogTables(meta, 'xac');
  await ensureCommitLogPartition(meta, 'xac', CN);
  await meta.query('USE kunlun_metadata_db');
  // The topology, as the original tools write it.
  const now = new Date();
  await meta.query(
    "INSERT INTO server_nodes (hostaddr, rack_id, datadir, logdir, wal_log_dir, total_mem, total_cpu_cores, svc_since, machine_type, port_range, used_port) VALUES ('127.0.0.1', '1', '/d', '/l', '/w', 4096, 8, ?, 'storage', '1000-65535', ?)",
    [now, `${servers[0]!.port},${servers[1]!.port}`],
  );
  await meta.query("INSERT INTO server_nodes (hostaddr, rack_id, comp_datadir, total_mem, total_cpu_cores, svc_since, machine_type, port_range) VALUES ('127.0.0.2', '1', '/c', 2048, 4, ?, 'computer', '47000-48000')", [now]);
  await meta.query(
    "INSERT INTO db_clusters (id, name, nick_name, owner, ddl_log_tblname, business, ha_mode, when_created, memo) VALUES (7, 'xac', 'xa', 'abc', 'ddl_ops_log_xac', 'kunlun', 'no_rep', ?, ?)",
    [now, JSON.stringify({ computer_user: 'abc', computer_passwd: 'comp-secret' })],
  );
  for (const [i, shard, node] of [[0, 11, 21], [1, 12, 22]] as const) {
    await meta.query("INSERT INTO shards (id, name, when_created, num_nodes, db_cluster_id, sync_num) VALUES (?, ?, ?, 1, 7, 0)", [shard, `shard_${shard}`, now]);
    await meta.query(
      "INSERT INTO shard_nodes (id, hostaddr, port, user_name, passwd, shard_id, db_cluster_id, svr_node_id, member_state, status, when_created) VALUES (?, '127.0.0.1', ?, ?, ?, ?, 7, 1, 'source', 'active', ?)",
      [node, servers[i]!.port, admin.user, admin.password, shard, now],
    );
  }
  await meta.query("INSERT INTO comp_nodes (id, name, hostaddr, port, db_cluster_id, user_name, passwd, status, svr_node_id, when_created) VALUES (?, 'comp31', '127.0.0.2', 47001, 7, 'abc', 'comp-secret', 'active', 2, ?)", [CN, now]);
  const metaSeed = `${servers[2]!.host}:${servers[2]!.port}`;
  group = new MemberGroup(dir, [
    'nats_url=',
    `meta_group_seeds=${metaSeed}`,
    `meta_user=${admin.user}`,
    `meta_pwd=${admin.password}`,
    'xa_scan_interval_ms=300',
    `xa_safety_window_sec=${SAFETY_SEC}`,
    'global_txn_commit_log_wait_max_sec=1',
    'commit_log_prune_interval_sec=1',
  ]);
  await group.init(3);
  group.startAll();
  const access = (s: MariaDbInstance) => ({ host: s.host, port: s.port, ...admin });
  cn = new TwoPhaseClient({ compNodeId: CN, cluster: 'xac', shards: [access(servers[0]!), access(servers[1]!)], metadata: access(servers[2]!), commitLogWaitMaxSec: 1 });
  await waitFor('a leader that adopted the cluster', async () => {
    for (const m of group.members) {
      const v = await group.get<{ clusters: { id: number }[]; shards: { id: number; primary: number | null }[] }>(m, '/api/v1/view');
      if (v?.shards.length === 2 && v.shards.every((s) => s.primary !== null)) return true;
    }
    return undefined;
  }, 60_000);
});
t.teardown(async () => {
  await group?.stopAll();
  await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
  await Promise.all(servers.map((s) => s.kill9()));
  // XA_KEEP=1 keeps the servers' and members' files for a look after a failure.
  if (!process.env.XA_KEEP) rmSync(dir, { recursive: true, force: true });
});

function txn(ts = startTs): TxnSpec {
  const localXid = nextXid++;
  const id = localXid * 10;
  return {
    startTs: ts,
    localXid,
    writes: [
      { shard: 0, sql: 'INSERT INTO app.t VALUES (?, ?)', params: [id, 'a'] },
      { shard: 1, sql: 'INSERT INTO app.t VALUES (?, ?)', params: [id, 'b'] },
      { shard: 1, sql: 'INSERT INTO app.t VALUES (?, ?)', params: [id + 1, 'b2'] },
    ],
  };
}

async function rowsOn(shard: number, x: TxnSpec): Promise<number> {
  const ids = x.writes.filter((w) => w.shard === shard).map((w) => (w.params as unknown[])[0]);
  const [r] = await conns[shard]!.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM app.t WHERE id IN (?)', [ids]);
  return Number(r[0]!.n);
}

const prepared = async (shard: number) => xaRecover(conns[shard]!);
const preparedAnywhere = async (xid: string) => (await prepared(0)).includes(xid) || (await prepared(1)).includes(xid);

async function decision(x: Pick<TxnSpec, 'startTs' | 'localXid'>): Promise<string | null> {
  const [r] = await conns[2]!.query<RowDataPacket[]>('SELECT next_txn_cmd FROM kunlun_metadata_db.commit_log_xac WHERE comp_node_id = ? AND txn_id = ?', [
    CN,
    BigInt(commitLogTxnId(x)),
  ]);
  return r[0] ? String(r[0].next_txn_cmd) : null;
}

/** The members' log lines about one xid, in order (only the leader writes them). */
function logLines(xid: string): { msg: string; term?: number; result?: string }[] {
  return group.members
    .flatMap((m) => readFileSync(m.logFile, 'utf8').split('\n'))
    .filter((l) => l.includes(`"xid":"${xid}"`))
    .map((l) => JSON.parse(l) as { msg: string; term?: number; result?: string; time: number })
    .sort((a, b) => a.time - b.time);
}

t.test('commit decided, the compute node crashed before committing: the resolver commits on both shards', async (t) => {
  const x = txn();
  const out = await cn.run(x, 'after-commit-log');
  t.equal(out.crashedAt, 'after-commit-log');
  t.equal(await decision(x), 'commit');
  const y = txn();
  const outY = await cn.run(y, 'after-first-commit');
  t.same(outY.committed, [0], 'second transaction: shard 1 committed by the compute node, shard 2 left prepared');
  await waitFor('both transactions ended everywhere', async () => !(await preparedAnywhere(out.xid)) && !(await preparedAnywhere(outY.xid)), 20_000);
  t.same([await rowsOn(0, x), await rowsOn(1, x)], [1, 2], 'committed on both shards');
  t.same([await rowsOn(0, y), await rowsOn(1, y)], [1, 2], 'the half-committed one is completed');
  t.equal(await decision(x), 'commit', 'the decision is not overwritten');
  const lines = logLines(out.xid).filter((l) => l.msg === 'XA: branch committed');
  t.equal(lines.length, 2, 'one logged commit per shard');
  t.ok(lines.every((l) => typeof l.term === 'number' && l.term > 0), 'each logged action carries the term');
});

t.test('no decision, the compute node crashed after prepare: abort claimed first, then rolled back', async (t) => {
  const x = txn();
  const out = await cn.run(x, 'after-prepare');
  t.equal(out.crashedAt, 'after-prepare');
  const crashedAt = Date.now();
  await sleep((SAFETY_SEC * 1000) / 2);
  t.same([await prepared(0), await prepared(1)], [[out.xid], [out.xid]], 'inside the safety window nothing is done');
  t.equal(await decision(x), null, 'and no row is written');
  await waitFor('the branches rolled back', async () => !(await preparedAnywhere(out.xid)), 20_000);
  t.ok(Date.now() - crashedAt >= SAFETY_SEC * 1000, 'not before the safety window');
  t.equal(await decision(x), 'abort', 'the abort row is in the commit log');
  t.same([await rowsOn(0, x), await rowsOn(1, x)], [0, 0], 'nothing committed');
  const msgs = logLines(out.xid).map((l) => l.msg).filter((m) => m.startsWith('XA: ') && !m.includes('left prepared'));
  t.same(msgs, ['XA: abort claimed in the commit log', 'XA: branch rolled back', 'XA: branch rolled back'], 'claim logged before both rollbacks');
});

t.test('late-commit race: the compute node late insert fails on the unique key; nothing half-committed', async (t) => {
  const x = txn();
  const out = await cn.run(x, 'after-prepare');
  await waitFor('the resolver aborted it', async () => !(await preparedAnywhere(out.xid)) && (await decision(x)) === 'abort', 20_000);
  const late = await cn.lateCommit(x, Math.floor(Date.now() / 1000) + 10);
  t.equal(late.result, 'ended-by-manager', 'the compute node commit-log insert collides with the abort row');
  t.equal(late.decision, 'abort');
  t.same(late.committed, [], 'it commits nothing');
  t.same([await rowsOn(0, x), await rowsOn(1, x)], [0, 0], 'nothing on either shard');

  // Racing for real: compute nodes that come back around the end of the safety window.
  const racers = [1_500, 2_600, 3_200, 3_600, 4_200].map(async (delay) => {
    const y = txn();
    const o = await cn.run(y, 'after-prepare');
    await sleep(delay);
    const l = await cn.lateCommit(y, Math.floor(Date.now() / 1000) + 10);
    return { y, o, l };
  });
  const done = await Promise.all(racers);
  for (const { o } of done) await waitFor(`${o.xid} ended`, async () => !(await preparedAnywhere(o.xid)), 20_000);
  let commits = 0;
  for (const { y, o, l } of done) {
    const d = await decision(y);
    const rows = [await rowsOn(0, y), await rowsOn(1, y)];
    if (d === 'commit') commits++;
    t.ok(
      (d === 'commit' && rows[0] === 1 && rows[1] === 2) || (d === 'abort' && rows[0] === 0 && rows[1] === 0),
      `${o.xid}: decision ${d}, rows ${JSON.stringify(rows)}, compute node saw ${l.result}: all or nothing, as the log says`,
    );
    if (d === 'abort') t.equal(l.result, 'ended-by-manager', `${o.xid}: the compute node learned of the abort`);
  }
  t.ok(commits >= 1, `at least the earliest racer committed (${commits} of ${done.length})`);
});

t.test('retention deletes old decisions but never one a prepared branch still needs', async (t) => {
  const day = 86_400;
  const now = Math.floor(Date.now() / 1000);
  const meta = conns[2]!;
  const table = 'kunlun_metadata_db.commit_log_xac';
  // A live session holds a branch prepared long ago (its compute node still owns it), with its commit
  // decision written two days ago.
  const held = txn(now - 2 * day);
  const holder = await servers[0]!.connect();
  const heldXid = cn.xidOf(held);
  await holder.query('XA START ?', [heldXid]);
  await holder.query('INSERT INTO app.t VALUES (?, ?)', [(held.writes[0]!.params as number[])[0], 'held']);
  await holder.query('XA END ?', [heldXid]);
  await holder.query('XA PREPARE ?', [heldXid]);
  const old = txn(now - 3 * day);
  const recent = txn(now - 60);
  for (const [x, age] of [[held, 2 * day], [old, 3 * day], [recent, 60]] as const) {
    await meta.query(`INSERT INTO ${table} (comp_node_id, txn_id, next_txn_cmd, prepare_ts) VALUES (?, ?, 'commit', NOW(6) - INTERVAL ? SECOND)`, [
      CN,
      BigInt(commitLogTxnId(x)),
      age,
    ]);
  }
  await waitFor('the old, unneeded decision pruned', async () => (await decision(old)) === null, 20_000);
  t.equal(await decision(held), 'commit', 'the decision the prepared branch needs is kept');
  t.equal(await decision(recent), 'commit', 'a recent decision is kept');
  t.same(await prepared(0), [heldXid], 'the owned branch stays prepared: the resolver cannot end it while its session lives');
  holder.destroy();
  await waitFor('the released branch committed', async () => !(await prepared(0)).includes(heldXid), 20_000);
  t.equal(await rowsOn(0, held), 1, 'committed by the resolver, as the log says');
  await waitFor('its decision pruned once no branch needs it', async () => (await decision(held)) === null, 20_000);
  t.equal(await decision(recent), 'commit', 'the recent one still there');
});

t.test('metadata-shard branches, and the leader killed inside the window: the new leader finishes', async (t) => {
  const meta = conns[2]!;
  await meta.query('CREATE DATABASE IF NOT EXISTS app');
  await meta.query('CREATE TABLE IF NOT EXISTS app.m (id INT PRIMARY KEY) ENGINE=InnoDB');
  // Two detached branches on the metadata shard, as a CN's DDL 2PC leaves them: one whose key has a
  // commit row (followed), one with none (rolled back after the window; nothing is claimed for it).
  const mCommit = txn();
  const mNone = txn();
  for (const x of [mCommit, mNone]) {
    const s = await servers[2]!.connect();
    const xid = cn.xidOf(x);
    await s.query('XA START ?', [xid]);
    await s.query('INSERT INTO app.m VALUES (?)', [x.localXid]);
    await s.query('XA END ?', [xid]);
    await s.query('XA PREPARE ?', [xid]);
    s.destroy();
  }
  await meta.query("INSERT INTO kunlun_metadata_db.commit_log_xac (comp_node_id, txn_id, next_txn_cmd) VALUES (?, ?, 'commit')", [CN, BigInt(commitLogTxnId(mCommit))]);
  const x = txn();
  const out = await cn.run(x, 'after-prepare');
  // Kill the leader before the safety window passes.
  await sleep(1_000);
  let first: { m: (typeof group.members)[number]; term: number } | undefined;
  for (const m of group.alive()) {
    const info = await group.get<{ role: string; term: number }>(m, '/api/v1/member');
    if (info?.role === 'leader') first = { m, term: info.term };
  }
  t.ok(first, 'found the leader');
  await group.kill9(first!.m);
  t.same([await prepared(0), await prepared(1)], [[out.xid], [out.xid]], 'still prepared when the leader died');
  await waitFor('the new leader aborted the shard branches', async () => !(await preparedAnywhere(out.xid)), 30_000);
  t.equal(await decision(x), 'abort');
  t.same([await rowsOn(0, x), await rowsOn(1, x)], [0, 0]);
  const claim = logLines(out.xid).find((l) => l.msg === 'XA: abort claimed in the commit log');
  t.ok(claim && claim.term! > first!.term, `claimed by the new leader (term ${claim?.term}, the dead one had ${first!.term})`);
  await waitFor('the metadata branches ended', async () => (await xaRecover(meta)).length === 0, 30_000);
  const [rows] = await meta.query<RowDataPacket[]>('SELECT id FROM app.m ORDER BY id');
  t.same(rows.map((r) => Number(r.id)), [mCommit.localXid], 'the one with a commit row committed, the other rolled back');
  t.equal(await decision(mNone), null, 'no row is claimed for a metadata-shard branch');
});

t.test('ordinary 2PC traffic while the resolver scans: every transaction commits, nothing is left', async (t) => {
  const worker = async () => {
    const outs = [];
    for (let i = 0; i < 15; i++) {
      const x = txn();
      outs.push({ x, out: await cn.run(x) });
    }
    return outs;
  };
  const all = (await Promise.all([worker(), worker(), worker()])).flat();
  t.same([...new Set(all.map((a) => a.out.result))], ['committed'], `${all.length} transactions, all committed by the compute node`);
  let whole = 0;
  for (const { x } of all) if ((await rowsOn(0, x)) === 1 && (await rowsOn(1, x)) === 2 && (await decision(x)) === 'commit') whole++;
  t.equal(whole, all.length, 'each one on both shards, with its commit row');
  await sleep(1_000);
  t.same([await prepared(0), await prepared(1)], [[], []], 'no branch left prepared');
  const aborts = all.filter(({ out }) => logLines(out.xid).some((l) => l.msg.startsWith('XA: abort') || l.msg === 'XA: branch rolled back'));
  t.same(aborts, [], 'the resolver never aborted a live transaction');
});
