import t from 'tap';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log/logger.js';
import { ReconcilerHost, checkLeading, sleepWhileLeading, type LeaderContext, type Reconciler } from '../../src/reconcile/host.js';
import { setTimeout as sleep } from 'node:timers/promises';

const log = createLogger({ stream: new Writable({ write: (_c, _e, cb) => cb() }) });
const tick = (ms = 5): Promise<void> => sleep(ms);

class Probe implements Reconciler {
  readonly name = 'probe';
  runs: { key: string; term: number }[] = [];
  concurrent = 0;
  maxConcurrent = 0;
  failFirst = 0;
  hold: Promise<void> | null = null;
  constructor(public keySet: string[]) {}
  keys() {
    return this.keySet;
  }
  affected(changed: ReadonlySet<string>) {
    return this.keySet.filter((k) => changed.has(`shard/${k}`));
  }
  async reconcile(key: string, ctx: LeaderContext) {
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    this.runs.push({ key, term: ctx.term });
    try {
      if (this.hold) await this.hold;
      checkLeading(ctx.signal);
      if (this.failFirst > 0) {
        this.failFirst--;
        throw new Error('transient');
      }
    } finally {
      this.concurrent--;
    }
  }
}

t.test('nothing runs unless leading; becoming leader sweeps every key with the term', async (t) => {
  const host = new ReconcilerHost(log);
  const p = new Probe(['1', '2']);
  host.add(p);
  host.changed(new Set(['shard/1']));
  await tick();
  t.equal(p.runs.length, 0, 'followers do not reconcile');
  host.becameLeader(7);
  await host.idle();
  t.same(p.runs, [{ key: '1', term: 7 }, { key: '2', term: 7 }]);
  await host.stop();
});

t.test('changes during a run cause exactly one rerun; never two runs of one key at once', async (t) => {
  const host = new ReconcilerHost(log);
  const p = new Probe(['1']);
  let release!: () => void;
  p.hold = new Promise((r) => (release = r));
  host.add(p);
  host.becameLeader(1);
  await tick();
  for (let i = 0; i < 5; i++) host.changed(new Set(['shard/1']));
  p.hold = null;
  release();
  await host.idle();
  t.equal(p.runs.length, 2, 'one run plus one rerun for five changes');
  t.equal(p.maxConcurrent, 1);
  await host.stop();
});

t.test('losing leadership aborts runs in flight and starts nothing new', async (t) => {
  const host = new ReconcilerHost(log);
  const p = new Probe(['1']);
  let release!: () => void;
  p.hold = new Promise((r) => (release = r));
  host.add(p);
  host.becameLeader(3);
  await tick();
  host.lostLeadership();
  release();
  await host.idle();
  host.changed(new Set(['shard/1']));
  await tick(20);
  t.equal(p.runs.length, 1, 'no new run after leadership was lost');
});

t.test('a failing run is retried with backoff until it succeeds', async (t) => {
  const host = new ReconcilerHost(log, { maxBackoffMs: 20 });
  const p = new Probe(['9']);
  p.failFirst = 2;
  host.add(p);
  host.becameLeader(1);
  for (let i = 0; i < 100 && p.runs.length < 3; i++) await tick(10);
  await host.idle();
  t.equal(p.runs.length, 3, 'two failures, then success');
  await host.stop();
});

void t.test('sleepWhileLeading waits its time while leading and ends at once when leadership is lost', async (t) => {
  const leading = new AbortController();
  let t0 = performance.now();
  await sleepWhileLeading(60, leading.signal);
  t.ok(performance.now() - t0 >= 55, 'a pause while leading lasts its time');
  const losing = new AbortController();
  setTimeout(() => losing.abort(new Error('leadership lost')), 20);
  t0 = performance.now();
  await sleepWhileLeading(5_000, losing.signal);
  t.ok(performance.now() - t0 < 1_000, 'the pause resolves (does not reject) as soon as leadership is lost');
  t.throws(() => checkLeading(losing.signal), /leadership lost/, 'the next checkLeading throws');
  t0 = performance.now();
  await sleepWhileLeading(5_000, losing.signal);
  t.ok(performance.now() - t0 < 50, 'no pause once leadership is already lost');
});
