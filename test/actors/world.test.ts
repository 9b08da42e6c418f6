import t from 'tap';
import type { DomainEvent } from '../../src/events/catalog.js';
import { encodeBatch, encodeBatchRaw } from '../../src/events/codec.js';
import { encodeCanonical } from '../../src/events/canonical.js';
import { World } from '../../src/actors/world.js';
import { Leader, ev0, T0 } from './helpers.js';

const stamp = (type: string, agg: string, data: unknown, v = 1): DomainEvent =>
  ({ type, v, agg, at: T0, cause: { system: 'test' }, data }) as DomainEvent;

t.test('a batch applies all or nothing', (t) => {
  const L = new Leader(new World());
  const { shards } = L.cluster(1);
  const w = L.world;
  const nodes = w.nodesOf(shards[0]!);
  const before = { digest: w.digest(), seq: w.seq, head: w.head, view: JSON.stringify(w.view()) };
  const batch = [
    stamp('node.health_changed', `node/${nodes[1]}`, { health: 'dead', evidence: ev0 }),
    stamp('node.status_changed', `node/${nodes[2]}`, { status: 'inactive' }),
    stamp('node.removed', `node/${nodes[0]}`, {}), // the primary: refused
  ];
  const r = w.applyEntry(++L.index, encodeBatch(batch));
  t.match(r, { ok: false, code: 'refused', pos: 2, reason: /is the primary of shard/ });
  t.equal(w.applied, L.index, 'the entry is consumed');
  t.equal(w.seq, before.seq, 'no event committed');
  t.equal(w.head, before.head, 'the chain did not move');
  t.equal(w.node(nodes[1]!)!.health, 'alive', 'the first event was undone');
  t.equal(w.node(nodes[2]!)!.status, 'active', 'the second too');
  const after = World.restore(w.snapshot());
  t.equal(JSON.stringify(w.view()).replace(/"applied":\d+/, ''), before.view.replace(/"applied":\d+/, ''));
  t.equal(after.digest(), w.digest());
  // The same events without the bad one apply.
  t.match(w.applyEntry(++L.index, encodeBatch(batch.slice(0, 2))), { ok: true });
  t.equal(w.seq, before.seq + 2);
  t.end();
});

t.test('batch-level invariants: one source, only the primary writable', (t) => {
  const L = new Leader(new World());
  const { shards } = L.cluster(1);
  const w = L.world;
  const [p, r1] = w.nodesOf(shards[0]!);
  const digest = w.digest();
  const apply = (events: DomainEvent[]) => w.applyEntry(++L.index, encodeBatch(events));
  t.match(apply([stamp('node.role_changed', `node/${r1}`, { role: 'source', source: null })]), {
    ok: false,
    pos: -1,
    reason: new RegExp(`node/${r1} is a source but shard/${shards[0]}'s primary is ${p}`),
  });
  t.match(apply([stamp('node.access_changed', `node/${r1}`, { access: 'writable' })]), { ok: false, reason: /replica: only the primary may be writable/ });
  // A primary change outside a failover task is refused.
  t.match(apply([stamp('shard.primary_changed', `shard/${shards[0]}`, { node: r1, prev: p, term: 2 }, 2)]), {
    ok: false,
    reason: /changes only in a failover or switchover task/,
  });
  // A stale `prev` is refused (optimistic concurrency between proposals).
  t.match(apply([stamp('shard.primary_changed', `shard/${shards[0]}`, { node: r1, prev: r1, term: 2 }, 2)]), { ok: false, reason: /primary is/ });
  t.equal(w.digest().length, 64);
  t.equal(World.restore(w.snapshot()).view().nodes.length, 3);
  t.not(w.digest(), digest, 'the applied index moved, so the digest moved');
  t.same(World.restore(w.snapshot()).view(), w.view());
  t.end();
});

t.test('malformed entries are refused deterministically; indexes must grow', (t) => {
  const w = new World();
  t.match(w.applyEntry(1, Buffer.from('garbage')), { ok: false, code: 'malformed' });
  t.match(w.applyEntry(2, encodeBatchRaw([encodeCanonical({ type: 'node.nope', v: 1, agg: 'node/1', at: 1, cause: { system: 'x' }, data: {} })])), {
    ok: false,
    code: 'malformed',
    pos: 0,
    reason: /unknown event type/,
  });
  t.equal(w.applied, 2);
  t.throws(() => w.applyEntry(2, Buffer.from('x')), /not after the applied index/);
  w.skip(3);
  t.equal(w.applied, 3);
  t.match(w.applyBatch(4, []), { ok: false, reason: /empty batch/ });
  t.same(w.applyEntry(5, new Uint8Array(0)), { ok: true, index: 5, committed: [] }, 'a no-op entry');
  t.equal(w.applied, 5);
  t.equal(w.seq, 0);
  t.end();
});

