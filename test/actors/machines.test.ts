import t from 'tap';
import { assign, createActor, setup, type AnyStateMachine } from 'xstate';
import { decodeBatch } from '../../src/events/codec.js';
import { catalog, EVENT_TYPES, type DomainEvent } from '../../src/events/catalog.js';
import { ACCESSES, HEALTHS, INSTANCE_STATUSES, MEMBER_STATES, NODE_STATS } from '../../src/events/vocab.js';
import { parseAgg } from '../../src/events/envelope.js';
import { LOGICS } from '../../src/actors/logics.js';
import { Runner, type AggregateLogic } from '../../src/actors/runner.js';
import { World } from '../../src/actors/world.js';
import { Workload } from './workload.js';

t.test('logged machines must be pure: after/invoke/entry are refused', (t) => {
  const withAfter = setup({}).createMachine({ initial: 'a', states: { a: { after: { 1000: 'b' } }, b: {} } });
  t.throws(() => new Runner({ ...LOGICS.cluster, machine: withAfter as AnyStateMachine }), /after\/invoke\/entry\/exit/);
  const withEntry = setup({ actions: { log: () => {} } }).createMachine({ initial: 'a', states: { a: { entry: 'log' } } });
  t.throws(() => new Runner({ ...LOGICS.cluster, machine: withEntry as AnyStateMachine }), /after\/invoke\/entry\/exit/);
  t.end();
});

t.test('a transition must run exactly the apply action', (t) => {
  const m = setup({
    types: { context: {} as { n: number }, events: {} as { type: 'x' }, input: {} as { key: number | string } },
    actions: { apply: assign(({ context }) => ({ n: context.n + 1 })), other: assign(({ context }) => context) },
  }).createMachine({
    context: { n: 0 },
    initial: 'absent',
    states: { absent: { on: { x: { target: 'b', actions: ['apply', 'other'] } } }, b: {} },
  });
  const r = new Runner({ kind: 'cluster', machine: m, init: () => ({ n: 0 }), reduce: (c: { n: number }) => c, disc: () => '', gone: () => false });
  t.throws(() => r.step(r.absent, { n: 0 }, { type: 'x' }), /exactly the action 'apply'/);
  t.end();
});

t.test('every reachable state accepts events by the Runner rules (exhaustive)', (t) => {
  // Every event type of the kind, with every value a guard may test, from every reachable state:
  // XState must enable at most one transition and it must run exactly `apply` (the Runner throws
  // otherwise), so the memoized fast path is exact everywhere, not only where the workload went.
  const values = [...new Set<string>([...HEALTHS, ...INSTANCE_STATUSES, ...MEMBER_STATES, ...ACCESSES, ...NODE_STATS, 'inuse', 'deleting', 'storage'])];
  const expected: Record<string, number> = { node: 2 + 4 * 2 * 2 * 5 * 3, shard: 2 + 3 * 2 * 2, machine: 2 + 4, comp: 2 + 4, cluster: 5, job: 7, manager: 3, backup_storage: 3 };
  for (const kind of Object.keys(LOGICS) as Array<keyof typeof LOGICS>) {
    const logic = LOGICS[kind] as unknown as AggregateLogic<unknown, { type: string }>;
    const runner = new Runner(logic);
    const types = EVENT_TYPES.filter((type) => catalog[type].kind === kind);
    const init = logic.init(1);
    // The machine aggregate's removal depends on the roles it has: try it with one and with two.
    const ctxs = kind === 'machine' ? [init, { ...(init as object), roles: { storage: {}, computer: {} } }] : [init];
    const seen = new Set<number>([runner.absent]);
    const queue = [runner.absent];
    while (queue.length > 0) {
      const s = queue.shift()!;
      for (const type of types) {
        for (const v of values) {
          const ev = { type, v: 1, agg: `${kind}/1`, at: 0, cause: { system: 'test' }, data: { health: v, status: v, role: v, access: v, stats: v, lock: null, parent: null } };
          for (const ctx of ctxs) {
            const n = runner.step(s, ctx, ev);
            if (n >= 0 && !seen.has(n)) {
              seen.add(n);
              queue.push(n);
            }
          }
        }
      }
    }
    t.equal(seen.size, expected[kind], `${kind}: ${seen.size} states reached, all checked`);
  }
  t.end();
});

