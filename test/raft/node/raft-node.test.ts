import t from 'tap';
import {
  LeadershipLostError,
  NotLeaderError,
  type LeaderChange,
} from '../../../src/raft/node/index.js';
import { makeCluster, put, until } from './cluster.js';

const text = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString() : undefined);

for (const walSyncMode of ['inline', 'threadpool'] as const) {
void t.test(`three members elect a leader; proposals commit and apply everywhere (${walSyncMode} sync)`, async (t) => {
  const c = await makeCluster(t, ['a', 'b', 'c'], { walSyncMode });
  const leader = await c.waitLeader();
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => leader.node.propose(put(`k${i}`, `v${i}`))));
  const indexes = results.map((r) => r.index);
  t.same([...indexes].sort((x, y) => x - y), indexes, 'indexes follow proposal order');
  t.same(results[0]?.result, { created: true }, 'the state machine result comes back');
  const again = await leader.node.propose(put('k0', 'new'));
  t.same(again.result, { created: false });
  t.equal(again.term, leader.node.term);
  await until('all applied', () => [...c.members.values()].every((m) => m.node.applied >= again.index));
  for (const m of c.members.values()) {
    t.equal(m.sm.size, 50, `${m.id} has every key`);
    t.equal(text(m.sm.get('k0')), 'new');
    t.equal(text(m.sm.get('k49')), 'v49');
  }
  const mt = leader.node.metrics();
  t.ok(mt.proposalBatches < mt.proposals, `proposals were batched (${mt.proposals} in ${mt.proposalBatches})`);
  t.ok(mt.storage.batches > 0);
  // A steady stream of concurrent proposals: every one resolves with its own entry, in order.
  const stream = await Promise.all(Array.from({ length: 300 }, (_, i) => leader.node.propose(put(`s${i}`, `v${i}`))));
  t.same(stream.map((r) => r.index), stream.map((_, i) => (stream[0]?.index ?? 0) + i), 'consecutive indexes');
  await until('all applied', () => [...c.members.values()].every((m) => m.node.applied >= (stream[299]?.index ?? 0)));
  for (const m of c.members.values()) t.equal(text(m.sm.get('s299')), 'v299', `${m.id} applied the stream`);
});
}

void t.test('a follower refuses proposals at once, naming the leader', async (t) => {
  const c = await makeCluster(t, ['a', 'b', 'c']);
  const leader = await c.waitLeader();
  await leader.node.propose(put('x', '1'));
  const follower = [...c.members.values()].find((m) => m !== leader)!;
  await until('follower knows the leader', () => follower.node.leader === leader.id);
  const err = await follower.node.propose(put('y', '1')).catch((e: unknown) => e);
  t.ok(err instanceof NotLeaderError);
  t.equal((err as NotLeaderError).leader, leader.id);
  t.match((err as Error).message, `the leader is ${leader.id}`);
});

void t.test('readIndex on leader and follower sees every acknowledged write', async (t) => {
  const c = await makeCluster(t, ['a', 'b', 'c']);
  const leader = await c.waitLeader();
  const w = await leader.node.propose(put('r', 'v1'));
  for (const m of c.members.values()) {
    await until(`${m.id} knows the leader`, () => m.node.leader === leader.id);
    const idx = await m.node.readIndex();
    t.ok(idx >= w.index, `${m.id}: read index ${idx} >= write ${w.index}`);
    t.ok(m.node.applied >= idx);
    t.equal(text(m.sm.get('r')), 'v1', `${m.id} reads the write`);
  }
  const many = await Promise.all(Array.from({ length: 20 }, () => leader.node.readIndex()));
  t.equal(many.length, 20, 'concurrent reads share rounds');
});

void t.test('the leader stops: a new one is elected, announced with its term, and the old one catches up', async (t) => {
  const c = await makeCluster(t, ['a', 'b', 'c']);
  const first = await c.waitLeader();
  for (let i = 0; i < 20; i++) await first.node.propose(put(`before${i}`, 'x'));
  const changes: Array<LeaderChange & { at: string }> = [];
  for (const m of c.members.values()) if (m !== first) m.node.on('leaderChange', (ch) => changes.push({ ...ch, at: m.id }));
  const oldTerm = first.node.term;
  await c.stop(first.id);
  const second = await c.waitLeader(8000, first.id);
  t.not(second.id, first.id);
  t.ok(second.node.term > oldTerm, 'a higher term');
  t.ok(changes.some((ch) => ch.at === second.id && ch.isLeader && ch.term === second.node.term), 'leaderChange carries the term');
  for (let i = 0; i < 20; i++) await second.node.propose(put(`after${i}`, 'y'));
  const back = await c.start(first.id);
  await until('restarted member catches up', () => back.node.applied >= second.node.applied && back.sm.size === 40);
  t.equal(text(back.sm.get('before3')), 'x');
  t.equal(text(back.sm.get('after19')), 'y');
  t.equal(back.node.leader, second.id);
});

