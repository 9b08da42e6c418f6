// Scenario: ReadIndex. A read is answered with an index once a quorum confirms the leader still leads.
import t from 'tap';
import { NotLeaderError } from '../../../src/raft/core/index.js';
import { Cluster } from './harness.js';

t.test('a read on the leader waits for a heartbeat round', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  c.propose('a', 'x');
  c.stabilize();
  const commit = c.core('a').commitIndex;
  const since = c.delivered.length;
  c.core('a').readIndex('r1');
  t.same(c.member('a').readStates, [], 'not answered before the round');
  c.stabilize();
  t.same(c.member('a').readStates, [{ index: commit, ctx: 'r1' }]);
  t.ok(c.count('heartbeatResp', { to: 'a', since }) >= 1, 'confirmed by heartbeat answers');
  t.end();
});

t.test('a read on a follower is forwarded to the leader', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  c.propose('a', 'x');
  c.stabilize();
  c.core('b').readIndex('r2');
  c.stabilize();
  t.same(c.member('b').readStates, [{ index: c.core('a').commitIndex, ctx: 'r2' }]);
  t.end();
});

t.test('a leader cut off from the quorum answers no read', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  c.isolate('a');
  c.core('a').readIndex('stale');
  c.stabilize();
  t.same(c.member('a').readStates, [], 'no answer without a quorum');
  // Meanwhile b and c elect a new leader and commit a write a does not know about.
  c.tickAll(25);
  const l = c.leader();
  t.ok(l === 'b' || l === 'c');
  c.propose(l!, 'newer');
  c.stabilize();
  t.same(c.member('a').readStates, [], 'still none: it would miss "newer"');
  t.end();
});

t.test('a new leader answers reads only after committing an entry of its term', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  c.propose('a', 'x');
  c.stabilize();
  c.crash('a');
  // b and c wait out their lease; then b wins, but its appends to c (and so its no-op) are held back.
  c.tick('b', 10);
  c.tick('c', 10);
  c.drop((m) => m.type === 'app' && m.to === 'c');
  c.campaign('b');
  c.stabilize();
  t.equal(c.core('b').role, 'leader');
  t.ok(c.core('b').commitIndex < c.core('b').lastIndex(), 'b\'s no-op is not committed');
  c.core('b').readIndex('r3');
  c.stabilize();
  t.same(c.member('b').readStates, [], 'the read is held back');
  c.heal();
  c.tickAll(2);
  t.equal(c.member('b').readStates.length, 1);
  t.equal(c.member('b').readStates[0]?.index, c.core('b').commitIndex, 'answered with the new commit index');
  t.end();
});

t.test('a member that knows no leader refuses a read', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  t.throws(() => c.core('a').readIndex('r'), NotLeaderError);
  t.end();
});
