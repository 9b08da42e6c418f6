// rejoinPlan for a returning former primary; dead-confirmation, anti-flapping and no-switch windows.
import t from 'tap';
import { assessPrimary } from '../../../src/shard-ha/decide/assess.js';
import {
  NoSwitchInputError,
  checkFailoverInterval,
  delNoSwitch,
  failoverGate,
  listNoSwitch,
  noSwitchFor,
  setNoSwitch,
  trackDead,
} from '../../../src/shard-ha/decide/guards.js';
import { rejoinPlan } from '../../../src/shard-ha/decide/rejoin.js';
import { down, primary, replica } from './fixtures/probes.js';

const NEW = '10.0.0.2:3306';
const newPrimary = primary('n', NEW, { serverId: 2, gtid: { executed: '0-2-150', received: null, history: '0-1-98,0-2-150' } });

t.test('rejoin: a clean history is re-pointed after what it executed', (t) => {
  const old = primary('o', '10.0.0.1:3306', { readOnly: true, gtid: { executed: '0-1-98', received: null, history: '0-1-98' } });
  const plan = rejoinPlan(old, newPrimary);
  t.same(plan.action, 'repoint');
  if (plan.action === 'repoint') t.equal(plan.startAfter, '0-1-98');
  t.end();
});

t.test('rejoin: committed-but-unreplicated transactions need a rebuild', (t) => {
  const old = primary('o', '10.0.0.1:3306', { readOnly: true, gtid: { executed: '0-1-100', received: null, history: '0-1-100' } });
  const plan = rejoinPlan(old, newPrimary);
  t.equal(plan.action, 'needs-rebuild', 'even though 150 > 100');
  if (plan.action === 'needs-rebuild') t.same(plan.errant, ['0-1-99..100']);
  t.end();
});

t.test('rejoin: writable first gets fenced; unreachable waits; following is done', (t) => {
  const writable = primary('o', '10.0.0.1:3306', { readOnly: false, gtid: { executed: '0-1-98', received: null, history: '0-1-98' } });
  t.equal(rejoinPlan(writable, newPrimary).action, 'fence-first');
  t.equal(rejoinPlan(down('o'), newPrimary).action, 'wait');
  t.equal(rejoinPlan(primary('o', 'x:1', { readOnly: true }), down('n', NEW)).action, 'wait');
  const following = replica('o', NEW, {}, { gtid: { executed: '0-2-150', received: '0-2-150', history: '0-1-98,0-2-150' } });
  t.equal(rejoinPlan(following, newPrimary).action, 'already-following');
  const brokenFollower = replica('o', NEW, { sqlRunning: false }, { gtid: { executed: '0-2-150', received: '0-2-150', history: '0-1-98,0-2-150' } });
  t.equal(rejoinPlan(brokenFollower, newPrimary).action, 'repoint', 'a follower with a stopped applier is re-pointed');
  t.end();
});

t.test('trackDead: the dead verdict must hold over samples and time', (t) => {
  const dead = assessPrimary(down('p'), [replica('r', '10.0.0.1:3306', { io: 'connecting' })]);
  const alive = assessPrimary(primary(), [replica('r')]);
  t.equal(dead.verdict, 'dead');
  let s = trackDead(null, dead, 1_000, { minSamples: 2, minDeadMs: 500 });
  t.notOk(s.confirmed, 'one sample is not enough');
  s = trackDead(s.track, dead, 1_300, { minSamples: 2, minDeadMs: 500 });
  t.notOk(s.confirmed, 'two samples, but only 300 ms');
  s = trackDead(s.track, dead, 1_600, { minSamples: 2, minDeadMs: 500 });
  t.ok(s.confirmed, 'three samples over 600 ms');
  t.same(s.track, { since: 1_000, samples: 3 });
  s = trackDead(s.track, alive, 1_700);
  t.same(s, { track: null, confirmed: false }, 'any other verdict resets');
  t.ok(trackDead(null, dead, 0, { minSamples: 1 }).confirmed, 'single-sample configuration');
  t.notOk(trackDead({ since: 0, samples: 5 }, alive, 10).confirmed);
  t.end();
});

t.test('anti-flapping: minimum interval between failovers', (t) => {
  t.same(checkFailoverInterval(null, 10_000, 60_000), { ok: true }, 'never failed over');
  const g = checkFailoverInterval(10_000, 40_000, 60_000);
  t.equal(g.ok, false);
  if (!g.ok) {
    t.equal(g.retryAt, 70_000);
    t.match(g.reason, /30 s ago; minimum interval 60 s/);
  }
  t.same(checkFailoverInterval(10_000, 70_000, 60_000), { ok: true }, 'exactly at the limit');
  t.end();
});

