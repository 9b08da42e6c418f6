// Scenario: a follower whose log diverged (entries of an old leader that never committed) is repaired
// by the new leader, fast: rejection hints skip a whole term per round trip.
import t from 'tap';
import { Cluster } from './harness.js';

t.test('a stale leader\'s uncommitted tail is replaced, in one or two round trips', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  c.propose('a', 'committed');
  c.stabilize();

  // a is cut off and keeps accepting proposals it can never commit, then steps down (no quorum).
  c.isolate('a');
  for (let i = 0; i < 30; i++) c.propose('a', `lost-${i}`);
  c.stabilize();
  c.tick('a', 20);
  t.equal(c.core('a').role, 'follower');
  t.equal(c.core('a').lastIndex(), 33, 'a holds 30 uncommitted entries of term 2');

  // b and c elect one of them, which commits its own entries at the same indexes.
  c.tickAll(25);
  const first = c.leader()!;
  const other = first === 'b' ? 'c' : 'b';
  for (let i = 0; i < 5; i++) c.propose(first, `kept-${i}`);
  c.stabilize();

  // That leader dies; the other one wins with a's vote and must now repair a's log, probing from its
  // own last index backwards.
  c.crash(first);
  c.heal();
  const since = c.delivered.length;
  c.campaign(other);
  c.stabilize();
  t.equal(c.leader(), other);
  t.equal(c.logTerms('a'), c.logTerms(other), 'a\'s log now equals the leader\'s');
  t.same(c.applied('a'), ['committed', 'kept-0', 'kept-1', 'kept-2', 'kept-3', 'kept-4']);
  const rejections = c.delivered.slice(since).filter((m) => m.type === 'appResp' && m.from === 'a' && m.reject).length;
  t.ok(rejections >= 1 && rejections <= 2, `30 divergent entries repaired after ${rejections} rejection(s), not 30`);
  t.end();
});

t.test('a follower that missed many entries catches up', (t) => {
  const c = new Cluster(['a', 'b', 'c'], { maxSizePerMsg: 64 });
  c.campaign('a');
  c.stabilize();
  c.isolate('c');
  for (let i = 0; i < 200; i++) c.propose('a', `e${i}`);
  c.stabilize();
  c.heal();
  c.tickAll(3);
  t.equal(c.applied('c').length, 200);
  t.equal(c.logTerms('c'), c.logTerms('a'));
  t.end();
});
