import t from 'tap';
import { encodeBatch } from '../../src/events/codec.js';
import { IdAllocator } from '../../src/actors/commands/index.js';
import { checkCommand } from '../helpers/job-catalog.js';
import { World } from '../../src/actors/world.js';
import { Leader, ev0, T0, USER } from './helpers.js';

t.test('create_cluster: validated in full, the cluster exists from acceptance, no password in the job', (t) => {
  const L = new Leader(new World());
  L.machines(3);
  L.machines(1, 'computer');
  const req = { ha_mode: 'rbr', shards: '2', nodes: '3', comps: '1', max_storage_size: '20', max_connections: '6', cpu_cores: '8', innodb_size: '1', dbcfg: '1', computer_password: 'Secr3t' };
  t.match(L.check({ kind: 'job.start', jobType: 'create_cluster', request: { ...req, ha_mode: 'paxos' } }), {
    ok: false,
    code: 'invalid_argument',
    field: 'paras.ha_mode',
    errno: 70071,
  });
  // mgr and no_rep are the original's modes, not built on MariaDB: refused with the reason, never built as rbr.
  t.strictSame(L.check({ kind: 'job.start', jobType: 'create_cluster', request: { ...req, ha_mode: 'mgr' } }), {
    ok: false,
    code: 'invalid_argument',
    reason: 'mgr is not supported: MySQL group replication (mgr) does not exist in MariaDB, the storage nodes here; use rbr',
    field: 'paras.ha_mode',
    errno: 70071,
  });
  t.match(L.check({ kind: 'job.start', jobType: 'create_cluster', request: { ...req, ha_mode: 'no_rep' } }), {
    ok: false,
    code: 'invalid_argument',
    reason: /^no_rep is not supported: shards without replication \(no_rep\) are not built/,
    field: 'paras.ha_mode',
    errno: 70071,
  });
  t.equal(L.world.count('cluster'), 0, 'nothing was created');
  t.match(L.check({ kind: 'job.start', jobType: 'create_cluster', request: { ...req, shards: '0' } }), { ok: false, field: 'paras.shards', errno: 70073 });
  t.match(L.check({ kind: 'job.start', jobType: 'create_cluster', request: { ...req, nodes: 'three' } }), { ok: false, field: 'paras.nodes', errno: 70074 });
  t.match(L.check({ kind: 'job.start', jobType: 'create_cluster', request: { ...req, storage_iplists: ['10.0.0.9'] } }), {
    ok: false,
    code: 'not_found',
    field: 'paras.storage_iplists[0]',
    errno: 70181,
  });
  t.match(L.check({ kind: 'job.start', jobType: 'rename_cluster', request: {} }), { ok: false, errno: 70001, reason: /Unrecongnized job type/ });
  // The same limits as the Emit edge (para-limits.ts): the metadata column comp_nodes.passwd holds 16.
  t.match(L.check({ kind: 'job.start', jobType: 'create_cluster', request: { ...req, computer_password: 'p'.repeat(17) } }), {
    ok: false,
    field: 'paras.computer_password',
    reason: 'must be at most 16 characters, got 17',
  });
  t.match(L.check({ kind: 'job.start', jobType: 'create_cluster', request: { ...req, cpu_cores: '4097' } }), { ok: false, field: 'paras.cpu_cores', reason: 'must be from 0 to 4096, got 4097' });
  t.match(L.check({ kind: 'job.start', jobType: 'create_cluster', request: { ...req, innodb_size: 1_048_577 } }), { ok: false, field: 'paras.innodb_size', errno: 70082 });
  for (const jobType of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    t.match(L.check({ kind: 'job.start', jobType, request: {} }), { ok: false, field: 'job_type', errno: 70001 }, `${jobType} is no job type`);
  }
  // A request's own `__proto__` is data: it does not lend the request its fields.
  t.match(L.check({ kind: 'job.start', jobType: 'delete_cluster', request: JSON.parse('{"__proto__":{"cluster_id":"1"}}') as Record<string, unknown> }), { ok: false, errno: 70096 });
  const r = L.must({ kind: 'job.start', jobType: 'create_cluster', request: req });
  t.same(r.committed.map((c) => c.event.type), ['cluster.created', 'job.created']);
  const job = r.committed[1]!.event;
  t.notMatch(JSON.stringify(job), /Secr3t/);
  t.match(job.data, { jobType: 'create_cluster', cluster: 1, lock: 'cluster/1', request: { dbcfg: 1, shards: 2, cluster_name: /^cluster_\d+_000001$/ } });
  t.equal(L.world.clusterSecret(1)!.password, 'Secr3t');
  t.equal(L.world.cluster(1)!.status, 'creating');
  t.end();
});

