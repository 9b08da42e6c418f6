// Installs that move on (issue 11): an instance whose port its agent cannot bind moves, through the
// actor layer, to the next free port of its machine while it is still `creating`; the job records the
// skipped port (its placements skip it, get_status shows it); placement skips the refused ports.
import t from 'tap';
import { World } from '../../src/actors/index.js';
import { place, STORAGE_STRIDE } from '../../src/jobs/shard-install.js';
import { placeComps } from '../../src/compute/index.js';
import { installMovingOn, MAX_PORT_MOVES, refusedSlots } from '../../src/jobs/port-moves.js';
import { JobError, type JobContext } from '../../src/jobs/engine.js';
import { AgentError } from '../../src/agent/client.js';
import { createLogger } from '../../src/log/logger.js';
import { jobAttachment } from '../../src/http/sync-answers.js';
import type { Cause } from '../../src/events/envelope.js';
import { Leader } from '../actors/helpers.js';

const REQ = { ha_mode: 'rbr', shards: '1', nodes: '2', comps: '1', max_storage_size: '20', max_connections: '6', cpu_cores: '8', innodb_size: '16', dbcfg: '0' };

/** Two storage machines and one computer machine, a create_cluster job, and its shard of two nodes (creating). */
function scene() {
  const L = new Leader(new World());
  L.machines(2);
  L.machines(1, 'computer');
  const r = L.must({ kind: 'job.start', jobType: 'create_cluster', request: REQ });
  const job = Number(r.committed[1]!.event.agg.slice(4));
  const cause: Cause = { system: 'cluster_mgr', job };
  // Moves happen inside the job's install step.
  L.must({ kind: 'job.step_start', job, step: 'install_storage', index: 0, total: 3 }, cause);
  L.must({ kind: 'shard.add', cluster: 1, name: 'shard_1', nodes: [{ hostaddr: '10.0.0.1', port: 57000 }, { hostaddr: '10.0.0.2', port: 57000 }] }, cause);
  L.must({ kind: 'comp.add', cluster: 1, hostaddr: '10.1.0.1', port: 47000 }, cause);
  const [n1, n2] = L.world.nodesOf(1) as [number, number];
  return { L, job, cause, n1, n2, comp: L.world.compsOf(1)[0]! };
}

t.test('node.move: a creating node takes another port; the job records the skipped one', (t) => {
  const { L, job, cause, n1 } = scene();
  const r = L.must({ kind: 'node.move', node: n1, port: 57004, job, reason: 'install_mysql failed: port 57000 cannot be bound' }, cause);
  t.same(r.committed.map((c) => c.event.type), ['job.port_skipped', 'node.moved'], 'the job learns first, then the node moves');
  t.equal(L.world.node(n1)!.port, 57004, 'the node is on its new port');
  t.equal(L.world.nodeAt('10.0.0.1', 57004), `node/${n1}`, 'the endpoint index follows');
  t.equal(L.world.nodeAt('10.0.0.1', 57000), null, 'the old port is free in the world');
  t.same(L.world.usedPorts('10.0.0.1', 'storage'), [57004]);
  const j = L.world.job(job)!;
  t.match(j.skippedPorts, [{ instance: `node/${n1}`, hostaddr: '10.0.0.1', port: 57000, reason: /cannot be bound/ }]);
  t.match(jobAttachment(j).skipped_ports, [{ instance: `node/${n1}`, hostaddr: '10.0.0.1', port: 57000 }], 'get_status shows it');
  t.same(refusedSlots(j), [{ hostaddr: '10.0.0.1', port: 57000 }]);
  // A restored world indexes the moved node alike (snapshots and replays agree).
  const back = World.restore(L.world.snapshot());
  t.equal(back.nodeAt('10.0.0.1', 57004), `node/${n1}`);
  t.same(back.view(), L.world.view());
  t.end();
});

