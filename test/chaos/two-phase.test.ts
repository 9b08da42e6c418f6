// The 2PC compute-node emulator on real MariaDB: two shards and a metadata node with a commit log.
// Full commit; each crash point leaves the state the cluster manager must resolve; the commit-log
// unique key settles the late-commit race either way without a half-committed transaction; the
// deadline keeps a late CN from writing a commit decision.
import t from 'tap';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { MariaDbInstance, makeRunDir } from '../../src/launcher/index.js';
import { TwoPhaseClient, type TxnSpec } from './two-phase-client.js';
import { commitLogTxnId, formatXid, parseXid, xaCommit, xaRecover, xaRollback } from '../../src/storage-node/xa.js';
import { createSchema, ensureClusterLogTables, ensureCommitLogPartition } from '../../src/metadata/index.js';

const admin = { user: 'clustmgr', password: 'admin-pw' };
const dir = makeRunDir('xa-test');
// The metadata node needs lower_case_table_names=1, as the real metadata shard does.
const servers = ['shard1', 'shard2', 'meta'].map(
  (name, i) => new MariaDbInstance({ dir: join(dir, name), serverId: i + 1, admin, lowerCaseTableNames: name === 'meta' }),
);
const conns: Connection[] = [];
let cn: TwoPhaseClient;
const CN = 7;
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
  // The real schema: commit_log_c1 made from the template (LIST-partitioned by compute node), and
  // the partition this compute node writes into, as add_comps creates it.
  const meta = conns[2]!;
  await createSchema(meta);
  await ensureClusterLogTables(meta, 'c1');
  await ensureCommitLogPartition(meta, 'c1', CN);
  const access = (s: MariaDbInstance) => ({ host: s.host, port: s.port, ...admin });
  cn = new TwoPhaseClient({
    compNodeId: CN,
    cluster: 'c1',
    shards: [access(servers[0]!), access(servers[1]!)],
    metadata: access(servers[2]!),
  });
});
t.teardown(async () => {
  await Promise.all(conns.map((c) => c.end()));
  await Promise.all(servers.map((s) => s.kill9()));
  rmSync(dir, { recursive: true, force: true });
});

function txn(): TxnSpec {
  const localXid = nextXid++;
  const id = localXid * 10;
  return {
    startTs,
    localXid,
    writes: [
      { shard: 0, sql: 'INSERT INTO app.t VALUES (?, ?)', params: [id, 'a'] },
      { shard: 1, sql: 'INSERT INTO app.t VALUES (?, ?)', params: [id, 'b'] },
      { shard: 1, sql: 'INSERT INTO app.t VALUES (?, ?)', params: [id + 1, 'b2'] },
    ],
  };
}

async function rowsOn(shard: number, t: TxnSpec): Promise<number> {
  const [r] = await conns[shard]!.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM app.t WHERE id IN (?)', [
    t.writes.filter((w) => w.shard === shard).map((w) => (w.params as unknown[])[0]),
  ]);
  return Number(r[0]!.n);
}

async function prepared(shard: number): Promise<string[]> {
  return xaRecover(conns[shard]!);
}

async function decision(x: TxnSpec): Promise<string | null> {
  const [r] = await conns[2]!.query<RowDataPacket[]>(
    'SELECT next_txn_cmd FROM kunlun_metadata_db.commit_log_c1 WHERE comp_node_id = ? AND txn_id = ?',
    [CN, commitLogTxnId(x)],
  );
  return r[0] ? String(r[0].next_txn_cmd) : null;
}

/** What the cluster manager's resolver will do (§6.3): claim an abort; on a duplicate follow the log. */
async function managerClaimAbort(x: TxnSpec): Promise<'abort' | 'commit'> {
  try {
    await conns[2]!.query(
      "INSERT INTO kunlun_metadata_db.commit_log_c1 (comp_node_id, txn_id, next_txn_cmd) VALUES (?, ?, 'abort')",
      [CN, commitLogTxnId(x)],
    );
    return 'abort';
  } catch (e) {
    if ((e as { errno?: number }).errno !== 1062) throw e;
    return (await decision(x)) === 'commit' ? 'commit' : 'abort';
  }
}

t.test('xid and commit-log key helpers', (t) => {
  t.equal(formatXid({ compNodeId: 7, startTs: 1700000000, localXid: 42 }), '7-1700000000-42');
  t.same(parseXid("'7-1700000000-42'"), { compNodeId: 7, startTs: 1700000000, localXid: 42 });
  t.equal(parseXid('some-other-xa'), null, 'not under Kunlun control');
  t.equal(parseXid('1-99999999999-1'), null, 'start_ts beyond 32 bits');
  t.equal(commitLogTxnId({ startTs: 1700000000, localXid: 42 }), ((1700000000n << 32n) | 42n).toString());
  t.equal(commitLogTxnId({ startTs: 1, localXid: 0xffffffff }), '8589934591');
  t.throws(() => new TwoPhaseClient({ compNodeId: 1, cluster: 'x; drop', shards: [], metadata: { host: '', port: 0, user: '', password: '' } }), RangeError);
  t.end();
});

