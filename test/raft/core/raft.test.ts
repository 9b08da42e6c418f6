// Rules of the core, checked by stepping one core with hand-made messages.
import t from 'tap';
import {
  MemoryLogStorage,
  NotLeaderError,
  ProposalDroppedError,
  RaftCore,
  SeededRandom,
  type Entry,
  type Message,
  type RaftConfig,
  type Ready,
} from '../../../src/raft/core/index.js';

function makeCore(id: string, storage: MemoryLogStorage, opts: Partial<RaftConfig> = {}): RaftCore {
  return new RaftCore({ id, storage, random: new SeededRandom(7), ...opts });
}

/** What a driver does with a Ready, minus the state machine. */
function persist(storage: MemoryLogStorage, rd: Ready): void {
  if (rd.snapshot) storage.applySnapshot(rd.snapshot);
  storage.append(rd.entries);
  if (rd.hardState) storage.setHardState(rd.hardState);
}

function drain(core: RaftCore, storage: MemoryLogStorage): Message[] {
  const out: Message[] = [];
  while (core.hasReady()) {
    const rd = core.ready();
    persist(storage, rd);
    out.push(...rd.messages, ...rd.messagesAfterPersist);
    core.advance(rd);
  }
  return out;
}

const ent = (index: number, term: number): Entry => ({ index, term, kind: 'normal', data: new Uint8Array([index]) });

t.test('a candidate\'s vote requests wait until its term and vote are durable', (t) => {
  const s = MemoryLogStorage.bootstrap(['a', 'b', 'c']);
  const a = makeCore('a', s, { preVote: false });
  a.campaign();
  const rd = a.ready();
  t.same(rd.hardState, { term: 2, vote: 'a', commit: 1 });
  t.ok(rd.mustSync);
  t.equal(rd.messages.filter((m) => m.type === 'vote').length, 0);
  t.same(rd.messagesAfterPersist.map((m) => `${m.type}->${m.to}`), ['vote->b', 'vote->c']);
  t.end();
});

t.test('one vote per term, only for a log at least as up to date', (t) => {
  const s = MemoryLogStorage.bootstrap(['a', 'b', 'c']);
  const b = makeCore('b', s);
  const vote = (from: string, term: number, index: number, logTerm: number): Message => ({ type: 'vote', from, to: 'b', term, index, logTerm, transfer: false });
  b.step(vote('a', 2, 1, 1));
  b.step(vote('c', 2, 1, 1));
  b.step(vote('c', 3, 0, 0));
  const answers = drain(b, s).filter((m) => m.type === 'voteResp');
  t.same(
    answers.map((m) => (m.type === 'voteResp' ? `${m.to}:${m.term}:${m.reject ? 'no' : 'yes'}` : '')),
    ['a:2:yes', 'c:2:no', 'c:3:no'],
  );
  // The vote survives a restart.
  const again = makeCore('b', s);
  t.equal(again.term, 3);
  t.equal(again.status().vote, null, 'term 3: no vote given');
  const s2 = MemoryLogStorage.bootstrap(['a', 'b', 'c']);
  const b2 = makeCore('b', s2);
  b2.step(vote('a', 2, 1, 1));
  drain(b2, s2);
  const b2again = makeCore('b', s2);
  t.equal(b2again.status().vote, 'a');
  b2again.step(vote('c', 2, 5, 1));
  const m = drain(b2again, s2).find((x) => x.type === 'voteResp');
  t.ok(m?.type === 'voteResp' && m.reject, 'after a restart, still no second vote in term 2');
  t.end();
});

t.test('a follower acknowledges appended entries only after writing them', (t) => {
  const s = MemoryLogStorage.bootstrap(['a', 'b', 'c']);
  const b = makeCore('b', s);
  b.step({ type: 'app', from: 'a', to: 'b', term: 2, index: 1, logTerm: 1, entries: [ent(2, 2), ent(3, 2)], commit: 1 });
  const rd = b.ready();
  t.same(rd.entries.map((e) => e.index), [2, 3]);
  t.equal(rd.messages.filter((m) => m.type === 'appResp').length, 0);
  const ack = rd.messagesAfterPersist.find((m) => m.type === 'appResp');
  t.ok(ack?.type === 'appResp' && !ack.reject && ack.index === 3);
  persist(s, rd);
  b.advance(rd);
  // A commit-only change needs no fsync.
  b.step({ type: 'heartbeat', from: 'a', to: 'b', term: 2, commit: 3, readSeq: 0 });
  const rd2 = b.ready();
  t.same(rd2.hardState, { term: 2, vote: null, commit: 3 });
  t.notOk(rd2.mustSync);
  t.same(rd2.committedEntries.map((e) => e.index), [2, 3]);
  t.end();
});

t.test('a stale leader is answered with the newer term', (t) => {
  const s = MemoryLogStorage.bootstrap(['a', 'b', 'c']);
  s.setHardState({ term: 5, vote: null, commit: 1 });
  const b = makeCore('b', s);
  b.step({ type: 'heartbeat', from: 'a', to: 'b', term: 3, commit: 1, readSeq: 0 });
  const resp = drain(b, s).find((m) => m.type === 'appResp');
  t.equal(resp?.term, 5);
  t.equal(resp?.to, 'a');
  t.end();
});

