// Replay determinism on long random (but realistic) logs: replaying twice gives identical state,
// restoring a snapshot and replaying the rest gives identical state, and a tampered event is caught
// by the hash chain at its position.
import t from 'tap';
import { decodeMsgpack, encodeCanonical } from '../../src/events/canonical.js';
import { decodeBatch, encodeBatchRaw } from '../../src/events/codec.js';
import { verifyChain, type ChainRecord } from '../../src/events/hashchain.js';
import { World } from '../../src/actors/world.js';
import { prng, Workload } from './workload.js';

function replay(log: readonly Uint8Array[], from = 0, to = log.length, world = new World()): World {
  for (let i = from; i < to; i++) world.applyEntry(i + 1, log[i]!);
  return world;
}

function chainOf(log: readonly Uint8Array[]): ChainRecord[] {
  const w = new World();
  const out: ChainRecord[] = [];
  log.forEach((d, i) => {
    const r = w.applyEntry(i + 1, d);
    if (r.ok) for (const c of r.committed) out.push({ seq: c.seq, index: c.index, type: c.event.type, bytes: c.bytes, hash: c.hash });
  });
  return out;
}

for (const seed of [1, 2, 3]) {
  t.test(`seed ${seed}: replay is deterministic and snapshots restore exactly`, (t) => {
    const wl = new Workload({ seed }).run(3000);
    const { log } = wl;
    t.ok(wl.stats.refusedAtApply > 0, `the log has batches refused at apply (${wl.stats.refusedAtApply})`);
    const a = replay(log);
    const b = replay(log);
    t.equal(a.digest(), b.digest(), 'replaying twice gives the same digest');
    t.equal(a.digest(), wl.world.digest(), 'and the same as the member that built it');
    t.same(a.snapshot(), b.snapshot(), 'byte-identical snapshots');
    t.equal(JSON.stringify(a.view()), JSON.stringify(wl.world.view()), 'identical views');
    t.equal(a.head, wl.world.head);

    const rnd = prng(seed * 7919);
    for (let k = 0; k < 4; k++) {
      const cut = Math.floor(rnd() * log.length);
      const first = replay(log, 0, cut);
      const snap = first.snapshot();
      const restored = World.restore(snap);
      t.same(restored.snapshot(), snap, `restore then snapshot at ${cut} is the identity`);
      replay(log, cut, log.length, restored);
      t.equal(restored.digest(), a.digest(), `snapshot at entry ${cut} + the rest = everything`);
      // The restored world keeps working like the original: same answers to queries.
      t.same(restored.activeJobs(), a.activeJobs());
      t.same(restored.ids('node').map((n) => restored.nodeAt(restored.node(n)!.hostaddr, restored.node(n)!.port)), a.ids('node').map((n) => a.nodeAt(a.node(n)!.hostaddr, a.node(n)!.port)));
    }
    t.end();
  });
}

t.test('a tampered event breaks the chain at its position', (t) => {
  const wl = new Workload({ seed: 9 }).run(2500);
  const records = chainOf(wl.log);
  t.match(verifyChain(records), { ok: true, count: records.length });
  const rnd = prng(99);
  for (let k = 0; k < 3; k++) {
    const victim = records[Math.floor(rnd() * records.length)]!;
    const copy = records.map((r) => ({ ...r }));
    const obj = decodeMsgpack(victim.bytes) as { at: number };
    obj.at += 1; // the smallest change: one millisecond on the leader's stamp
    copy[victim.seq - 1]!.bytes = encodeCanonical(obj);
    const check = verifyChain(copy);
    t.match(check, { ok: false, seq: victim.seq, index: victim.index }, `reported at seq ${victim.seq}, entry ${victim.index}`);
  }

  // Tampering inside the log changes every member's head from that event on, and a replay of the
  // tampered log disagrees with the original's recorded hash exactly there.
  const i = Math.floor(wl.log.length / 2);
  const entry = decodeBatch(wl.log[i]!);
  const raws = entry.raws.map((r) => Buffer.from(r));
  const first = decodeMsgpack(raws[0]!) as { at: number };
  first.at += 1;
  raws[0] = Buffer.from(encodeCanonical(first));
  const forged = [...wl.log];
  forged[i] = encodeBatchRaw(raws);
  const forgedRecords = chainOf(forged);
  const firstDiff = forgedRecords.findIndex((r, n) => r.hash !== records[n]?.hash);
  t.equal(forgedRecords[firstDiff]!.index, i + 1, 'the first differing hash is at the tampered entry');
  t.not(replay(forged).head, replay(wl.log).head);
  t.end();
});

t.test('a long log (8k events) replays to the same digest from any snapshot', (t) => {
  const wl = new Workload({ seed: 2024, maxClusters: 20 }).run(8000);
  const full = replay(wl.log);
  t.equal(full.digest(), wl.world.digest());
  const cut = Math.floor(wl.log.length * 0.37);
  const restored = World.restore(replay(wl.log, 0, cut).snapshot());
  replay(wl.log, cut, wl.log.length, restored);
  t.equal(restored.digest(), full.digest());
  t.ok(full.count('job') > 100 && full.count('node') > 100, `${full.count('job')} jobs, ${full.count('node')} nodes`);
  t.end();
});
