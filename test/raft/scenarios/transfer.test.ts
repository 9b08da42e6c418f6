// Scenario: leadership transfer. The target is caught up first, then told to campaign at once.
import t from 'tap';
import { NotLeaderError, TransferRejectedError } from '../../../src/raft/core/index.js';
import { Cluster } from './harness.js';

t.test('transfer to a lagging follower: catch up, then TimeoutNow, then it leads', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  c.isolate('c');
  for (let i = 0; i < 10; i++) c.propose('a', `v${i}`);
  c.stabilize();
  c.heal();
  const term = c.core('a').term;

  c.core('a').transferLeadership('c');
  // While the transfer runs, a takes no proposals and says where to go.
  try {
    c.propose('a', 'during');
    t.fail('proposal accepted during a transfer');
  } catch (e) {
    t.ok(e instanceof NotLeaderError && e.reason === 'transferring' && e.leader === 'c', 'refused, naming the transferee');
  }
  c.stabilize();
  t.equal(c.leader(), 'c');
  t.equal(c.core('c').term, term + 1, 'one election, no pre-vote round');
  t.equal(c.count('timeoutNow', { from: 'a', to: 'c' }), 1);
  t.same(c.applied('c'), c.applied('a'), 'c has every entry');
  c.propose('c', 'after');
  c.stabilize();
  t.equal(c.applied('a').at(-1), 'after');
  t.end();
});

t.test('a transfer to an unreachable member is abandoned after an election timeout', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  c.isolate('c');
  c.core('a').transferLeadership('c');
  t.throws(() => c.propose('a', 'x'), NotLeaderError);
  c.tickAll(10);
  t.equal(c.core('a').status().leadTransferee, null, 'abandoned');
  t.equal(c.leader(), 'a', 'a still leads');
  c.propose('a', 'accepted-again');
  c.stabilize();
  t.equal(c.applied('b').at(-1), 'accepted-again');
  t.end();
});

t.test('only voters can take over', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  c.add('d');
  c.core('a').proposeConfChange({ type: 'addLearner', member: 'd' });
  c.stabilize();
  t.throws(() => c.core('a').transferLeadership('d'), TransferRejectedError);
  t.throws(() => c.core('b').transferLeadership('c'), NotLeaderError);
  t.end();
});
