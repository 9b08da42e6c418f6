// Scenario: a member whose missing entries were compacted away gets the leader's snapshot.
import t from 'tap';
import { Cluster } from './harness.js';

t.test('a lagging follower installs a snapshot, then follows the log', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  c.isolate('c');
  for (let i = 0; i < 20; i++) c.propose('a', `v${i}`);
  c.stabilize();
  const snapIndex = c.compact('a');
  t.equal(c.core('a').status().firstIndex, snapIndex + 1, 'a dropped its log up to the snapshot');

  c.heal();
  const since = c.delivered.length;
  c.tickAll(3);
  t.equal(c.count('snap', { from: 'a', to: 'c', since }), 1, 'one snapshot sent');
  t.equal(c.member('c').storage.snapshot().meta.index, snapIndex, 'c stored it');
  t.same(c.applied('c'), c.applied('a'), 'c\'s state equals the leader\'s');

  c.propose('a', 'after');
  c.stabilize();
  t.equal(c.applied('c').at(-1), 'after', 'and c follows the log from there');
  t.end();
});

t.test('a lost snapshot is sent again', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  c.isolate('c');
  for (let i = 0; i < 5; i++) c.propose('a', `v${i}`);
  c.stabilize();
  c.compact('a');
  // c can send to a (its heartbeat answers get through) but hears nothing back, so the snapshot is lost.
  c.heal();
  c.cutLink('a', 'c');
  c.tickAll(5);
  c.heal();
  c.tickAll(30);
  t.same(c.applied('c'), c.applied('a'), 'c got the snapshot in the end');
  t.end();
});

t.test('a member restarts from its own snapshot', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  for (let i = 0; i < 5; i++) c.propose('a', `v${i}`);
  c.stabilize();
  c.compact('b');
  c.crash('b');
  c.restart('b');
  t.equal(c.core('b').appliedIndex, c.member('b').storage.snapshot().meta.index);
  c.propose('a', 'more');
  c.stabilize();
  t.same(c.applied('b'), c.applied('a'));
  t.end();
});