t.test('the fast path gives exactly what XState actors give, event by event', (t) => {
  const wl = new Workload({ seed: 11 }).run(4000);
  const world = new World();
  const byAgg = new Map<string, DomainEvent[]>();
  wl.log.forEach((data, i) => {
    const r = world.applyEntry(i + 1, data);
    if (!r.ok) return;
    for (const c of r.committed) {
      // A name used again (a backup storage removed and created anew) starts a new lifetime.
      if (/\.(created|added)$/.test(c.event.type)) byAgg.delete(c.event.agg);
      const list = byAgg.get(c.event.agg) ?? [];
      list.push(c.event);
      byAgg.set(c.event.agg, list);
    }
  });
  t.equal(world.digest(), wl.world.digest());
  let compared = 0;
  let gone = 0;
  for (const [agg, events] of byAgg) {
    const ref = parseAgg(agg)!;
    const machine = LOGICS[ref.kind].machine;
    const actor = createActor(machine, { input: { key: ref.key } });
    actor.start();
    for (const e of events) actor.send(e);
    const real = actor.getPersistedSnapshot() as unknown as { status: string; value: unknown; context: unknown };
    const mine = world.persisted(ref.kind === 'machine' || ref.kind === 'manager' ? (`${ref.kind}/${ref.key}` as const) : (agg as `cluster/${number}`));
    if (mine === null) {
      t.equal(real.status, 'done', `${agg} is gone, and XState agrees it reached its final state`);
      gone++;
      continue;
    }
    if (real.status !== mine.status || JSON.stringify(real.value) !== JSON.stringify(mine.value)) {
      t.fail(`${agg}: XState ${JSON.stringify(real.value)} vs ${JSON.stringify(mine.value)}`);
      continue;
    }
    t.same(real.context, mine.context, agg);
    compared++;
    actor.stop();
  }
  t.ok(compared > 500, `compared ${compared} live aggregates`);
  t.ok(gone > 10, `and ${gone} removed ones`);
  for (const kind of Object.keys(LOGICS)) t.ok([...byAgg.keys()].some((a) => a.startsWith(`${kind}/`)), `covered ${kind}`);
  t.end();
});

t.test('a persisted snapshot restores into a live XState actor', (t) => {
  const wl = new Workload({ seed: 5 }).run(1500);
  const node = wl.world.ids('node')[0]!;
  const actor = wl.world.actor(`node/${node}`)!;
  actor.start();
  const snap = actor.getSnapshot() as unknown as { matches: (v: unknown) => boolean; can: (e: unknown) => boolean };
  t.ok(snap.matches('present'));
  const health = wl.world.node(node)!.health;
  const same = { type: 'node.health_changed', v: 1, agg: `node/${node}`, at: 1, cause: { system: 'x' }, data: { health, evidence: { observer: 'm', summary: '', facts: {} } } };
  t.notOk(snap.can(same), 'the same health again is not a change');
  t.ok(snap.can({ ...same, data: { ...same.data, health: health === 'dead' ? 'alive' : 'dead' } }));
  // Sending to the restored actor does not touch the world.
  const before = wl.world.digest();
  actor.send({ ...same, data: { ...same.data, health: health === 'dead' ? 'alive' : 'dead' } });
  t.equal(wl.world.digest(), before);
  t.end();
});

t.test('decoded batches in the log are all valid events', (t) => {
  const wl = new Workload({ seed: 3 }).run(500);
  let n = 0;
  for (const d of wl.log) n += decodeBatch(d).events.length;
  t.ok(n >= 500);
  t.end();
});