void t.test('a member far behind a compacted log catches up by snapshot', async (t) => {
  const c = await makeCluster(t, ['a', 'b', 'c'], { snapshotEntries: 40, retainEntries: 10, segmentBytes: 4096 });
  const leader = await c.waitLeader();
  const lagging = [...c.members.values()].find((m) => m !== leader)!;
  await c.stop(lagging.id);
  for (let i = 0; i < 200; i++) await leader.node.propose(put(`k${i}`, `v${i}`));
  const lm = leader.node.metrics();
  t.ok(lm.snapshots >= 3, `leader took snapshots (${lm.snapshots})`);
  t.ok(leader.node.status().firstIndex > 100, `leader compacted its log (first index ${leader.node.status().firstIndex})`);
  const back = await c.start(lagging.id);
  await until('snapshot installed and caught up', () => back.sm.size === 200 && back.node.applied >= leader.node.applied);
  t.equal(text(back.sm.get('k150')), 'v150');
  // And it survives a restart from its own snapshot + WAL.
  await c.stop(lagging.id);
  const again = await c.start(lagging.id);
  t.ok(again.sm.size >= 150, `most state restored from the local snapshot at once (${again.sm.size})`);
  await until('the rest re-applied from the WAL', () => again.sm.size === 200);
});

void t.test('leadership transfer moves the leader on request', async (t) => {
  const c = await makeCluster(t, ['a', 'b', 'c']);
  const leader = await c.waitLeader();
  await leader.node.propose(put('t', '1'));
  const target = [...c.members.values()].find((m) => m !== leader)!;
  await leader.node.transferLeadership(target.id);
  await until('target leads', () => target.node.isLeader);
  t.notOk(leader.node.isLeader);
  const r = await target.node.propose(put('t', '2'));
  t.ok(r.index > 0);
});

void t.test('membership: add a learner, promote it, remove a voter', async (t) => {
  const c = await makeCluster(t, ['a', 'b', 'c']);
  const leader = await c.waitLeader();
  for (let i = 0; i < 10; i++) await leader.node.propose(put(`m${i}`, 'v'));
  // A joining member starts empty (no bootstrap) and learns everything from the leader.
  const d = await c.start('d', { bootstrap: [] });
  await leader.node.proposeConfChange({ type: 'addLearner', member: 'd' });
  await until('learner catches up', () => d.sm.size === 10, 8000);
  await until('promotion accepted', () => {
    void leader.node
      .proposeConfChange({ type: 'addVoter', member: 'd' })
      .then(() => undefined, () => undefined);
    return leader.node.status().conf.voters.includes('d');
  }, 8000);
  t.same(leader.node.status().conf.voters, ['a', 'b', 'c', 'd']);
  const victim = [...c.members.values()].find((m) => m !== leader && m.id !== 'd')!;
  await leader.node.proposeConfChange({ type: 'removeMember', member: victim.id });
  t.notOk(leader.node.status().conf.voters.includes(victim.id));
  await c.stop(victim.id);
  const r = await leader.node.propose(put('after-remove', 'ok'));
  await until('d applies', () => d.node.applied >= r.index);
  t.equal(text(d.sm.get('after-remove')), 'ok');
});

void t.test('a leader cut off from its quorum fails pending proposals fast', async (t) => {
  const c = await makeCluster(t, ['a', 'b', 'c']);
  const leader = await c.waitLeader();
  await leader.node.propose(put('q', '1'));
  for (const m of [...c.members.values()]) if (m !== leader) await c.stop(m.id);
  const started = Date.now();
  const err = await leader.node.propose(put('q', '2')).catch((e: unknown) => e);
  t.ok(err instanceof LeadershipLostError, `rejected with ${String(err)}`);
  t.ok(err instanceof NotLeaderError, 'a LeadershipLostError is a NotLeaderError');
  t.equal((err as LeadershipLostError).outcomeUnknown, true);
  t.ok(Date.now() - started < 2000, 'within about an election timeout (check-quorum)');
  const err2 = await leader.node.propose(put('q', '3')).catch((e: unknown) => e);
  t.ok(err2 instanceof NotLeaderError);
});
