// Scenario: elections. Who wins, at what term, and who may not.
import t from 'tap';
import { NotLeaderError } from '../../../src/raft/core/index.js';
import { Cluster } from './harness.js';

t.test('a member campaigns and wins; entries then replicate and apply everywhere', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  // Bootstrapped at term 1 with no leader.
  t.equal(c.leader(), null);

  c.campaign('a');
  c.stabilize();
  t.equal(c.leader(), 'a');
  // Pre-vote does not raise the term; the real election does, once.
  t.equal(c.core('a').term, 2);
  t.equal(c.core('b').leader, 'a');
  t.equal(c.core('c').leader, 'a');

  c.propose('a', 'x=1');
  c.propose('a', 'y=2');
  c.stabilize();
  for (const id of ['a', 'b', 'c']) t.same(c.applied(id), ['x=1', 'y=2'], `${id} applied both`);
  t.end();
});

t.test('a follower times out and campaigns by itself', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  // The randomized timeout is in [10, 20) ticks: 20 ticks always suffice.
  for (let i = 0; i < 20 && c.leader() === null; i++) c.tickAll();
  t.not(c.leader(), null, 'someone became leader');
  t.end();
});

t.test('a candidate with a stale log cannot win', (t) => {
  // Without pre-vote and lease, c's request reaches b as a real vote, which b must refuse on log grounds.
  const c = new Cluster(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
  c.campaign('a');
  c.stabilize();
  c.isolate('c');
  c.propose('a', 'only-on-a-and-b');
  c.stabilize();
  c.heal();
  c.crash('a');
  c.campaign('c');
  c.stabilize();
  t.not(c.core('c').role, 'leader', 'c lacks a committed entry and loses');
  const answers = c.delivered.filter((m) => m.type === 'voteResp' && m.from === 'b' && m.to === 'c');
  t.ok(answers.length > 0 && answers.every((m) => m.type === 'voteResp' && m.reject), 'b refused its vote');
  // b has the entry and wins.
  c.campaign('b');
  c.stabilize();
  t.equal(c.leader(), 'b');
  t.same(c.applied('c'), ['only-on-a-and-b'], 'c catches up from the new leader');
  t.end();
});

t.test('with pre-vote, members that heard from a leader recently ignore a campaign', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  c.crash('a');
  // b and c heard from a less than an election timeout ago: c's campaign gets no answer.
  c.campaign('c');
  c.stabilize();
  t.equal(c.count('preVoteResp', { from: 'b', to: 'c' }), 0);
  t.equal(c.core('c').role, 'preCandidate');
  t.end();
});

t.test('a member votes once per term', (t) => {
  const c = new Cluster(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
  // a and b both campaign at term 2 and vote for themselves; c hears a first.
  c.campaign('a');
  c.campaign('b');
  c.stabilize();
  const grants = c.delivered.filter((m) => m.type === 'voteResp' && m.from === 'c' && m.term === 2 && !m.reject);
  t.equal(grants.length, 1, 'c granted exactly one vote in term 2');
  t.equal(grants[0]?.to, 'a');
  t.equal(c.leader(), 'a');
  t.equal(c.core('b').role, 'follower', 'b lost (a refused it: it voted for itself)');
  t.end();
});

t.test('proposals on a follower fail with the leader to retry at', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  t.throws(() => c.propose('b', 'nope'), NotLeaderError);
  try {
    c.propose('b', 'nope');
  } catch (e) {
    t.ok(e instanceof NotLeaderError && e.leader === 'a', 'the error names the leader');
  }
  t.end();
});