t.test('node.move is refused when it cannot be right', (t) => {
  const { L, job, cause, n1, n2 } = scene();
  t.match(L.check({ kind: 'node.move', node: n1, port: 57000, job, reason: 'x' }, cause), { ok: false, code: 'no_change' });
  t.match(L.check({ kind: 'node.move', node: n1, port: 59000, job, reason: 'x' }, cause), { ok: false, code: 'invalid_argument', reason: /outside/ });
  L.must({ kind: 'node.move', node: n2, port: 57004, job, reason: 'x' }, cause);
  L.must({ kind: 'node.add', shard: 1, hostaddr: '10.0.0.2', port: 57008 }, cause);
  t.match(L.check({ kind: 'node.move', node: n2, port: 57008, job, reason: 'x' }, cause), { ok: false, code: 'conflict' }, 'a used port');
  t.match(L.check({ kind: 'node.move', node: n1, port: 57004, job: 999, reason: 'x' }, cause), { ok: false, field: 'job' }, 'no such job');
  L.must({ kind: 'node.set_status', node: n1, status: 'active' }, cause);
  t.match(L.check({ kind: 'node.move', node: n1, port: 57012, job, reason: 'x' }, cause), { ok: false, code: 'invalid_state', reason: /only an instance still being created/ }, 'an installed node stays');
  t.end();
});

t.test('comp.move moves a creating compute node', (t) => {
  const { L, job, cause, comp } = scene();
  L.must({ kind: 'comp.move', comp, port: 47003, job, reason: 'install_postgres: port in use' }, cause);
  t.equal(L.world.comp(comp)!.port, 47003);
  t.same(L.world.usedPorts('10.1.0.1', 'computer'), [47003]);
  t.match(L.world.job(job)!.skippedPorts, [{ instance: `comp/${comp}`, port: 47000 }]);
  L.must({ kind: 'comp.set_status', comp, status: 'active' }, cause);
  t.match(L.check({ kind: 'comp.move', comp, port: 47006, job, reason: 'x' }, cause), { ok: false, code: 'invalid_state' });
  t.end();
});

t.test('placement skips the ports the job was refused', (t) => {
  const { L } = scene();
  // 10.0.0.1 uses 57000 (a node); 57004 and 57012 were refused by its agent.
  const refused = [
    { hostaddr: '10.0.0.1', port: 57004 },
    { hostaddr: '10.0.0.1', port: 57012 },
  ];
  t.same(place(L.world, 'storage', ['10.0.0.1'], 3, STORAGE_STRIDE, refused), [
    { hostaddr: '10.0.0.1', port: 57008 },
    { hostaddr: '10.0.0.1', port: 57016 },
    { hostaddr: '10.0.0.1', port: 57020 },
  ]);
  t.same(place(L.world, 'storage', ['10.0.0.1'], 1, STORAGE_STRIDE), [{ hostaddr: '10.0.0.1', port: 57004 }], 'without them: the lowest free slot');
  t.same(placeComps(L.world, ['10.1.0.1'], 2, [{ hostaddr: '10.1.0.1', port: 47003 }]), [
    { hostaddr: '10.1.0.1', port: 47006 },
    { hostaddr: '10.1.0.1', port: 47009 },
  ]);
  t.end();
});

/** The JobContext parts installMovingOn uses, over a real world: exec checks and applies as the job. */
function jobCtx(L: Leader, job: number, cause: Cause): JobContext {
  return {
    get job() {
      return L.world.job(job)!;
    },
    world: L.world,
    log: createLogger({ level: 'silent' }),
    exec: (cmd: Parameters<JobContext['exec']>[0]) => {
      try {
        return Promise.resolve(L.must(cmd, cause));
      } catch (e) {
        return Promise.reject(new JobError(70499, (e as Error).message));
      }
    },
  } as unknown as JobContext;
}

const inUse = (port: number) =>
  new AgentError(`agent 10.0.0.1:5011: install_mysql failed: port ${port} cannot be bound`, 'failed', '10.0.0.1:5011', 'install_mysql', `port ${port} cannot be bound`, 'port_in_use');

