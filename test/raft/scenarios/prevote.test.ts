// Scenario: pre-vote keeps a member that was cut off from deposing a healthy leader when it returns.
import t from 'tap';
import { Cluster } from './harness.js';

t.test('with pre-vote, a rejoining member does not disrupt the leader', (t) => {
  const c = new Cluster(['a', 'b', 'c']);
  c.campaign('a');
  c.stabilize();
  const term = c.core('a').term;

  c.isolate('c');
  // c times out again and again, but only asks for pre-votes: its term stays.
  for (let i = 0; i < 100; i++) {
    c.tick('c');
    c.stabilize();
  }
  t.equal(c.core('c').term, term, 'no term inflation while cut off');
  t.equal(c.core('c').role, 'preCandidate');

  c.heal();
  c.propose('a', 'after-heal');
  c.stabilize();
  c.tickAll(3);
  t.equal(c.leader(), 'a', 'the leader is still a');
  t.equal(c.core('a').term, term, 'and the term did not move');
  t.equal(c.core('c').leader, 'a', 'c follows a again');
  t.same(c.applied('c'), ['after-heal']);
  t.end();
});

t.test('without pre-vote, the same rejoin forces an election', (t) => {
  const c = new Cluster(['a', 'b', 'c'], { preVote: false });
  c.campaign('a');
  c.stabilize();
  const term = c.core('a').term;
  c.isolate('c');
  for (let i = 0; i < 100; i++) {
    c.tick('c');
    c.stabilize();
  }
  t.ok(c.core('c').term > term + 2, 'c raised its term campaigning alone');
  c.heal();
  c.tickAll(1);
  // a hears c's higher term (in c's answer to a heartbeat) and steps down.
  t.ok(c.core('a').term > term, 'the leader was deposed');
  t.end();
});
