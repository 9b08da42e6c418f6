import t from 'tap';
import { CompactedError, MemoryLogStorage, UnavailableError, type Entry } from '../../../src/raft/core/index.js';

const ent = (index: number, term: number, data = ''): Entry => ({ index, term, kind: 'normal', data: new TextEncoder().encode(data) });

t.test('bootstrap: a snapshot at (1, 1) naming the voters', (t) => {
  const s = MemoryLogStorage.bootstrap(['a', 'b']);
  t.equal(s.firstIndex(), 2);
  t.equal(s.lastIndex(), 1);
  t.equal(s.term(1), 1);
  t.same(s.initialState(), { hardState: { term: 1, vote: null, commit: 1 }, conf: { voters: ['a', 'b'], learners: [] } });
  t.end();
});

t.test('append replaces a conflicting tail', (t) => {
  const s = new MemoryLogStorage();
  s.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
  s.append([ent(2, 2)]);
  t.equal(s.lastIndex(), 2);
  t.equal(s.term(2), 2);
  t.throws(() => s.term(3), UnavailableError);
  t.throws(() => s.append([ent(5, 2)]), /gap/);
  t.end();
});

t.test('entries respect the size limit but return at least one', (t) => {
  const s = new MemoryLogStorage();
  s.append([ent(1, 1, 'x'.repeat(100)), ent(2, 1, 'y'), ent(3, 1, 'z')]);
  t.equal(s.entries(1, 4, 10).length, 1, 'one over-size entry still goes');
  t.equal(s.entries(2, 4, 50).length, 2);
  t.equal(s.entries(2, 4, 30).length, 1);
  t.throws(() => s.entries(1, 5, 1000), UnavailableError);
  t.end();
});

t.test('snapshot, then compaction up to it', (t) => {
  const s = new MemoryLogStorage();
  s.append([ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2)]);
  t.throws(() => s.compact(2), /snapshot only covers/, 'no compaction beyond the snapshot');
  const snap = s.createSnapshot(3, { voters: ['a'], learners: [] }, new Uint8Array([7]));
  t.same(snap.meta, { index: 3, term: 2, conf: { voters: ['a'], learners: [] } });
  s.compact(3);
  t.equal(s.firstIndex(), 4);
  t.equal(s.term(3), 2, 'the term at the compaction point is kept');
  t.throws(() => s.term(2), CompactedError);
  t.throws(() => s.entries(3, 4, 100), CompactedError);
  t.same(s.entries(4, 5, 100).map((e) => e.index), [4]);
  // Appending entries that are partly compacted keeps only the new part.
  s.append([ent(3, 2), ent(4, 2), ent(5, 3)]);
  t.equal(s.lastIndex(), 5);
  t.throws(() => s.createSnapshot(2, { voters: [], learners: [] }, new Uint8Array()), /not newer/);
  t.end();
});

t.test('applySnapshot replaces the log', (t) => {
  const s = new MemoryLogStorage();
  s.append([ent(1, 1), ent(2, 1)]);
  s.applySnapshot({ meta: { index: 10, term: 3, conf: { voters: ['a'], learners: ['b'] } }, data: new Uint8Array() });
  t.equal(s.firstIndex(), 11);
  t.equal(s.lastIndex(), 10);
  t.equal(s.term(10), 3);
  t.same(s.initialState().conf, { voters: ['a'], learners: ['b'] });
  t.throws(() => s.applySnapshot({ meta: { index: 5, term: 3, conf: { voters: [], learners: [] } }, data: new Uint8Array() }));
  t.end();
});
