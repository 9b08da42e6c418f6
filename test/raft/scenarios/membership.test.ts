// Scenario: membership changes, one at a time: a learner joins and catches up, is promoted, a voter is
// removed, and the leader removes itself.
import t from 'tap';
import { ConfChangeRejectedError, NotLeaderError } from '../../../src/raft/core/index.js';
import { Cluster } from './harness.js';

function elected(): Cluster {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  for (let i = 0; i < 10; i++) c.propose('a', `v${i}`);
  c.stabilize();
  return c;
}

t.test('a learner catches up, does not vote, and is promoted', (t) => {
  const c = elected();
  c.add('d');
  c.core('a').proposeConfChange({ type: 'addLearner', member: 'd' });
  c.stabilize();
  t.same(c.core('a').confState(), { voters: ['a', 'b', 'c'], learners: ['d'] });
  t.same(c.applied('d'), c.applied('a'), 'd received the whole log');
  t.same(c.core('d').confState().learners, ['d'], 'd knows it is a learner');

  // A learner never campaigns, however long it waits.
  c.isolate('d');
  c.tick('d', 100);
  t.equal(c.core('d').role, 'follower');
  c.heal();
  c.stabilize();

  // It counts for nothing in the quorum: with b and c gone, a cannot commit.
  c.crash('b');
  c.crash('c');
  c.propose('a', 'needs-a-quorum');
  c.stabilize();
  t.equal(c.core('a').commitIndex < c.core('a').lastIndex(), true, 'not committed with a learner\'s ack');
  c.restart('b');
  c.restart('c');
  c.tickAll(2);
  t.equal(c.applied('d').at(-1), 'needs-a-quorum', 'committed once the voters are back');

  c.core('a').proposeConfChange({ type: 'addVoter', member: 'd' });
  c.stabilize();
  t.same(c.core('a').confState(), { voters: ['a', 'b', 'c', 'd'], learners: [] });
  t.same(c.core('d').confState().voters, ['a', 'b', 'c', 'd']);
  t.end();
});

t.test('a learner that has not caught up is not promoted', (t) => {
  const c = elected();
  c.add('d');
  c.isolate('d');
  c.core('a').proposeConfChange({ type: 'addLearner', member: 'd' });
  c.stabilize();
  t.throws(() => c.core('a').proposeConfChange({ type: 'addVoter', member: 'd' }), ConfChangeRejectedError);
  t.end();
});

t.test('one membership change at a time', (t) => {
  const c = elected();
  c.add('d');
  c.add('e');
  c.core('a').proposeConfChange({ type: 'addLearner', member: 'd' });
  t.throws(
    () => c.core('a').proposeConfChange({ type: 'addLearner', member: 'e' }),
    ConfChangeRejectedError,
    'the first is not applied yet',
  );
  c.stabilize();
  c.core('a').proposeConfChange({ type: 'addLearner', member: 'e' });
  c.stabilize();
  t.same(c.core('a').confState().learners, ['d', 'e']);
  t.end();
});

t.test('removing a voter shrinks the quorum', (t) => {
  const c = elected();
  c.core('a').proposeConfChange({ type: 'removeMember', member: 'c' });
  c.stabilize();
  t.same(c.core('a').confState().voters, ['a', 'b']);
  t.same(c.core('c').confState().voters, ['a', 'b'], 'c applied its own removal');
  c.crash('c');
  c.propose('a', 'with-a-and-b');
  c.stabilize();
  t.equal(c.applied('b').at(-1), 'with-a-and-b');
  // c is no voter any more: it never campaigns, even cut off.
  c.restart('c');
  c.isolate('c');
  c.tick('c', 100);
  t.equal(c.core('c').role, 'follower');
  t.end();
});

t.test('the leader removes itself: it steps down once the change is committed', (t) => {
  const c = elected();
  const term = c.core('a').term;
  c.core('a').proposeConfChange({ type: 'removeMember', member: 'a' });
  c.stabilize();
  t.equal(c.core('a').role, 'follower', 'a stepped down');
  t.throws(() => c.propose('a', 'x'), NotLeaderError);
  t.same(c.core('b').confState().voters, ['b', 'c']);
  // b and c elect a new leader among themselves.
  c.tickAll(25);
  const l = c.leader();
  t.ok(l === 'b' || l === 'c', `new leader ${l}`);
  t.ok(c.core(l!).term > term);
  c.propose(l!, 'after-removal');
  c.stabilize();
  t.equal(c.applied(l === 'b' ? 'c' : 'b').at(-1), 'after-removal');
  t.end();
});

t.test('invalid changes are refused', (t) => {
  const c = elected();
  t.throws(() => c.core('a').proposeConfChange({ type: 'addVoter', member: 'b' }), ConfChangeRejectedError);
  t.throws(() => c.core('a').proposeConfChange({ type: 'removeMember', member: 'zz' }), ConfChangeRejectedError);
  t.throws(() => c.core('b').proposeConfChange({ type: 'addLearner', member: 'd' }), NotLeaderError);
  t.end();
});
