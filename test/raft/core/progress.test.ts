import t from 'tap';
import { Inflights } from '../../../src/raft/core/inflights.js';
import { Progress } from '../../../src/raft/core/progress.js';
import { Tracker } from '../../../src/raft/core/tracker.js';

t.test('inflights: bounded by count and bytes, freed by acknowledgement', (t) => {
  const f = new Inflights(3, 100);
  f.add(5, 10);
  f.add(7, 10);
  t.notOk(f.full());
  f.add(9, 10);
  t.ok(f.full(), 'count limit');
  f.freeLE(7);
  t.equal(f.count(), 1);
  t.notOk(f.full());
  f.add(12, 95);
  t.ok(f.full(), 'byte limit');
  f.freeLE(100);
  t.equal(f.count(), 0);
  t.equal(f.bytes, 0);
  t.end();
});

t.test('progress: probe sends one at a time, replicate pipelines', (t) => {
  const p = new Progress(10, 2, 0, false);
  t.equal(p.state, 'probe');
  p.sentEntries(3, 30);
  t.ok(p.isPaused(), 'a probe waits for its answer');
  t.ok(p.maybeUpdate(12));
  t.notOk(p.isPaused());
  p.becomeReplicate();
  t.equal(p.next, 13);
  p.sentEntries(2, 20);
  t.equal(p.next, 15);
  t.notOk(p.isPaused());
  p.sentEntries(1, 10);
  t.ok(p.isPaused(), 'two appends in flight: full');
  t.notOk(p.maybeUpdate(11), 'stale acknowledgement');
  t.end();
});

t.test('progress: rejections', (t) => {
  const p = new Progress(10, 8, 0, false);
  t.notOk(p.maybeDecrTo(5, 3), 'stale: not the probe we sent (next-1 = 9)');
  t.ok(p.maybeDecrTo(9, 4));
  t.equal(p.next, 5, 'jumps to the hint + 1');
  p.maybeUpdate(4);
  p.becomeReplicate();
  p.sentEntries(3, 3);
  t.notOk(p.maybeDecrTo(3, 0), 'replicate: a rejection at or below match is stale');
  t.ok(p.maybeDecrTo(6, 0));
  t.equal(p.next, 5, 'back to match + 1');
  t.end();
});

t.test('progress: snapshot state blocks appends until resolved', (t) => {
  const p = new Progress(3, 8, 0, false);
  p.becomeSnapshot(50);
  t.ok(p.isPaused());
  t.equal(p.next, 51);
  p.becomeProbe();
  t.equal(p.next, 51, 'after a snapshot, probe right after it');
  t.end();
});

t.test('tracker: commit index and votes are by majority of voters only', (t) => {
  const tr = new Tracker(8, 0);
  tr.setConf({ voters: ['a', 'b', 'c', 'd', 'e'], learners: ['l'] }, 1);
  const set = (id: string, m: number): void => {
    tr.progress.get(id)!.match = m;
  };
  set('a', 10);
  set('b', 8);
  set('c', 5);
  set('d', 3);
  set('e', 1);
  set('l', 100);
  t.equal(tr.committedIndex(), 5, 'the 3rd highest of 5; the learner does not count');
  tr.recordVote('a', true);
  tr.recordVote('l', true);
  tr.recordVote('b', true);
  t.equal(tr.voteResult(), 'pending');
  tr.recordVote('c', false);
  tr.recordVote('d', false);
  t.equal(tr.voteResult(), 'pending');
  tr.recordVote('e', false);
  t.equal(tr.voteResult(), 'lost');
  tr.resetVotes();
  for (const id of ['a', 'b', 'c']) tr.recordVote(id, true);
  tr.recordVote('a', false);
  t.equal(tr.voteResult(), 'won', 'a member\'s first vote counts');
  t.end();
});