t.test('no-switch windows: set, list, expire, delete, scope', (t) => {
  let w = setNoSwitch([], { clusterId: '3', shardId: '7' }, 60, 1_000);
  t.same(w, [{ clusterId: '3', shardId: '7', until: 61_000 }]);
  w = setNoSwitch(w, { clusterId: '3', shardId: '7' }, 10, 2_000);
  t.same(w, [{ clusterId: '3', shardId: '7', until: 12_000 }], 'the same scope is replaced');
  w = setNoSwitch(w, { clusterId: '4', shardId: null }, 100, 2_000);
  w = setNoSwitch(w, { clusterId: 'all', shardId: null }, 5, 2_000);
  t.equal(listNoSwitch(w, 2_000).length, 3);
  t.same(noSwitchFor(w, '3', '7', 3_000), { clusterId: '3', shardId: '7', until: 12_000 }, 'latest expiry among matches');
  t.same(noSwitchFor(w, '3', '8', 3_000), { clusterId: 'all', shardId: null, until: 7_000 }, '"all" covers every cluster');
  t.same(noSwitchFor(w, '4', '1', 3_000)?.until, 102_000, 'a cluster window covers its shards');
  t.equal(noSwitchFor(w, '5', '1', 8_000), null, 'expired "all" no longer applies');
  t.same(listNoSwitch(w, 12_000).map((x) => x.clusterId), ['4'], 'expired windows drop out of the list');
  t.same(setNoSwitch(w, { clusterId: '9', shardId: null }, 1, 50_000).map((x) => x.clusterId), ['4', '9'], 'setting prunes expired');
  w = delNoSwitch(w, { clusterId: '4', shardId: null });
  t.equal(noSwitchFor(w, '4', '1', 8_000), null, 'deleted');
  t.equal(delNoSwitch(w, { clusterId: '3', shardId: null }).length, w.length, 'delete is exact-scope: the shard window stays');
  t.end();
});

t.test('no-switch input validation names the field', (t) => {
  t.throws(() => setNoSwitch([], { clusterId: '3', shardId: null }, 0, 0), { name: 'NoSwitchInputError', field: 'timeout' });
  t.throws(() => setNoSwitch([], { clusterId: '3', shardId: null }, 1.5, 0), /timeout/);
  t.throws(() => setNoSwitch([], { clusterId: '3', shardId: null }, 10 ** 9, 0), /timeout/);
  t.throws(() => setNoSwitch([], { clusterId: "3'; drop", shardId: null }, 5, 0), { name: 'NoSwitchInputError', field: 'cluster_id' });
  t.throws(() => setNoSwitch([], { clusterId: 'all', shardId: '1' }, 5, 0), { name: 'NoSwitchInputError', field: 'shard_id' });
  t.throws(() => delNoSwitch([], { clusterId: '1', shardId: 'x' }), NoSwitchInputError);
  t.end();
});

t.test('failoverGate combines windows and the interval', (t) => {
  const windows = setNoSwitch([], { clusterId: '1', shardId: '2' }, 30, 0);
  const base = { clusterId: '1', shardId: '2', lastFailoverAt: null, minIntervalMs: 60_000, windows };
  const g = failoverGate({ ...base, now: 1_000 });
  t.equal(g.ok, false);
  if (!g.ok) {
    t.match(g.reason, /no-switch window for shard 2/);
    t.equal(g.retryAt, 30_000);
  }
  t.same(failoverGate({ ...base, now: 31_000 }), { ok: true });
  const flap = failoverGate({ ...base, now: 31_000, lastFailoverAt: 20_000 });
  t.equal(flap.ok, false);
  t.same(failoverGate({ ...base, shardId: '3', now: 1_000 }), { ok: true }, 'other shards are not covered');
  t.end();
});

t.test('trackDead: a hung verdict (process stopped, replicas silent) is confirmed on its first sample', (t) => {
  const P = '10.0.0.1:3306';
  const silent = [replica('r1', P, { progressAgeMs: 600 }), replica('r2', P, { progressAgeMs: 600 })];
  const hung = assessPrimary(down('p', P, 'unreachable', 'DEADLINE'), silent, { process: 'stopped' });
  t.equal(hung.hung, true);
  t.ok(trackDead(null, hung, 1_000, { minSamples: 2 }).confirmed, 'one sample');
  t.notOk(trackDead(null, hung, 1_000, { minSamples: 2, minSamplesHung: 2 }).confirmed, 'minSamplesHung is an option');
  t.notOk(trackDead(null, hung, 1_000, { minSamples: 2, minDeadMs: 300 }).confirmed, 'minDeadMs still applies');
  const plain = assessPrimary(down('p', P), [replica('r1', P, { io: 'connecting' }), replica('r2', P, { io: 'connecting' })]);
  t.notOk(trackDead(null, plain, 1_000, { minSamples: 2 }).confirmed, 'without the agent: two samples');
  t.end();
});