t.test('the refusals a caller must get before anything reaches the log', (t) => {
  const L = new Leader(new World());
  const a = L.cluster(1);
  const b = L.cluster(2);
  const w = L.world;
  const before = w.digest();
  // Unknown cluster.
  t.match(L.check({ kind: 'job.start', jobType: 'delete_cluster', request: { cluster_id: '99' } }), { ok: false, code: 'not_found', field: 'paras.cluster_id', errno: 70098 });
  t.match(L.check({ kind: 'job.start', jobType: 'delete_cluster', request: { cluster_name: 'nope' } }), { ok: false, errno: 70097 });
  t.match(L.check({ kind: 'job.start', jobType: 'delete_cluster', request: {} }), { ok: false, errno: 70096 });
  t.match(L.check({ kind: 'shard.add', cluster: 99, nodes: [{ hostaddr: '10.0.0.1', port: 57900 }] }), { ok: false, code: 'not_found' });
  // Deleting the last shard.
  t.match(L.check({ kind: 'job.start', jobType: 'delete_shard', request: { cluster_id: String(a.cluster), shard_id: String(a.shards[0]) } }), {
    ok: false,
    code: 'last_one',
    errno: 70174,
  });
  t.match(L.check({ kind: 'shard.delete', shard: a.shards[0]! }), { ok: false, code: 'last_one' });
  // A shard of another cluster.
  t.match(L.check({ kind: 'job.start', jobType: 'delete_shard', request: { cluster_id: String(a.cluster), shard_id: String(b.shards[0]) } }), {
    ok: false,
    field: 'paras.shard_id',
    reason: /is not in cluster/,
  });
  // Switching to a node of another shard.
  const pa = w.node(w.primaryOf(a.shards[0]!)!)!;
  const other = w.node(w.nodesOf(b.shards[0]!)[1]!)!;
  t.match(
    L.check({
      kind: 'job.start',
      jobType: 'manual_switch',
      request: { cluster_id: String(a.cluster), shard_id: String(a.shards[0]), master_hostaddr: `${pa.hostaddr}_${pa.port}`, assign_hostaddr: `${other.hostaddr}_${other.port}` },
    }),
    { ok: false, field: 'paras.assign_hostaddr', reason: /is not a node of shard/ },
  );
  t.match(L.check({ kind: 'failover.start', shard: a.shards[0]!, failoverKind: 'switchover', target: other.id, term: 1, evidence: ev0 }), {
    ok: false,
    code: 'invalid_argument',
    reason: /is not in shard/,
  });
  // master_hostaddr that is not the primary.
  const ra = w.node(w.nodesOf(a.shards[0]!)[1]!)!;
  t.match(
    L.check({ kind: 'job.start', jobType: 'manual_switch', request: { cluster_id: String(a.cluster), shard_id: String(a.shards[0]), master_hostaddr: `${ra.hostaddr}_${ra.port}` } }),
    { ok: false, errno: 70033, reason: /not the primary/ },
  );
  // A second conflicting job on the same cluster.
  L.must({ kind: 'job.start', jobType: 'add_shards', request: { cluster_id: String(b.cluster), shards: '1', nodes: '3' } });
  t.match(L.check({ kind: 'job.start', jobType: 'add_comps', request: { cluster_id: String(b.cluster), comps: '1' } }), {
    ok: false,
    code: 'busy',
    reason: /cluster\/\d+ is busy with job \d+ \(add_shards\)/,
  });
  t.match(L.check({ kind: 'job.start', jobType: 'add_comps', request: { cluster_id: String(a.cluster), comps: '1' } }), { ok: true }, 'another cluster is free');
  t.match(
    L.check({ kind: 'job.start', jobType: 'cluster_restore', request: { src_cluster_id: String(b.cluster), dst_cluster_id: String(a.cluster) } }),
    { ok: false, code: 'refused', errno: 70001, reason: /cluster_restore is not supported by this cluster_mgr: backup and restore are not available in this version/ },
    'a type refused for now says why',
  );
  // Deleting the primary, or the last node / compute node.
  t.match(L.check({ kind: 'node.delete', node: pa.id }), { ok: false, code: 'invalid_state', errno: 70172 });
  t.match(
    L.check({ kind: 'job.start', jobType: 'delete_node', request: { cluster_id: String(a.cluster), shard_id: String(a.shards[0]), hostaddr: pa.hostaddr, port: String(pa.port) } }),
    { ok: false, errno: 70172 },
  );
  t.match(L.check({ kind: 'comp.delete', comp: w.compsOf(a.cluster)[0]! }), { ok: false, code: 'last_one', errno: 70157 });
  // Endpoint and machine checks.
  t.match(L.check({ kind: 'node.add', shard: a.shards[0]!, hostaddr: pa.hostaddr, port: pa.port }), { ok: false, code: 'conflict', reason: /already used/ });
  t.match(L.check({ kind: 'node.add', shard: a.shards[0]!, hostaddr: '10.7.7.7', port: 57000 }), { ok: false, code: 'not_found' });
  t.match(L.check({ kind: 'node.add', shard: a.shards[0]!, hostaddr: pa.hostaddr, port: 1000 }), { ok: false, reason: /outside/ });
  t.match(L.check({ kind: 'machine.delete', hostaddr: pa.hostaddr, role: 'storage' }), { ok: false, errno: 70064 });
  // Observers propose changes only.
  t.match(L.check({ kind: 'node.set_health', node: pa.id, health: 'alive', evidence: ev0 }), { ok: false, code: 'no_change' });
  t.match(L.check({ kind: 'node.set_access', node: ra.id, access: 'writable' }), { ok: false, code: 'invalid_state', reason: /must stay read-only/ });
  // None of it reached the world (only the add_shards job did).
  t.not(w.digest(), before);
  t.equal(w.activeJobs().length, 1);
  t.end();
});