t.test('no crash: committed on both shards, decision logged, nothing left prepared', async (t) => {
  const x = txn();
  const out = await cn.run(x);
  t.equal(out.result, 'committed');
  t.same(out.committed, [0, 1]);
  t.equal(out.xid, `${CN}-${startTs}-${x.localXid}`);
  t.equal(await rowsOn(0, x), 1);
  t.equal(await rowsOn(1, x), 2);
  t.equal(await decision(x), 'commit');
  t.same([await prepared(0), await prepared(1)], [[], []]);
});

t.test('crash after prepare: detached branches on both shards, no decision; resolved by the abort claim', async (t) => {
  const x = txn();
  const out = await cn.run(x, 'after-prepare');
  t.same([out.result, out.crashedAt], ['crashed', 'after-prepare']);
  t.same(await prepared(0), [out.xid], 'prepared branch survives the disconnect on shard 1');
  t.same(await prepared(1), [out.xid], 'and on shard 2');
  t.equal(await decision(x), null, 'no decision');
  t.equal(await rowsOn(0, x), 0, 'nothing visible');
  t.equal(await managerClaimAbort(x), 'abort');
  await xaRollback(conns[0]!, out.xid);
  await xaRollback(conns[1]!, out.xid);
  t.same([await prepared(0), await prepared(1)], [[], []]);
  t.same([await rowsOn(0, x), await rowsOn(1, x)], [0, 0]);
});

t.test('late-commit race, manager first: the CN late commit fails, nothing half-committed', async (t) => {
  const x = txn();
  const out = await cn.run(x, 'after-prepare');
  t.equal(await managerClaimAbort(x), 'abort', 'the manager claims the abort');
  await xaRollback(conns[0]!, out.xid);
  await xaRollback(conns[1]!, out.xid);
  const late = await cn.lateCommit(x);
  t.equal(late.result, 'ended-by-manager', 'the CN insert collides with the abort row');
  t.equal(late.decision, 'abort');
  t.same(late.committed, [], 'the CN commits nothing');
  t.same([await rowsOn(0, x), await rowsOn(1, x)], [0, 0], 'nowhere committed');
  t.same([await prepared(0), await prepared(1)], [[], []]);
});

t.test('late-commit race, CN first: the manager abort claim fails and it follows the commit', async (t) => {
  const x = txn();
  await cn.run(x, 'after-prepare');
  const late = await cn.lateCommit(x);
  t.equal(late.result, 'committed', 'commit row written, detached branches committed from new connections');
  t.same(late.committed, [0, 1]);
  t.equal(await managerClaimAbort(x), 'commit', 'the claim hits the unique key and reads commit');
  t.same([await rowsOn(0, x), await rowsOn(1, x)], [1, 2], 'everywhere committed');
});

t.test('crash after the commit-log row: prepared everywhere, decision commit', async (t) => {
  const x = txn();
  const out = await cn.run(x, 'after-commit-log');
  t.equal(out.crashedAt, 'after-commit-log');
  t.equal(await decision(x), 'commit');
  t.same([await prepared(0), await prepared(1)], [[out.xid], [out.xid]]);
  t.equal(await managerClaimAbort(x), 'commit', 'a resolver follows the stored decision');
  await xaCommit(conns[0]!, out.xid);
  await xaCommit(conns[1]!, out.xid);
  t.same([await rowsOn(0, x), await rowsOn(1, x)], [1, 2]);
});

t.test('crash after the first shard committed: the other still prepared under a commit decision', async (t) => {
  const x = txn();
  const out = await cn.run(x, 'after-first-commit');
  t.equal(out.crashedAt, 'after-first-commit');
  t.same(out.committed, [0]);
  t.equal(await rowsOn(0, x), 1, 'shard 1 committed');
  t.equal(await rowsOn(1, x), 0, 'shard 2 not yet');
  t.same(await prepared(1), [out.xid], 'shard 2 holds the prepared branch');
  t.same(await prepared(0), []);
  t.equal(await decision(x), 'commit');
  await xaCommit(conns[1]!, out.xid);
  t.equal(await rowsOn(1, x), 2);
});

t.test('past its deadline the CN cannot write a commit decision', async (t) => {
  const x = txn();
  const out = await cn.run(x, 'after-prepare');
  const late = await cn.lateCommit(x, Math.floor(Date.now() / 1000) - 1);
  t.equal(late.result, 'commit-log-timeout');
  t.match(late.error, /cannot be null/i);
  t.equal(await decision(x), null, 'no row at all');
  t.same(late.committed, []);
  await xaRollback(conns[0]!, out.xid);
  await xaRollback(conns[1]!, out.xid);
});

t.test('a failing write before prepare: everything rolled back', async (t) => {
  const x = txn();
  const dup = { ...x, writes: [...x.writes, { shard: 1, sql: 'INSERT INTO app.t VALUES (?, ?)', params: [10, 'dup'] }] };
  const out = await cn.run(dup);
  t.equal(out.result, 'prepare-failed');
  t.match(out.error, /Duplicate entry/);
  t.same([await prepared(0), await prepared(1)], [[], []], 'no branch left behind');
  t.same([await rowsOn(0, x), await rowsOn(1, x)], [0, 0]);
  t.equal(await decision(x), null);
});
