// Scenario: check-quorum. A leader that cannot reach a quorum steps down; members that hear from a
// leader refuse to help others depose it (leader lease).
import t from 'tap';
import { NotLeaderError } from '../../../src/raft/core/index.js';
import { Cluster } from './harness.js';

t.test('a leader cut off from the quorum steps down within an election timeout or two', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  c.isolate('a');
  let ticks = 0;
  while (c.core('a').role === 'leader' && ticks < 100) {
    c.tick('a');
    ticks++;
  }
  c.stabilize();
  t.equal(c.core('a').role, 'follower', 'a stepped down');
  t.ok(ticks <= 20, `within two election timeouts (${ticks} ticks)`);
  t.throws(() => c.propose('a', 'x'), NotLeaderError, 'and takes no proposals');
  t.end();
});

t.test('a leader that hears from a quorum stays', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  c.isolate('c');
  c.tickAll(50);
  t.equal(c.leader(), 'a', 'a and b are a quorum');
  t.end();
});

t.test('members with a live leader ignore a campaign', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  const term = c.core('a').term;
  // b asks for pre-votes although a is alive: a and c are within their lease and ignore it.
  c.campaign('b');
  c.stabilize();
  t.equal(c.leader(), 'a');
  t.equal(c.core('b').term, term);
  t.equal(c.count('preVoteResp', { to: 'b' }), 0, 'nobody even answered');
  t.end();
});