t.test('a failover: start, steps, fence, finish; invariants hold; the old primary rejoins', (t) => {
  const L = new Leader(new World());
  const { shards } = L.cluster(1);
  const shard = shards[0]!;
  const w = L.world;
  const [old, r1, r2] = w.nodesOf(shard) as [number, number, number];
  L.must({ kind: 'node.set_health', node: old, health: 'dead', evidence: { observer: 'm1', summary: '3 probes failed', facts: { errno: 2003 } } }, { system: 'probe' });
  L.must({ kind: 'shard.set_no_switch', shard, until: L.at + 60_000, reason: 'upgrade' });
  t.match(L.check({ kind: 'failover.start', shard, failoverKind: 'failover', term: 2, evidence: ev0 }), { ok: false, code: 'no_switch', errno: 70014 });
  L.must({ kind: 'shard.clear_no_switch', shard });
  const started = L.must({ kind: 'failover.start', shard, failoverKind: 'failover', term: 2, evidence: ev0 }, { system: 'ha' });
  const task = (started.committed[0]!.event.data as { task: number }).task;
  t.equal(w.shard(shard)!.ha, 'failing_over');
  t.match(L.check({ kind: 'failover.start', shard, failoverKind: 'failover', term: 2, evidence: ev0 }), { ok: false, code: 'busy' });
  t.match(L.check({ kind: 'job.start', jobType: 'manual_switch', request: { cluster_id: String(w.shard(shard)!.cluster), shard_id: String(shard), master_hostaddr: `${w.node(old)!.hostaddr}_${w.node(old)!.port}` } }), { ok: false, code: 'busy' });
  t.match(L.check({ kind: 'shard.delete', shard }), { ok: false }, 'a shard in failover is not deleted');
  L.must({ kind: 'failover.step', shard, task, step: 'elect', ok: true, info: 'max gtid', candidate: r1 });
  t.match(L.check({ kind: 'failover.step', shard, task: task + 1, step: 'drain', ok: true }), { ok: false, code: 'conflict' });
  L.must({ kind: 'node.fence', node: old, method: 'kill', task, evidence: ev0 });
  t.equal(w.node(old)!.access, 'read_only', 'fencing drops write access');
  t.equal(w.node(old)!.repair, 'fenced');
  t.match(L.check({ kind: 'failover.finish', shard, task, primary: old, term: 2 }), { ok: false, code: 'no_change' });
  const fin = L.must({ kind: 'failover.finish', shard, task, primary: r1, term: 2 });
  t.same(
    fin.committed.map((c) => `${c.event.type} ${c.event.agg}`),
    [
      `node.role_changed node/${old}`,
      `node.role_changed node/${r1}`,
      `shard.primary_changed shard/${shard}`,
      `node.access_changed node/${r1}`,
      `node.role_changed node/${r2}`,
      `shard.failover_finished shard/${shard}`,
    ],
  );
  const s = w.shard(shard)!;
  t.match(s, { primary: r1, ha: 'normal', task: null, last: { task, outcome: 'finished', primary: r1 }, primaryTerm: 2 });
  t.match(w.node(r1), { memberState: 'source', access: 'writable' });
  t.match(w.node(r2), { memberState: 'replica', source: r1 });
  t.match(w.node(old), { memberState: 'replica', source: r1, repair: 'fenced' });
  // The old primary comes back.
  t.match(L.check({ kind: 'node.rejoin', node: r2, method: 'change_master' }), { ok: false, code: 'no_change' });
  L.must({ kind: 'node.mark_needs_rebuild', node: old, reason: 'errant GTIDs', evidence: ev0 });
  t.same(w.shard(shard)!.needsRebuild, [old]);
  t.match(L.check({ kind: 'node.rejoin', node: old, method: 'change_master' }), { ok: false, reason: /needs a rebuild/ });
  L.must({ kind: 'node.rejoin', node: old, method: 'rebuild' });
  t.match(w.node(old), { repair: 'ok', source: r1, rejoin: { method: 'rebuild', source: r1 } });
  t.same(w.shard(shard)!.needsRebuild, []);
  t.end();
});

