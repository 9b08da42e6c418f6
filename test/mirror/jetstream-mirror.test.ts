// The JetStream mirror against a real nats-server: order, exactly once across a restart of the mirror
// (a new leader), catch-up after NATS was down, redaction of secrets, and the hash chain.
import t from 'tap';
import { rmSync } from 'node:fs';
import { makeRunDir, NatsInstance } from '../../src/launcher/index.js';
import { createLogger } from '../../src/log/logger.js';
import { JetStreamMirror, type CommittedEntry, type EntrySource } from '../../src/mirror/jetstream-mirror.js';
import { H } from '../../src/mirror/subjects.js';
import { encodeBatch, decodeMsgpack, verifyChain, type DomainEvent } from '../../src/events/index.js';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

const dir = makeRunDir('mirror-test');
const nats = new NatsInstance({ dir: `${dir}/nats` });
const log = createLogger({ stream: new Writable({ write: (_c, _e, cb) => cb() }) });
t.before(() => nats.start());
t.teardown(async () => {
  await nats.kill9();
  rmSync(dir, { recursive: true, force: true });
});

function machine(i: number): DomainEvent {
  return {
    type: 'machine.registered', v: 1, agg: `machine/10.0.0.${i}`, at: 1_700_000_000_000 + i, cause: { user: 'admin' },
    data: { role: 'storage', rackId: '0', datadir: '/data', logdir: '/log', walLogDir: '/wal', compDatadir: null, portRange: { lo: 57000, hi: 58000 }, totalMemMB: 1024, totalCpuCores: 8, agentPort: null },
  };
}
function cluster(i: number): DomainEvent {
  return {
    type: 'cluster.created', v: 1, agg: `cluster/${i}`, at: 1_700_000_000_000, cause: { user: 'admin', job: 1 },
    data: { name: `cluster_${i}`, nickName: 'c', haMode: 'rbr', owner: 'abc', business: 'kunlun', maxStorageSizeGB: 20, maxConnections: 6, cpuCores: 8, innodbSizeMB: 1, dbcfg: 0, compUser: 'abc', compPassword: 'very-secret-pw' },
  };
}

/** A Raft log of batches: entry 1 is a no-op (as after an election), then batches of 1..3 events. */
class Log implements EntrySource {
  entries: CommittedEntry[] = [{ index: 1, term: 1, kind: 'noop', data: new Uint8Array() }];
  applied = 1;
  events: DomainEvent[] = [];
  add(evs: DomainEvent[]): void {
    const index = this.entries.length + 1;
    this.entries.push({ index, term: 1, kind: 'normal', data: encodeBatch(evs) });
    this.events.push(...evs);
    this.applied = index;
  }
  read(from: number, max: number): CommittedEntry[] | 'compacted' {
    return this.entries.slice(from - 1, Math.min(from - 1 + max, this.applied));
  }
  appliedIndex(): number {
    return this.applied;
  }
}

async function readStream(stream: string) {
  const nc = await nats.connect();
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream);
  const out: { subject: string; index: number; pos: number; seq: number; hash: string; type: string; body: Record<string, unknown>; bytes: Uint8Array }[] = [];
  for (let s = 1; s <= info.state.last_seq; s++) {
    const m = await jsm.streams.getMessage(stream, { seq: s });
    out.push({
      subject: m.subject, index: Number(m.header.get(H.index)), pos: Number(m.header.get(H.pos)), seq: Number(m.header.get(H.seq)),
      hash: m.header.get(H.hash), type: m.header.get(H.type), body: decodeMsgpack(m.data) as Record<string, unknown>, bytes: m.data,
    });
  }
  await nc.close();
  return out;
}

async function until(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(50);
  }
}

t.test('events are mirrored once, in order, redacted, with a verifiable chain; a new mirror resumes without gap or duplicate', async (t) => {
  const raftLog = new Log();
  raftLog.add([machine(1)]);
  raftLog.add([machine(2), cluster(1), machine(3)]);
  const m1 = new JetStreamMirror({ url: nats.url, stream: 'EV1', log, source: raftLog });
  m1.start();
  await until(() => m1.status().mirroredIndex === 3);
  await m1.stop();
  // A new leader: more committed entries, a fresh mirror instance reading where the stream ends.
  raftLog.add([machine(4)]);
  raftLog.add([machine(5), machine(6)]);
  const m2 = new JetStreamMirror({ url: nats.url, stream: 'EV1', log, source: raftLog });
  m2.start();
  await until(() => m2.status().mirroredIndex === 5);
  // And the old one restarting on the same log again publishes nothing more.
  m1.start();
  await sleep(300);
  await m1.stop();
  await m2.stop();

  const msgs = await readStream('EV1');
  t.equal(msgs.length, raftLog.events.length, 'one message per event, none repeated');
  t.same(msgs.map((m) => [m.index, m.pos]), [[2, 0], [3, 0], [3, 1], [3, 2], [4, 0], [5, 0], [5, 1]], 'in log order');
  t.same(msgs.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7], 'chain positions without gaps');
  t.equal(msgs[0]!.subject, 'kunlun.events.machine.10_0_0_1.registered');
  t.equal(msgs[2]!.subject, 'kunlun.events.cluster.1.created');
  t.equal((msgs[2]!.body.data as Record<string, unknown>).compPassword, '[redacted]', 'secrets never reach NATS');
  t.notMatch(Buffer.from(msgs[2]!.bytes).toString('latin1'), /very-secret-pw/);
  const chain = verifyChain(msgs.map((m) => ({ seq: m.seq, type: m.type, bytes: m.bytes, hash: m.hash })));
  t.ok(chain.ok, 'the hash chain verifies from the redacted stream');
});

t.test('the manager keeps going while NATS is down; the mirror catches up when it returns', async (t) => {
  const raftLog = new Log();
  raftLog.add([machine(1)]);
  const m = new JetStreamMirror({ url: nats.url, stream: 'EV2', prefix: 'k2', log, source: raftLog });
  m.start();
  await until(() => m.status().mirroredIndex === 2);
  await nats.kill9();
  for (let i = 10; i < 30; i++) raftLog.add([machine(i)]);
  await sleep(500);
  t.equal(m.status().mirroredIndex, 2, 'nothing mirrored while NATS is down');
  await nats.start();
  await until(() => m.status().mirroredIndex === raftLog.applied, 20_000);
  await m.stop();
  const msgs = await readStream('EV2');
  t.equal(msgs.length, 21, 'all 21 events, no duplicate');
  t.same(msgs.map((x) => x.index), Array.from({ length: 21 }, (_, i) => i + 2));
});

t.test('a deposed leader cannot interleave: its expected sequence no longer matches', async (t) => {
  const a = new Log();
  a.add([machine(1)]);
  const b = new Log();
  b.add([machine(1)]);
  b.add([machine(2)]);
  const ma = new JetStreamMirror({ url: nats.url, stream: 'EV3', prefix: 'k3', log, source: a });
  ma.start();
  await until(() => ma.status().mirroredIndex === 2);
  const mb = new JetStreamMirror({ url: nats.url, stream: 'EV3', prefix: 'k3', log, source: b });
  mb.start();
  await until(() => mb.status().mirroredIndex === 3);
  await mb.stop();
  await ma.stop();
  const msgs = await readStream('EV3');
  t.same(msgs.map((x) => x.index), [2, 3]);
});
