import t from 'tap';
import { MemoryLogStorage, type Entry } from '../../../src/raft/core/index.js';
import { RaftLog } from '../../../src/raft/core/log.js';

const ent = (index: number, term: number): Entry => ({ index, term, kind: 'normal', data: new Uint8Array(1) });

function logWith(terms: number[]): RaftLog {
  const s = new MemoryLogStorage();
  s.append(terms.map((term, i) => ent(i + 1, term)));
  return new RaftLog(s);
}

t.test('maybeAppend: match, conflict, commit bound', (t) => {
  const l = logWith([1, 1, 2]);
  t.equal(l.maybeAppend(3, 1, 3, []), undefined, 'previous entry term differs');
  t.equal(l.maybeAppend(4, 2, 3, []), undefined, 'previous entry missing');
  t.equal(l.maybeAppend(2, 1, 10, [ent(3, 3), ent(4, 3)]), 4, 'conflict at 3 replaced');
  t.equal(l.term(3), 3);
  t.equal(l.committed, 4, 'commit bounded by the last new entry');
  t.equal(l.maybeAppend(1, 1, 10, [ent(2, 1)]), 2, 'an old append that matches changes nothing');
  t.equal(l.lastIndex(), 4, 'and does not truncate');
  t.throws(() => l.maybeAppend(1, 1, 10, [ent(2, 5)]), /committed/, 'never overwrite a committed entry');
  t.end();
});

t.test('findConflictByTerm skips a whole term', (t) => {
  const l = logWith([1, 1, 2, 2, 2, 4, 4]);
  t.same(l.findConflictByTerm(7, 3), [5, 2]);
  t.same(l.findConflictByTerm(7, 1), [2, 1]);
  t.same(l.findConflictByTerm(7, 0), [0, 0]);
  t.end();
});

t.test('isUpToDate compares last term, then length', (t) => {
  const l = logWith([1, 2, 2]);
  t.ok(l.isUpToDate(1, 3), 'higher last term wins even if shorter');
  t.ok(l.isUpToDate(3, 2));
  t.notOk(l.isUpToDate(2, 2), 'same term, shorter');
  t.notOk(l.isUpToDate(10, 1), 'lower term, however long');
  t.end();
});

t.test('maybeCommit only commits entries of the given term', (t) => {
  const l = logWith([1, 2, 3]);
  t.notOk(l.maybeCommit(2, 3), 'index 2 is of term 2');
  t.equal(l.committed, 0);
  t.ok(l.maybeCommit(3, 3));
  t.equal(l.committed, 3);
  t.end();
});

t.test('unstable entries: handed out once, stable once written, replaced ones stay unstable', (t) => {
  const s = new MemoryLogStorage();
  const l = new RaftLog(s);
  l.append([ent(1, 1), ent(2, 1)]);
  t.equal(l.stableIndex(), 0);
  t.same(l.unstable.nextEntries().map((e) => e.index), [1, 2]);
  l.unstable.acceptInProgress();
  t.same(l.unstable.nextEntries(), [], 'in progress: not handed out again');
  // While being written, entry 2 is replaced by a new leader's.
  l.append([ent(2, 2)]);
  t.same(l.unstable.nextEntries().map((e) => `${e.index}/${e.term}`), ['2/2'], 'the replacement is handed out');
  s.append([ent(1, 1), ent(2, 1)]);
  l.unstable.stableTo(2, 1);
  t.equal(l.stableIndex(), 0, 'the written batch ended in a replaced entry: nothing counts until the replacement is written');
  t.equal(l.term(2), 2);
  l.unstable.acceptInProgress();
  s.append([ent(2, 2)]);
  l.unstable.stableTo(2, 2);
  t.equal(l.stableIndex(), 2);
  t.equal(l.lastIndex(), 2);
  t.end();
});

t.test('slice spans storage and unstable, within the size limit', (t) => {
  const s = new MemoryLogStorage();
  s.append([ent(1, 1), ent(2, 1)]);
  const l = new RaftLog(s);
  l.append([ent(3, 1), ent(4, 1)]);
  t.same(l.slice(1, 5, 1e6).map((e) => e.index), [1, 2, 3, 4]);
  t.same(l.slice(2, 5, 50).map((e) => e.index), [2, 3], '25 bytes an entry');
  t.same(l.entries(5, 100), []);
  t.end();
});