t.test('a leader commits an entry of an older term only through one of its own', (t) => {
  // a holds an entry of term 2 that never committed; it becomes leader in term 3.
  const s = MemoryLogStorage.bootstrap(['a', 'b', 'c']);
  s.append([ent(2, 2)]);
  s.setHardState({ term: 2, vote: 'a', commit: 1 });
  const a = makeCore('a', s, { preVote: false });
  a.campaign();
  drain(a, s);
  a.step({ type: 'voteResp', from: 'b', to: 'a', term: 3, reject: false });
  t.equal(a.role, 'leader');
  drain(a, s);
  t.equal(a.lastIndex(), 3, 'the no-op of term 3 is at 3');
  // b acknowledges the old entry: a quorum holds it, but it is of term 2.
  a.step({ type: 'appResp', from: 'b', to: 'a', term: 3, index: 2, reject: false, rejectHint: 0, logTerm: 0 });
  drain(a, s);
  t.equal(a.commitIndex, 1, 'not committed by counting replicas');
  a.step({ type: 'appResp', from: 'b', to: 'a', term: 3, index: 3, reject: false, rejectHint: 0, logTerm: 0 });
  drain(a, s);
  t.equal(a.commitIndex, 3, 'committed with the no-op');
  t.end();
});

t.test('a leader counts its own copy only once it is durable', (t) => {
  const s = MemoryLogStorage.bootstrap(['a']);
  const a = makeCore('a', s);
  a.campaign();
  t.equal(a.role, 'leader', 'a single voter wins on its own vote');
  drain(a, s);
  const id = a.propose(new Uint8Array([1]));
  t.equal(a.commitIndex, id.index - 1);
  const rd = a.ready();
  t.same(rd.entries.map((e) => e.index), [id.index]);
  t.same(rd.committedEntries, [], 'not committed before the write');
  persist(s, rd);
  a.advance(rd);
  t.equal(a.commitIndex, id.index, 'committed after advance()');
  t.same(a.ready().committedEntries.map((e) => e.index), [id.index]);
  t.end();
});

t.test('Ready protocol', (t) => {
  const s = MemoryLogStorage.bootstrap(['a']);
  const a = makeCore('a', s);
  a.campaign();
  const rd = a.ready();
  t.notOk(a.hasReady(), 'nothing more while a Ready is out');
  t.throws(() => a.ready(), /advance/);
  t.throws(() => a.advance({ ...rd }), /outstanding/);
  persist(s, rd);
  a.advance(rd);
  t.ok(a.hasReady(), 'the commit of the no-op');
  t.end();
});

t.test('a follower installs a snapshot from the leader', (t) => {
  const s = new MemoryLogStorage();
  const c = makeCore('c', s);
  const snapshot = { meta: { index: 10, term: 2, conf: { voters: ['a', 'b', 'c'], learners: [] } }, data: new Uint8Array([42]) };
  c.step({ type: 'snap', from: 'a', to: 'c', term: 2, snapshot });
  const rd = c.ready();
  t.equal(rd.snapshot?.meta.index, 10);
  const ack = rd.messagesAfterPersist.find((m) => m.type === 'appResp');
  t.ok(ack?.type === 'appResp' && ack.index === 10, 'acknowledged after the write');
  persist(s, rd);
  c.advance(rd);
  t.equal(c.appliedIndex, 10);
  t.same(c.confState().voters, ['a', 'b', 'c']);
  // A stale copy of the same snapshot changes nothing.
  c.step({ type: 'snap', from: 'a', to: 'c', term: 2, snapshot });
  t.equal(drain(c, s).filter((m) => m.type === 'appResp').length, 1);
  t.end();
});

t.test('errors carry what the caller needs', (t) => {
  const s = MemoryLogStorage.bootstrap(['a', 'b', 'c']);
  const b = makeCore('b', s);
  b.step({ type: 'heartbeat', from: 'a', to: 'b', term: 2, commit: 1, readSeq: 0 });
  try {
    b.propose(new Uint8Array(1));
    t.fail('accepted');
  } catch (e) {
    t.ok(e instanceof NotLeaderError);
    t.equal((e as NotLeaderError).leader, 'a');
    t.match((e as Error).message, /the leader is a/);
  }
  const one = MemoryLogStorage.bootstrap(['x']);
  const x = makeCore('x', one, { maxUncommittedEntriesSize: 10 });
  x.campaign();
  x.propose(new Uint8Array(8));
  t.throws(() => x.propose(new Uint8Array(8)), ProposalDroppedError, 'over the uncommitted limit');
  t.end();
});

t.test('configuration is validated', (t) => {
  const s = new MemoryLogStorage();
  t.throws(() => makeCore('a', s, { electionTick: 3, heartbeatTick: 3 }), /heartbeatTick/);
  t.throws(() => makeCore('', s), /id/);
  t.throws(() => makeCore('a', s, { maxInflightMsgs: 0 }), /maxInflightMsgs/);
  const bad = MemoryLogStorage.bootstrap(['a']);
  bad.setHardState({ term: 1, vote: null, commit: 9 });
  t.throws(() => makeCore('a', bad), /commit 9/, 'a commit past the log is refused');
  t.end();
});