t.test('delete cascades and adoption', (t) => {
  const L = new Leader(new World());
  const a = L.cluster(2);
  const w = L.world;
  const del = L.must({ kind: 'cluster.delete', cluster: a.cluster });
  t.equal(del.committed.at(-1)!.event.type, 'cluster.deleted');
  t.equal(w.cluster(a.cluster), null);
  t.equal(w.count('node'), 0);
  t.equal(w.count('shard'), 0);
  t.same(w.usedPorts('10.0.0.1', 'storage'), []);
  t.equal(w.clusterByName('x'), null);

  const adopt = {
    kind: 'topology.adopt' as const,
    term: 5,
    machines: [{ hostaddr: '10.2.0.1', role: 'storage' as const, rackId: '1', datadir: '/d', logdir: '/l', walLogDir: '/w', totalMemMB: 1, totalCpuCores: 1 }],
    clusters: [
      {
        id: 40,
        name: 'cluster_legacy_000040',
        haMode: 'rbr' as const,
        compUser: 'abc',
        compPassword: 'legacy-pw',
        memo: { ha_mode: 'rbr' },
        shards: [
          {
            id: 70,
            name: 'shard_1',
            nodes: [
              { id: 200, hostaddr: '10.2.0.1', port: 57001, memberState: 'replica' as const, status: 'active' as const },
              { id: 201, hostaddr: '10.2.0.2', port: 57001, memberState: 'source' as const, status: 'active' as const },
            ],
          },
        ],
        comps: [{ id: 9, name: 'comp9', hostaddr: '10.3.0.1', port: 47001, status: 'active' as const }],
      },
    ],
  };
  const twoSources = structuredClone(adopt);
  twoSources.clusters[0]!.shards[0]!.nodes[0]!.memberState = 'source';
  t.match(L.check(twoSources), { ok: false, code: 'conflict', reason: /2 source nodes/ });
  L.must(adopt, { system: 'adopt' });
  t.match(w.cluster(40), { status: 'inuse', adopted: true, shards: [70], comps: [9] });
  t.match(w.shard(70), { primary: 201, status: 'inuse', primaryTerm: 5 });
  t.match(w.node(201), { memberState: 'source', access: 'writable', status: 'active' });
  t.match(w.node(200), { memberState: 'replica', source: 201, access: 'read_only' });
  t.ok(w.next.cluster > 40 && w.next.shard > 70 && w.next.node > 201 && w.next.comp > 9, 'counters move above adopted ids');
  t.match(L.check(adopt), { ok: false, code: 'already_exists' });
  t.equal(World.restore(w.snapshot()).digest(), w.digest());
  t.end();
});

