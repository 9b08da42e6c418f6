// chooseCandidate and checkSwitchTarget on plain inputs.
import t from 'tap';
import { checkSwitchTarget, chooseCandidate, rankSurvivors } from '../../../src/shard-ha/decide/elect.js';
import { down, primary, replica } from './fixtures/probes.js';

t.test('the survivor holding executed ∪ received of everyone wins', (t) => {
  const c = chooseCandidate([
    { node: 'a', executed: '0-1-98', received: '0-1-100' },
    { node: 'b', executed: '0-1-99', received: '0-1-99' },
  ]);
  t.equal(c.kind, 'candidate');
  if (c.kind === 'candidate') {
    t.equal(c.node, 'a', 'received counts: a holds 100 in its relay log');
    t.equal(c.target, '0-1-100', 'wait until it executed what it received');
    t.equal(c.backlog, 2);
    t.same(c.ranking.map((r) => [r.node, r.containsAll]), [['a', true], ['b', false]]);
  }
  t.end();
});

t.test('ties: priority, then least backlog, then name', (t) => {
  const equal = [
    { node: 'b', executed: '0-1-95', received: '0-1-100' },
    { node: 'a', executed: '0-1-100', received: '0-1-100' },
  ];
  let c = chooseCandidate(equal);
  t.equal(c.kind === 'candidate' && c.node, 'a', 'least backlog');
  c = chooseCandidate([{ ...equal[0]!, priority: 5 }, equal[1]!]);
  t.equal(c.kind === 'candidate' && c.node, 'b', 'priority beats backlog');
  c = chooseCandidate([
    { node: 'z', executed: '0-1-100', received: null },
    { node: 'm', executed: '0-1-100', received: '0-1-100' },
  ]);
  t.equal(c.kind === 'candidate' && c.node, 'm', 'name as the last tie-break keeps it deterministic');
  t.end();
});

t.test('a lower-priority node is chosen when it alone holds everything', (t) => {
  const c = chooseCandidate([
    { node: 'pref', executed: '0-1-90', received: '0-1-90', priority: 10 },
    { node: 'other', executed: '0-1-90', received: '0-1-91', priority: 0 },
  ]);
  t.equal(c.kind === 'candidate' && c.node, 'other', 'completeness before preference');
  t.end();
});

t.test('divergence: no survivor contains every other', (t) => {
  const c = chooseCandidate([
    { node: 'a', executed: '0-1-100,1-1-5', received: null },
    { node: 'b', executed: '0-1-99,1-1-6', received: null },
  ]);
  t.equal(c.kind, 'divergence');
  if (c.kind === 'divergence') t.match(c.message, /a=0-1-100,1-1-5; b=0-1-99,1-1-6/);
  const fork = chooseCandidate([
    { node: 'a', executed: '0-1-100', received: null },
    { node: 'b', executed: '0-2-100', received: null },
  ]);
  t.equal(fork.kind, 'divergence', 'same seq by two servers');
  t.end();
});

t.test('non-promotable holders', (t) => {
  const c = chooseCandidate([
    { node: 'backup', executed: '0-1-100', received: null, promotable: false },
    { node: 'a', executed: '0-1-99', received: null },
  ]);
  t.equal(c.kind, 'not-promotable', 'promoting a would lose 0-1-100');
  if (c.kind === 'not-promotable') t.same(c.holders, ['backup']);
  const ok = chooseCandidate([
    { node: 'backup', executed: '0-1-100', received: null, promotable: false },
    { node: 'a', executed: '0-1-99', received: '0-1-100' },
  ]);
  t.equal(ok.kind === 'candidate' && ok.node, 'a');
  t.end();
});

t.test('loss-free quorum of ACKing replicas', (t) => {
  const one = [{ node: 'a', executed: '0-1-100', received: null }];
  const c = chooseCandidate(one, { ackers: 2 });
  t.equal(c.kind, 'quorum-lost', 'with one ACK per commit both ACKers must survive');
  if (c.kind === 'quorum-lost') {
    t.equal(c.required, 2);
    t.equal(c.survivingAckers, 1);
  }
  t.equal(chooseCandidate(one, { ackers: 2, allowLoss: true }).kind, 'candidate', 'operator override');
  t.equal(chooseCandidate(one, { ackers: 2, acksPerCommit: 2 }).kind, 'candidate', 'two ACKs per commit: one survivor has them all');
  t.equal(chooseCandidate(one, { ackers: 1 }).kind, 'candidate');
  t.equal(chooseCandidate(one).kind, 'candidate', 'check skipped when the caller gives no ackers');
  const asyncOnly = chooseCandidate([{ node: 'a', executed: '0-1-100', received: null, acker: false }], { ackers: 1 });
  t.equal(asyncOnly.kind, 'quorum-lost', 'an async replica does not count');
  t.equal(chooseCandidate([]).kind, 'no-survivors');
  t.end();
});

t.test('rankSurvivors handles empty and missing positions', (t) => {
  const r = rankSurvivors([
    { node: 'fresh', executed: '', received: '' },
    { node: 'a', executed: '0-1-3', received: '' },
  ]);
  t.same(r.map((x) => [x.node, x.position, x.containsAll]), [['fresh', '', false], ['a', '0-1-3', true]]);
  t.throws(() => rankSurvivors([{ node: 'x', executed: 'garbage', received: null }]), /not a MariaDB GTID/);
  t.end();
});

t.test('manual switch target check', (t) => {
  const P = '10.0.0.1:3306';
  const p = primary('p', P, { gtid: { executed: '0-1-100', received: null, history: '0-1-100' } });
  const good = replica('r1', P);
  t.same(checkSwitchTarget(good, p), { ok: true });
  const code = (target: Parameters<typeof checkSwitchTarget>[0], prim = p, o = {}): string | null => {
    const r = checkSwitchTarget(target, prim, o);
    return r.ok ? null : r.code;
  };
  t.equal(code(down('r1', 'r1.test:3306')), 'target-unavailable');
  t.equal(code(good, down('p', P)), 'primary-unavailable');
  t.equal(code(primary('x', 'x:1')), 'target-not-replica');
  t.equal(code(replica('r1', '10.3.3.3:3306')), 'target-follows-other');
  t.equal(code(replica('r1', P, { io: 'connecting' })), 'target-replication-broken');
  t.equal(code(replica('r1', P, { sqlRunning: false, sqlError: 'dup key' })), 'target-replication-broken');
  const behind = replica('r1', P, {}, { gtid: { executed: '0-1-97', received: '0-1-100', history: '0-1-97' } });
  t.equal(code(behind), 'target-not-caught-up');
  t.match(checkSwitchTarget(behind, p), { message: /3 behind/ });
  t.equal(code(behind, p, { maxBacklog: 5 }), null, 'a lag allowance for the pre-check');
  const errant = replica('r1', P, {}, { gtid: { executed: '0-1-100', received: '0-1-100', history: '0-1-100,0-2-3' } });
  t.equal(code(errant), 'target-errant');
  t.equal(code(good, p, { promotable: false }), 'target-not-promotable');
  t.equal(code(primary('p', P), p), 'target-is-primary');
  const ahead = replica('r1', P, {}, { gtid: { executed: '0-1-101', received: '0-1-101', history: '0-1-101' } });
  t.equal(code(ahead), null, 'ahead of the probe of the primary (a write in between) is fine');
  t.end();
});
