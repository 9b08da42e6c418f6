// The checker must fail on bad histories, or the simulator's "0 violations" would mean nothing.
import t from 'tap';
import { MemoryLogStorage, RaftCore, SeededRandom, type Entry } from '../../../src/raft/core/index.js';
import { Checker, SimViolation, writePayload } from './checker.js';

const w = (index: number, term: number, key: string): Entry => ({ index, term, kind: 'normal', data: writePayload(key) });

function soloLeader(id: string, storage = MemoryLogStorage.bootstrap([id])): RaftCore {
  const c = new RaftCore({ id, storage, random: new SeededRandom(1) });
  c.campaign();
  return c;
}

/** The kind of violation `fn` reports ('none' if it passes). */
function kindOf(fn: () => void): string {
  try {
    fn();
    return 'none';
  } catch (e) {
    return e instanceof SimViolation ? e.kind : `not a violation: ${String(e)}`;
  }
}

t.test('two leaders in one term', (t) => {
  const a = { id: 'a', core: soloLeader('a') };
  const b = { id: 'b', core: soloLeader('b') };
  const ch = new Checker(() => [a, b]);
  ch.observe(a);
  t.equal(kindOf(() => ch.observe(b)), 'election safety');
  t.end();
});

t.test('log matching', (t) => {
  const ch = new Checker(() => []);
  ch.persisted('a', [w(2, 1, 'x'), w(3, 2, 'y')], 1);
  ch.persisted('b', [w(2, 1, 'x')], 1);
  t.equal(kindOf(() => ch.persisted('c', [w(3, 2, 'z')], 1)), 'log matching', 'same index and term, other entry');
  t.equal(kindOf(() => ch.persisted('c', [w(3, 2, 'y')], 0)), 'log matching', 'same entry after a different prefix');
  t.end();
});

t.test('state machine safety and the client history', (t) => {
  const ch = new Checker(() => []);
  const d1 = ch.applied('a', w(2, 1, 'x'), 1, 0);
  ch.applied('a', w(3, 1, 'y'), 2, d1);
  t.equal(kindOf(() => ch.applied('b', w(2, 1, 'other'), 1, 0)), 'state machine safety');
  t.equal(kindOf(() => ch.applied('b', w(3, 1, 'y'), 1, 0)), 'apply order');
  ch.writeAcked('y', 3);
  t.equal(kindOf(() => ch.writeAcked('x', 3)), 'client history', 'acknowledged at an index that holds something else');
  const floor = ch.readFloor();
  t.equal(floor, 3);
  t.equal(kindOf(() => ch.readCompleted('b', 'r', floor, 2)), 'linearizability', 'a read that misses an acknowledged write');
  ch.readCompleted('b', 'r', floor, 3);
  t.equal(kindOf(() => ch.snapshotLoaded('c', 3, 1, 12345)), 'snapshot', 'a snapshot whose state differs');
  t.end();
});

t.test('leader completeness', (t) => {
  // m leads term 2 and commits index 2; a later leader (term 3) without that entry is caught.
  const ms = MemoryLogStorage.bootstrap(['m']);
  const m = { id: 'm', core: soloLeader('m', ms) };
  const ch = new Checker(() => [m]);
  ch.observe(m);
  while (m.core.hasReady()) {
    const rd = m.core.ready();
    ms.append(rd.entries);
    if (rd.hardState) ms.setHardState(rd.hardState);
    m.core.advance(rd);
  }
  ch.observe(m);
  t.equal(m.core.commitIndex, 2, 'm committed its no-op');
  const storage = MemoryLogStorage.bootstrap(['n']);
  storage.setHardState({ term: 2, vote: null, commit: 1 });
  const late = soloLeader('n', storage);
  t.equal(late.term, 3);
  t.equal(kindOf(() => ch.observe({ id: 'n', core: late })), 'leader completeness');
  t.end();
});