t.test('ids: the leader reserves them across proposals that are not applied yet', (t) => {
  const L = new Leader(new World());
  L.machines(1);
  const base = { kind: 'cluster.create' as const, haMode: 'rbr' as const, maxStorageSizeGB: 1, maxConnections: 1, cpuCores: 1, innodbSizeMB: 1 };
  const ctx = { at: T0, cause: USER };
  // Without a shared allocator both get the same id: the second is refused when it applies.
  const a = checkCommand(L.world, { ...base, name: 'a' }, ctx);
  const b = checkCommand(L.world, { ...base, name: 'b' }, ctx);
  t.ok(a.ok && b.ok);
  if (!a.ok || !b.ok) {
    t.end();
    return;
  }
  t.equal(a.events[0]!.agg, b.events[0]!.agg);
  t.match(L.world.applyEntry(++L.index, encodeBatch(a.events)), { ok: true });
  t.match(L.world.applyEntry(++L.index, encodeBatch(b.events)), { ok: false, reason: /already used/ });
  // With one, they do not collide.
  const ids = new IdAllocator(L.world);
  const c = checkCommand(L.world, { ...base, name: 'c' }, { ...ctx, ids });
  const d = checkCommand(L.world, { ...base, name: 'd' }, { ...ctx, ids });
  if (!c.ok || !d.ok) {
    t.fail('refused');
    t.end();
    return;
  }
  t.not(c.events[0]!.agg, d.events[0]!.agg);
  t.match(L.world.applyEntry(++L.index, encodeBatch(c.events)), { ok: true });
  t.match(L.world.applyEntry(++L.index, encodeBatch(d.events)), { ok: true });
  t.end();
});

t.test('job steps and the single ending', (t) => {
  const L = new Leader(new World());
  const { cluster } = L.cluster(1);
  const r = L.must({ kind: 'job.start', jobType: 'add_comps', request: { cluster_id: String(cluster), comps: '1', computer_password: 'x' } });
  const job = Number(r.committed[0]!.event.agg.slice(4));
  t.notMatch(JSON.stringify(r.committed[0]!.event), /computer_password/);
  t.match(L.check({ kind: 'job.step_finish', job, step: 'a', ok: true, done: 1, total: 1 }), { ok: false, code: 'invalid_state' });
  L.must({ kind: 'job.step_start', job, step: 'install', index: 0, total: 1 });
  t.match(L.check({ kind: 'job.step_start', job, step: 'again', index: 0, total: 1 }), { ok: false, reason: /running step install/ });
  t.match(L.check({ kind: 'job.finish', job }), { ok: false, reason: /still running step/ });
  L.must({ kind: 'job.step_finish', job, step: 'install', ok: true, done: 1, total: 1 });
  const child = L.must({ kind: 'job.start', jobType: 'internal_add_comps', request: { hosts: ['10.1.0.1'] }, parent: job }, { system: 'reconciler', job });
  t.match(child.committed[0]!.event.data, { parent: job, lock: null, cluster });
  L.must({ kind: 'job.fail', job, code: 70148, info: 'install failed' });
  t.match(L.world.job(job), { status: 'failed', errorCode: 70148, errorInfo: 'install failed', progress: { done: 1, total: 1 } });
  t.match(L.check({ kind: 'job.finish', job }), { ok: false, code: 'invalid_state', reason: /already ended/ });
  t.match(L.check({ kind: 'job.step_start', job: 999, step: 'x', index: 0, total: 1 }), { ok: false, code: 'not_found', errno: 70104 });
  t.end();
});
