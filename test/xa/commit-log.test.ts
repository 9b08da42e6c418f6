// The commit-log helpers on a real metadata node: reading a decision by its exact key, the abort claim
// (stored; a duplicate returns what is stored; refused to an older leader; no partition, no claim), and
// pruning by key range in batches without touching kept keys or recent rows.
import t from 'tap';
import { rmSync } from 'node:fs';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { MariaDbInstance, makeRunDir } from '../../src/launcher/index.js';
import {
  ClaimRefusedError,
  claimAbort,
  createSchema,
  ensureClusterLogTables,
  ensureCommitLogPartition,
  pruneCommitLog,
  readDecision,
} from '../../src/metadata/index.js';
import { commitLogKey } from '../../src/storage-node/xa.js';

const dir = makeRunDir('xa-commit-log-test');
const meta = new MariaDbInstance({ dir: `${dir}/meta`, serverId: 1, admin: { user: 'clustmgr', password: 'pw' }, lowerCaseTableNames: true });
let c: Connection;
const T = 'kunlun_metadata_db.commit_log_c1';
const ts = 1_790_000_000;
const key = (cn: number, localXid: number, startTs = ts) => commitLogKey({ compNodeId: cn, startTs, localXid });

t.before(async () => {
  await meta.start();
  c = await meta.connect();
  await c.query('SET GLOBAL read_only = OFF');
  await createSchema(c);
  await ensureClusterLogTables(c, 'c1');
  await ensureCommitLogPartition(c, 'c1', 1);
  await ensureCommitLogPartition(c, 'c1', 2);
});
t.teardown(async () => {
  await c?.end();
  await meta.kill9();
  rmSync(dir, { recursive: true, force: true });
});

async function count(): Promise<number> {
  const [r] = await c.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${T}`);
  return Number(r[0]!.n);
}

t.test('decisions are read by the exact 64-bit key', async (t) => {
  // Neighbouring txn ids are equal as doubles: a lossy comparison would mix them up.
  await c.query(`INSERT INTO ${T} (comp_node_id, txn_id, next_txn_cmd) VALUES (?, ?, 'commit'), (?, ?, 'abort')`, [1, key(1, 1).txnId, 1, key(1, 2).txnId]);
  t.equal(await readDecision(c, 'c1', key(1, 1)), 'commit');
  t.equal(await readDecision(c, 'c1', key(1, 2)), 'abort');
  t.equal(await readDecision(c, 'c1', key(1, 3)), null);
  t.equal(await readDecision(c, 'c1', key(2, 1)), null, 'another compute node, same txn id');
});

t.test('abort claim: stored once; a duplicate reports the stored decision; no partition, no claim', async (t) => {
  t.same(await claimAbort(c, 'c1', key(2, 1), 1), { claimed: true });
  t.equal(await readDecision(c, 'c1', key(2, 1)), 'abort');
  t.same(await claimAbort(c, 'c1', key(2, 1), 1), { claimed: false, stored: 'abort' }, 'idempotent');
  t.same(await claimAbort(c, 'c1', key(1, 1), 1), { claimed: false, stored: 'commit' }, 'the compute node logged commit first');
  t.same(await claimAbort(c, 'c1', key(9, 1), 1), { claimed: false, noPartition: true });
});

t.test('a claim from an older term than the projection\'s is refused and stores nothing', async (t) => {
  await c.query('UPDATE kunlun_metadata_db.cluster_mgr_projection SET term = ? WHERE id = 1', [5]);
  await t.rejects(claimAbort(c, 'c1', key(2, 7), 4), ClaimRefusedError);
  t.equal(await readDecision(c, 'c1', key(2, 7)), null);
  t.same(await claimAbort(c, 'c1', key(2, 7), 5), { claimed: true }, 'the current term may');
  t.same(await claimAbort(c, 'c1', key(2, 8), 6), { claimed: true }, 'and a newer one');
});

t.test('pruning: below the key bound, old enough, not kept; in batches', async (t) => {
  await c.query(`DELETE FROM ${T}`);
  const day = 86_400;
  const rows: [number, bigint, number][] = [];
  for (let i = 1; i <= 7; i++) rows.push([1, key(1, i, ts - 3 * day).txnId, 3 * day]); // old: go, except kept
  rows.push([2, key(2, 1, ts - 3 * day).txnId, 60]); // old key, but the row is new: stays
  rows.push([2, key(2, 2, ts).txnId, 3 * day]); // key after the bound: stays
  for (const [cn, id, age] of rows) {
    await c.query(`INSERT INTO ${T} (comp_node_id, txn_id, next_txn_cmd, prepare_ts) VALUES (?, ?, 'commit', NOW(6) - INTERVAL ? SECOND)`, [cn, id, age]);
  }
  let batches = 0;
  const deleted = await pruneCommitLog(c, 'c1', {
    belowTxnId: BigInt(ts - day) << 32n,
    minAgeSec: day,
    keep: [key(1, 3, ts - 3 * day), key(1, 5, ts - 3 * day)],
    batch: 2,
    beforeBatch: () => void batches++,
  });
  t.equal(deleted, 5, 'seven old rows less the two kept');
  t.equal(batches, 4, 'compute node 1: two, two, one; compute node 2: one that finds nothing');
  t.equal(await count(), 4);
  t.equal(await readDecision(c, 'c1', key(1, 3, ts - 3 * day)), 'commit', 'kept');
  t.equal(await readDecision(c, 'c1', key(1, 5, ts - 3 * day)), 'commit', 'kept');
  t.equal(await readDecision(c, 'c1', key(2, 1, ts - 3 * day)), 'commit', 'recent row');
  t.equal(await readDecision(c, 'c1', key(2, 2, ts)), 'commit', 'after the bound');
  const stop = new Error('leadership lost');
  await t.rejects(
    pruneCommitLog(c, 'c1', { belowTxnId: BigInt(ts) << 32n, minAgeSec: 0, keep: [], beforeBatch: () => { throw stop; } }),
    stop,
    'the leadership check runs before each batch',
  );
  t.equal(await count(), 4, 'nothing deleted after it failed');
});