function movableNode(L: Leader, id: number) {
  return {
    agg: `node/${id}` as const,
    at: () => L.world.node(id),
    nextPort: (host: string, taken: { hostaddr: string; port: number }[]) => place(L.world, 'storage', [host], 1, STORAGE_STRIDE, taken)?.[0]?.port ?? null,
  };
}

t.test('installMovingOn: each refused port is skipped, the install lands on the next free one', async (t) => {
  const { L, job, cause, n1 } = scene();
  const ctx = jobCtx(L, job, cause);
  const tried: number[] = [];
  const refuse = new Set([57000, 57004]);
  const r = await installMovingOn(ctx, movableNode(L, n1), 70146, (at) => {
    tried.push(at.port);
    return refuse.has(at.port) ? Promise.reject(inUse(at.port)) : Promise.resolve('installed');
  });
  t.equal(r, 'installed');
  t.same(tried, [57000, 57004, 57008], 'one port after another, a stride apart');
  t.equal(L.world.node(n1)!.port, 57008, 'the world has the node where it was installed');
  t.same(L.world.job(job)!.skippedPorts.map((s) => s.port), [57000, 57004]);
  // Another failure is the job's, not a move.
  const other = new AgentError('agent x: install_mysql failed: disk full', 'failed', 'x', 'install_mysql', 'disk full');
  const { L: L2, job: j2, cause: c2, n1: m1 } = scene();
  await t.rejects(installMovingOn(jobCtx(L2, j2, c2), movableNode(L2, m1), 70146, () => Promise.reject(other)), other);
  t.equal(L2.world.node(m1)!.port, 57000, 'and moves nothing');
});

t.test('installMovingOn: at most MAX_PORT_MOVES moves per instance, then the job fails naming the ports', async (t) => {
  const { L, job, cause, n1 } = scene();
  let calls = 0;
  const err = await installMovingOn(jobCtx(L, job, cause), movableNode(L, n1), 70146, (at) => {
    calls++;
    return Promise.reject(inUse(at.port));
  }).catch((e: unknown) => e);
  t.ok(err instanceof JobError, 'a JobError');
  t.equal((err as JobError).code, 70146, "with the job's install error number");
  t.match((err as JobError).info, /node\/\d+ on 10\.0\.0\.1: ports 57000,57004,.* could not be bound \(at most 8 moves per instance\)/);
  t.equal(calls, MAX_PORT_MOVES + 1, 'the first try and one per move');
  t.equal(L.world.job(job)!.skippedPorts.length, MAX_PORT_MOVES);
});

t.test('installMovingOn: a full range fails the job with the reason', async (t) => {
  const L = new Leader(new World());
  L.must({ kind: 'machine.create', hostaddr: '10.0.0.1', role: 'storage', rackId: '1', datadir: '/d', logdir: '/l', walLogDir: '/w', totalMemMB: 1, totalCpuCores: 1, portRange: { lo: 57000, hi: 57007 } });
  L.machines(1, 'computer');
  const r = L.must({ kind: 'job.start', jobType: 'create_cluster', request: { ...REQ, nodes: '1' } });
  const job = Number(r.committed[1]!.event.agg.slice(4));
  const cause: Cause = { system: 'cluster_mgr', job };
  L.must({ kind: 'job.step_start', job, step: 'install_storage', index: 0, total: 3 }, cause);
  L.must({ kind: 'shard.add', cluster: 1, name: 'shard_1', nodes: [{ hostaddr: '10.0.0.1', port: 57000 }] }, cause);
  const n = L.world.nodesOf(1)[0]!;
  const err = await installMovingOn(jobCtx(L, job, cause), movableNode(L, n), 70146, (at) => Promise.reject(inUse(at.port))).catch((e: unknown) => e);
  t.match((err as JobError).info, /10\.0\.0\.1:57004 cannot be bound .* no other port of 10\.0\.0\.1's port_range is free/);
});
