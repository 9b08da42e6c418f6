// The XA decision rule (HA reference §6.3) as pure functions: what to do with a leftover prepared
// branch given the commit-log row, how long this leader has seen it, and the safety window; what the
// abort claim's outcome means; first-seen bookkeeping; the commit-log prune bound.
import t from 'tap';
import { afterClaim, decideBranch, FirstSeen, pruneBound, type BranchFacts } from '../../src/xa-resolver/decide.js';
import { xaSettings } from '../../src/config/xa-settings.js';
import { loadConfig } from '../../src/config/load.js';
import { commitLogKey } from '../../src/storage-node/xa.js';

const w = { settleMs: 2_000, safetyMs: 60_000 };
const facts = (f: Partial<BranchFacts>): BranchFacts => ({ on: 'storage', stored: null, seenForMs: 0, sinceStartMs: 0, ...f });

t.test('a stored decision is followed once the branch was seen in two scans', (t) => {
  t.equal(decideBranch(facts({ stored: 'commit', seenForMs: 1_999 }), w).do, 'wait', 'seen once: the compute node may be committing it right now');
  t.equal(decideBranch(facts({ stored: 'commit', seenForMs: 2_000 }), w).do, 'commit');
  t.equal(decideBranch(facts({ stored: 'abort', seenForMs: 2_000 }), w).do, 'rollback');
  t.equal(decideBranch(facts({ stored: 'commit', seenForMs: 10 * 60_000 }), w).do, 'commit', 'an old branch with commit is committed, never aborted');
  t.equal(decideBranch(facts({ on: 'metadata', stored: 'commit', seenForMs: 2_000 }), w).do, 'commit', 'on the metadata shard too');
  t.end();
});

t.test('no decision: wait inside the safety window, then claim the abort (never a bare rollback)', (t) => {
  t.equal(decideBranch(facts({ seenForMs: 2_000 }), w).do, 'wait');
  t.equal(decideBranch(facts({ seenForMs: 59_999, sinceStartMs: 3_600_000 }), w).do, 'wait', 'an old start_ts does not shorten the window');
  const a = decideBranch(facts({ seenForMs: 60_000 }), w);
  t.equal(a.do, 'claim-abort');
  t.match(a.why, /safety window/);
  t.equal(decideBranch(facts({ seenForMs: 60_000, sinceStartMs: -5_000 }), w).do, 'claim-abort', 'a compute node clock ahead of ours does not matter for shards');
  t.end();
});

t.test('metadata-shard branches: no claim (no row is ever written for them), both ages past the window', (t) => {
  t.equal(decideBranch(facts({ on: 'metadata', seenForMs: 60_000, sinceStartMs: 59_000 }), w).do, 'wait', 'start_ts too recent');
  t.equal(decideBranch(facts({ on: 'metadata', seenForMs: 30_000, sinceStartMs: 600_000 }), w).do, 'wait', 'seen too briefly');
  t.equal(decideBranch(facts({ on: 'metadata', seenForMs: 60_000, sinceStartMs: 60_000 }), w).do, 'rollback');
  t.equal(decideBranch(facts({ on: 'metadata', stored: 'abort', seenForMs: 2_000 }), w).do, 'rollback');
  t.end();
});

t.test('the claim outcome decides the rest', (t) => {
  t.equal(afterClaim({ claimed: true }).do, 'rollback', 'abort row stored first: now roll back');
  t.equal(afterClaim({ claimed: false, stored: 'commit' }).do, 'commit', 'duplicate key: the compute node won the race with commit');
  t.equal(afterClaim({ claimed: false, stored: 'abort' }).do, 'rollback', 'duplicate key: an abort was already there');
  t.equal(afterClaim({ claimed: false, stored: null }).do, 'wait', 'duplicate key but nothing readable: do nothing now');
  t.equal(afterClaim({ claimed: false, noPartition: true }).do, 'wait', 'no partition for the compute node: no claim, no rollback');
  t.end();
});

t.test('first-seen times survive scans while the branch stays prepared, and are forgotten after', (t) => {
  const s = new FirstSeen();
  t.same([...s.observe('shard/1', ['1-2-3', '1-2-4'], 100)], [['1-2-3', 100], ['1-2-4', 100]]);
  t.same([...s.observe('shard/1', ['1-2-3'], 200)], [['1-2-3', 100]], 'kept from the first scan');
  t.same([...s.observe('shard/2', ['1-2-3'], 300)], [['1-2-3', 300]], 'per place');
  t.same([...s.observe('shard/1', ['1-2-4'], 400)], [['1-2-4', 400]], '1-2-4 vanished once: seen anew');
  t.equal(s.size, 2);
  s.forget('shard/2');
  t.equal(s.size, 1);
  t.end();
});

t.test('prune bound: key range before now - retention, only when every shard was scanned', (t) => {
  const b = pruneBound({ nowSec: 1_700_086_400, retentionSec: 86_400, allShardsScanned: true });
  t.same(b, { belowTxnId: 1_700_000_000n << 32n });
  const k = commitLogKey({ compNodeId: 3, startTs: 1_700_000_000, localXid: 0 });
  t.ok('belowTxnId' in b && k.txnId >= b.belowTxnId, 'a transaction started exactly at the bound is kept');
  const older = commitLogKey({ compNodeId: 3, startTs: 1_699_999_999, localXid: 0xffff_ffff });
  t.ok('belowTxnId' in b && older.txnId < b.belowTxnId, 'one started a second earlier is below it');
  t.match(pruneBound({ nowSec: 1_700_086_400, retentionSec: 86_400, allShardsScanned: false }), { skip: /not every shard/ });
  t.end();
});

t.test('settings: the safety window never drops below the compute nodes\' commit-log wait', (t) => {
  const cfg = (sets: string[]) => loadConfig({ sets, env: {} });
  const s = xaSettings(cfg(['xa_safety_window_sec=3', 'global_txn_commit_log_wait_max_sec=10', 'xa_scan_interval_ms=500']));
  t.equal(s.windows.safetyMs, 12_000, 'raised to the wait plus a margin');
  t.equal(s.windows.settleMs, 500, 'settle = one scan interval');
  t.equal(xaSettings(cfg(['xa_safety_window_sec=90'])).windows.safetyMs, 90_000);
  t.equal(xaSettings(cfg([])).retentionSec, 24 * 3600);
  t.end();
});