t.test('ids only grow; names and endpoints are unique; references must exist', (t) => {
  const L = new Leader(new World());
  const { cluster, shards } = L.cluster(1);
  const w = L.world;
  const apply = (e: DomainEvent) => w.applyEntry(++L.index, encodeBatch([e]));
  const next = w.next;
  t.match(apply(stamp('shard.added', `shard/${next.shard - 1}`, { cluster, name: 'x', syncNum: 1 })), { ok: false, reason: /already used/ });
  t.match(apply(stamp('shard.added', `shard/${next.shard}`, { cluster, name: 'shard_1', syncNum: 1 })), { ok: false, reason: /already has a shard named shard_1/ });
  t.match(apply(stamp('shard.added', `shard/${next.shard}`, { cluster: 99, name: 'x', syncNum: 1 })), { ok: false, reason: /cluster\/99 does not exist/ });
  const node = { cluster, shard: shards[0], hostaddr: '10.0.0.1', port: 57000, syncState: 'fsync', masterPriority: 1, innodbBufferPoolMB: 0 };
  t.match(apply(stamp('node.added', `node/${next.node}`, node)), { ok: false, reason: /10\.0\.0\.1:57000 is already used by node\// });
  t.match(apply(stamp('node.added', `node/${next.node}`, { ...node, port: 60000 })), { ok: false, reason: /outside machine 10\.0\.0\.1's storage port range/ });
  t.match(apply(stamp('node.added', `node/${next.node}`, { ...node, hostaddr: '10.0.0.99' })), { ok: false, reason: /not registered for the storage role/ });
  t.match(apply(stamp('node.added', `node/${next.node + 5}`, { ...node, port: 57100 })), { ok: true }, 'gaps are allowed, the leader decides');
  t.equal(w.next.node, next.node + 6);
  t.match(apply(stamp('node.health_changed', 'node/9999', { health: 'alive', evidence: ev0 })), { ok: false, reason: /node\/9999 does not exist/ });
  t.match(apply(stamp('machine.removed', 'machine/10.0.0.1', { role: 'storage' })), { ok: false, reason: /still runs 2 storage instance/ });
  t.end();
});

t.test('jobs: locks, one ending, parents', (t) => {
  const L = new Leader(new World());
  const { cluster } = L.cluster(1);
  const w = L.world;
  const apply = (e: DomainEvent) => w.applyEntry(++L.index, encodeBatch([e]));
  const job = (id: number, lock: string | null, parent: number | null = null) =>
    stamp('job.created', `job/${id}`, { jobType: 'add_shards', request: {}, cluster, parent, lock });
  const j1 = w.next.job;
  t.match(apply(job(j1, `cluster/${cluster}`)), { ok: true });
  t.equal(w.lockHolder(`cluster/${cluster}`), j1);
  t.equal(w.cluster(cluster)!.lockedBy, j1);
  t.match(apply(job(j1 + 1, `cluster/${cluster}`)), { ok: false, reason: new RegExp(`locked by job/${j1}`) });
  t.match(apply(job(j1 + 1, null, j1)), { ok: true }, 'a child runs under the parent lock');
  t.match(apply(job(j1 + 2, 'not a lock')), { ok: false, reason: /not an aggregate id/ });
  t.match(apply(stamp('job.step_started', `job/${j1}`, { step: 'install', index: 0, total: 2 })), { ok: true });
  t.equal(w.job(j1)!.status, 'ongoing');
  t.match(apply(stamp('job.step_finished', `job/${j1}`, { step: 'other', ok: true, done: 1, total: 2, info: '' })), { ok: false, reason: /running step is install/ });
  t.match(apply(stamp('job.done', `job/${j1}`, { result: {} })), { ok: false, reason: /not allowed while job\/\d+ is \{ongoing:in_step\}/ });
  t.match(apply(stamp('job.step_finished', `job/${j1}`, { step: 'install', ok: true, done: 1, total: 2, info: '' })), { ok: true });
  t.match(apply(stamp('job.done', `job/${j1}`, { result: { ok: 1 } })), { ok: true });
  t.equal(w.job(j1)!.status, 'done');
  t.equal(w.lockHolder(`cluster/${cluster}`), null, 'the lock is released');
  t.match(apply(stamp('job.failed', `job/${j1}`, { code: 1, info: 'x', result: {} })), { ok: false, reason: /not allowed while job\/\d+ is done/ }, 'exactly once');
  t.match(apply(job(j1 + 3, null, j1)), { ok: false, reason: /has ended/ });
  t.same(w.activeJobs(), [j1 + 1]);
  const restored = World.restore(w.snapshot());
  t.same(restored.activeJobs(), [j1 + 1]);
  t.equal(restored.lockHolder(`cluster/${cluster}`), null);
  t.end();
});

t.test('managers: terms only grow; the leader shows as source', (t) => {
  const L = new Leader(new World());
  L.must({ kind: 'manager.add', id: 'm1', host: '10.9.0.1', raftPort: 8110, httpPort: 8010 });
  L.must({ kind: 'manager.add', id: 'm2', host: '10.9.0.2', raftPort: 8110, httpPort: 8010 });
  L.must({ kind: 'manager.elect', id: 'm2', term: 3 });
  t.same(L.world.leader, { member: 'm2', term: 3 });
  t.equal(L.world.manager('m2')!.memberState, 'source');
  t.equal(L.world.manager('m1')!.memberState, 'replica');
  const stale = L.world.applyEntry(++L.index, encodeBatch([stamp('manager.leader_elected', 'manager/m1', { term: 3 })]));
  t.match(stale, { ok: false, reason: /not above the current term 3/ });
  L.must({ kind: 'manager.remove', id: 'm2' });
  t.equal(L.world.leader, null);
  t.end();
});

t.test('views redact secrets; reconcilers read them explicitly', (t) => {
  const L = new Leader(new World());
  const { cluster } = L.cluster(1);
  t.equal(L.world.cluster(cluster)!.compPassword, '[redacted]');
  t.notMatch(JSON.stringify(L.world.view()), /"pw"/);
  t.same(L.world.clusterSecret(cluster), { user: 'abc', password: 'pw' });
  t.end();
});
