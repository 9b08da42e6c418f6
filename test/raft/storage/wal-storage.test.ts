import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CorruptionError, UnavailableError, WalStorage } from '../../../src/raft/storage/index.js';
import { writeSnapshotFile } from '../../../src/raft/storage/snapshot-file.js';
import type { Entry } from '../../../src/raft/types.js';
import { describe, entry, range, tempDir, walFiles } from './helpers.js';

const conf = { voters: ['m1', 'm2', 'm3'], learners: [] };

void t.test('entries and hard state survive a reopen', async (t) => {
  const dir = tempDir(t);
  const s = await WalStorage.open(dir);
  t.equal(s.firstIndex(), 1);
  t.equal(s.lastIndex(), 0);
  t.same(s.initialState().hardState, { term: 0, vote: null, commit: 0 });
  await s.save(range(1, 10, 1), { term: 1, vote: 'm1', commit: 0 });
  await s.save(range(11, 20, 2), { term: 2, vote: 'm2', commit: 15 });
  t.equal(s.lastIndex(), 20);
  t.equal(s.term(12), 2);
  await s.close();

  const r = await WalStorage.open(dir);
  t.equal(r.lastIndex(), 20);
  t.same(describe(r.entries(1, 21)), describe([...range(1, 10, 1), ...range(11, 20, 2)]));
  t.same(r.initialState().hardState, { term: 2, vote: 'm2', commit: 15 });
  t.throws(() => r.entries(1, 22), UnavailableError);
  t.equal(r.entries(1, 21, 100).length, 2, 'maxBytes limits a read');
  t.equal(r.entries(1, 21, 1).length, 1, 'but always returns one entry');
  await r.close();
});

void t.test('threadpool mode: concurrent saves are group-committed and all durable', async (t) => {
  const dir = tempDir(t);
  const s = await WalStorage.open(dir, { syncMode: 'threadpool' });
  const saves: Promise<void>[] = [];
  for (let i = 1; i <= 200; i++) saves.push(s.save([entry(i, 1, 256)], { term: 1, vote: 'm1', commit: i - 1 }));
  await Promise.all(saves);
  const st = s.stats();
  t.equal(st.appends, 200);
  t.ok(st.batches < 200, `fewer fsync batches (${st.batches}) than appends`);
  await s.close();
  const r = await WalStorage.open(dir);
  t.equal(r.lastIndex(), 200);
  t.equal(r.hardState().commit, 199);
  await r.close();
});

void t.test('inline mode: each save is one write and one fsync, done when save returns', async (t) => {
  const dir = tempDir(t);
  const s = await WalStorage.open(dir, { syncMode: 'inline' });
  const before = s.stats().batches;
  const p = s.save(range(1, 100, 1), { term: 1, vote: 'm1', commit: 0 });
  t.equal(s.stats().batches, before + 1, 'written and synced before save() returned');
  await p;
  // A save behind a pending snapshot install waits its turn, in order.
  const installed = s.applySnapshot({ meta: { index: 120, term: 2, conf: { voters: ['m1'], learners: [] } }, data: Buffer.from('s') });
  const after = s.save(range(121, 125, 2), null);
  await Promise.all([installed, after]);
  await s.close();
  const r = await WalStorage.open(dir);
  t.equal(r.firstIndex(), 121);
  t.equal(r.lastIndex(), 125);
  await r.close();
});

void t.test('a suffix replaced by the leader stays replaced after reopen', async (t) => {
  const dir = tempDir(t);
  const s = await WalStorage.open(dir, { segmentBytes: 600 });
  await s.save(range(1, 10, 1), null);
  await s.save(range(6, 8, 2), { term: 2, vote: null, commit: 5 });
  t.equal(s.lastIndex(), 8);
  await s.save(range(9, 12, 2), null);
  // Overwrite again across a segment boundary.
  await s.save(range(4, 5, 3), null);
  const want = [...range(1, 3, 1), ...range(4, 5, 3)];
  t.same(describe(s.entries(1, 6)), describe(want));
  await s.close();
  t.ok(walFiles(dir).length > 1, 'test spans several segments');
  const r = await WalStorage.open(dir, { segmentBytes: 600 });
  t.same(describe(r.entries(1, r.lastIndex() + 1)), describe(want));
  await r.close();
});

void t.test('snapshot and compaction remove covered segments; reopen starts at the snapshot', async (t) => {
  const dir = tempDir(t);
  const s = await WalStorage.open(dir, { segmentBytes: 2048 });
  for (let i = 1; i <= 300; i += 10) await s.save(range(i, i + 9, 1, 64), { term: 1, vote: 'm1', commit: i + 9 });
  const before = walFiles(dir);
  t.ok(before.length >= 8, `many segments (${before.length})`);
  const data = Buffer.from('state machine as of 250');
  await s.createSnapshot(250, conf, data);
  s.compact(240);
  t.equal(s.firstIndex(), 241, 'compaction keeps a tail in memory');
  t.equal(s.term(240), 1);
  t.throws(() => s.term(239), /compacted/);
  const after = walFiles(dir);
  t.ok(after.length < before.length, `segments removed (${before.length} -> ${after.length})`);
  t.notOk(after.includes(before[0]!), 'the oldest segment is gone');
  t.same(fs.readdirSync(path.join(dir, 'snap')), ['00000000000000fa-0000000000000001.snap']);
  await s.save(range(301, 310, 2), { term: 2, vote: 'm3', commit: 305 });
  await s.close();

  const r = await WalStorage.open(dir, { segmentBytes: 2048 });
  t.equal(r.firstIndex(), 251);
  t.equal(r.lastIndex(), 310);
  t.equal(r.term(250), 1);
  t.same(Buffer.from(r.snapshot().data), data);
  t.same(r.snapshot().meta, { index: 250, term: 1, conf });
  t.same(r.initialState().conf, conf);
  t.same(describe(r.entries(251, 311)), describe([...range(251, 300, 1, 64), ...range(301, 310, 2)]));
  t.same(r.hardState(), { term: 2, vote: 'm3', commit: 305 });
  // A second snapshot replaces the first file.
  await r.createSnapshot(305, conf, Buffer.from('305'));
  r.compact(305);
  t.same(fs.readdirSync(path.join(dir, 'snap')), ['0000000000000131-0000000000000002.snap']);
  await r.close();
  const r2 = await WalStorage.open(dir, { segmentBytes: 2048 });
  t.equal(r2.firstIndex(), 306);
  t.equal(r2.lastIndex(), 310);
  await r2.close();
});

void t.test('a snapshot from the leader replaces a conflicting log, durably', async (t) => {
  const dir = tempDir(t);
  const s = await WalStorage.open(dir);
  await s.save(range(1, 20, 1), { term: 1, vote: null, commit: 5 });
  const snap = { meta: { index: 15, term: 3, conf }, data: Buffer.from('leader state') };
  const installed = s.applySnapshot(snap, { term: 3, vote: null, commit: 15 });
  // Saved right after the install, before it is durable: must stay ordered after the reset.
  const appended = s.save(range(16, 18, 3), { term: 3, vote: null, commit: 16 });
  await Promise.all([installed, appended]);
  t.equal(s.firstIndex(), 16);
  t.equal(s.lastIndex(), 18);
  await s.close();
  const r = await WalStorage.open(dir);
  t.equal(r.firstIndex(), 16);
  t.equal(r.term(15), 3);
  t.same(describe(r.entries(16, 19)), describe(range(16, 18, 3)));
  t.same(r.hardState(), { term: 3, vote: null, commit: 16 });
  await r.close();
});

void t.test('a snapshot file without its WAL reset still discards a log that disagrees with it', async (t) => {
  const dir = tempDir(t);
  const s = await WalStorage.open(dir);
  await s.save(range(1, 20, 1), { term: 1, vote: null, commit: 5 });
  await s.close();
  // Crash between writing the leader's snapshot file and recording the reset in the WAL.
  await writeSnapshotFile(path.join(dir, 'snap'), { meta: { index: 15, term: 3, conf }, data: Buffer.from('x') });
  const r = await WalStorage.open(dir);
  t.equal(r.firstIndex(), 16);
  t.equal(r.lastIndex(), 15, 'entries 16..20 of term 1 cannot follow a term-3 entry 15');
  t.equal(r.hardState().commit, 15, 'the snapshot counts as committed');
  await r.close();
});

void t.test('torn writes: truncation at any offset keeps every fully written record', async (t) => {
  const dir = tempDir(t);
  const s = await WalStorage.open(dir);
  const written: Entry[] = [];
  let idx = 1;
  for (let b = 0; b < 40; b++) {
    const n = 1 + (b % 5);
    const batch = range(idx, idx + n - 1, 1 + Math.floor(b / 10), 10 + ((b * 37) % 200));
    idx += n;
    written.push(...batch);
    await s.save(batch, null);
  }
  await s.close();
  const [file] = walFiles(dir);
  const full = fs.readFileSync(file!);
  // Record end offsets from the encoder's own sizes: header (12) + fixed body (18) + payload.
  const ends: number[] = [];
  let off = 12 + 21; // the segment header record
  for (const e of written) {
    off += 12 + 18 + e.data.length;
    ends.push(off);
  }
  t.equal(off, full.length, 'offsets account for the whole file');
  const cuts = new Set<number>([0, 1, 12, 33, 34, full.length - 1]);
  for (let i = 0; i < 120; i++) cuts.add(Math.floor((i * 7919) % full.length));
  for (const e of ends.slice(0, 10)) cuts.add(e);
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    fs.writeFileSync(file!, full.subarray(0, cut));
    const r = await WalStorage.open(dir);
    const expect = written.filter((_, i) => (ends[i] as number) <= cut);
    if (r.lastIndex() !== expect.length) {
      t.fail(`cut at ${cut}: recovered ${r.lastIndex()} entries, expected ${expect.length}`);
      await r.close();
      continue;
    }
    t.same(describe(r.entries(1, r.lastIndex() + 1)), describe(expect), `cut at ${cut}`);
    // The repaired WAL accepts new writes that survive another reopen.
    const next = entry(expect.length + 1, 9, 33);
    await r.save([next], { term: 9, vote: null, commit: 0 });
    await r.close();
    const r2 = await WalStorage.open(dir);
    t.equal(r2.lastIndex(), expect.length + 1, `cut at ${cut}: append after repair`);
    t.equal(r2.term(expect.length + 1), 9);
    await r2.close();
  }
  // A zero-filled tail (size reached disk before data) is a torn write too.
  fs.writeFileSync(file!, Buffer.concat([full.subarray(0, ends[4]), Buffer.alloc(300)]));
  const z = await WalStorage.open(dir);
  t.equal(z.lastIndex(), 5);
  await z.close();
});

void t.test('a damaged record in the middle is refused, naming the file and offset', async (t) => {
  const dir = tempDir(t);
  const s = await WalStorage.open(dir);
  for (let i = 1; i <= 50; i++) await s.save([entry(i, 1, 100)], { term: 1, vote: null, commit: i - 1 });
  await s.close();
  const [file] = walFiles(dir);
  const full = fs.readFileSync(file!);
  for (const at of [Math.floor(full.length / 2), 33 + 1, 33 + 12 + 5]) {
    const bad = Buffer.from(full);
    bad[at] = bad[at]! ^ 0x40;
    fs.writeFileSync(file!, bad);
    const err = await WalStorage.open(dir).then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(err instanceof CorruptionError, `flip at ${at} is refused`);
    if (err instanceof CorruptionError) {
      t.equal(err.file, file);
      t.ok(err.offset <= at && at - err.offset < 200, `offset ${err.offset} points at the damaged record`);
      t.match(err.message, file!);
      t.match(err.message, `offset ${err.offset}`);
    }
  }
  t.same(fs.readFileSync(file!).length, full.length, 'a refused WAL is not modified');
});

void t.test('damage in an older segment is corruption even at its end', async (t) => {
  const dir = tempDir(t);
  const s = await WalStorage.open(dir, { segmentBytes: 1000 });
  for (let i = 1; i <= 40; i++) await s.save([entry(i, 1, 100)], null);
  await s.close();
  const files = walFiles(dir);
  t.ok(files.length >= 3);
  const first = fs.readFileSync(files[0]!);
  fs.writeFileSync(files[0]!, first.subarray(0, first.length - 10));
  await t.rejects(WalStorage.open(dir, { segmentBytes: 1000 }), CorruptionError);
  fs.writeFileSync(files[0]!, first);
  fs.rmSync(files[1]!);
  await t.rejects(WalStorage.open(dir, { segmentBytes: 1000 }), /segment is missing/);
});

void t.test('a corrupt snapshot file is refused', async (t) => {
  const dir = tempDir(t);
  const s = await WalStorage.open(dir);
  await s.save(range(1, 10, 1), { term: 1, vote: null, commit: 10 });
  await s.createSnapshot(10, conf, Buffer.from('some state'));
  await s.close();
  const snapDir = path.join(dir, 'snap');
  const f = path.join(snapDir, fs.readdirSync(snapDir)[0]!);
  const b = fs.readFileSync(f);
  b[b.length - 2] = b[b.length - 2]! ^ 1;
  fs.writeFileSync(f, b);
  await t.rejects(WalStorage.open(dir), /checksum mismatch/);
});

void t.test('a new segment whose header never reached disk is rewritten', async (t) => {
  const dir = tempDir(t);
  const s = await WalStorage.open(dir, { segmentBytes: 500 });
  for (let i = 1; i <= 20; i++) await s.save([entry(i, 1, 100)], { term: 1, vote: 'm1', commit: i });
  await s.close();
  const files = walFiles(dir);
  const last = files[files.length - 1]!;
  const n = s.lastIndex();
  // Simulate a crash right after creating a new, empty segment.
  const seq = files.length;
  const empty = path.join(path.dirname(last), `${seq.toString(16).padStart(16, '0')}-${(n + 1).toString(16).padStart(16, '0')}.wal`);
  fs.writeFileSync(empty, Buffer.alloc(7));
  const r = await WalStorage.open(dir, { segmentBytes: 500 });
  t.equal(r.lastIndex(), n);
  t.same(r.hardState(), { term: 1, vote: 'm1', commit: 20 });
  await r.save([entry(n + 1, 2)], null);
  await r.close();
  const r2 = await WalStorage.open(dir, { segmentBytes: 500 });
  t.equal(r2.lastIndex(), n + 1);
  await r2.close();
});

void t.test('a commit-only hard state rides with the next synced write, or is flushed at close', async (t) => {
  const dir = tempDir(t);
  const s = await WalStorage.open(dir);
  await s.save(range(1, 5, 1), { term: 1, vote: 'm1', commit: 0 });
  const before = s.stats().batches;
  await s.save([], { term: 1, vote: 'm1', commit: 3 }, false);
  t.equal(s.stats().batches, before, 'no write of its own');
  t.equal(s.hardState().commit, 3, 'visible at once');
  await s.save(range(6, 6, 1), null);
  await s.save([], { term: 1, vote: 'm1', commit: 6 }, false);
  await s.close();
  const r = await WalStorage.open(dir);
  t.same(r.hardState(), { term: 1, vote: 'm1', commit: 6 }, 'flushed at close');
  await r.save([], { term: 1, vote: 'm1', commit: 6 }, false);
  await r.save(range(7, 7, 2), { term: 2, vote: null, commit: 6 });
  await r.close();
  const r2 = await WalStorage.open(dir);
  t.same(r2.hardState(), { term: 2, vote: null, commit: 6 }, 'the later synced hard state wins');
  await r2.close();
});

void t.test('preallocated space: zero-filled ahead, trimmed at rollover and close, unused after a crash', async (t) => {
  const dir = tempDir(t);
  const s = await WalStorage.open(dir, { preallocateBytes: 64 * 1024, segmentBytes: 16 * 1024 });
  for (let i = 1; i <= 20; i++) await s.save([entry(i, 1, 100)], { term: 1, vote: 'm1', commit: i - 1 });
  const [active] = walFiles(dir);
  t.equal(fs.statSync(active!).size, 16 * 1024, 'the active segment is zero-filled ahead (up to the segment size)');
  // A crash now: copy the files as they are on disk.
  const crashed = tempDir(t);
  fs.cpSync(dir, crashed, { recursive: true });
  const lines: string[] = [];
  const capture = { debug: () => {}, info: () => {}, warn: (_o: Record<string, unknown>, m: string) => lines.push(m), error: () => {} };
  const r = await WalStorage.open(crashed, { logger: capture });
  t.equal(r.lastIndex(), 20, 'every synced entry recovered');
  t.same(lines, [], 'unused preallocated space is not reported as a torn write');
  await r.save([entry(21, 1)], null);
  await r.close();
  // Rollover trims the segment it leaves; close trims the active one.
  for (let i = 21; i <= 200; i++) await s.save([entry(i, 1, 100)], null);
  await s.close();
  const files = walFiles(dir);
  t.ok(files.length > 1, 'rolled over');
  for (const f of files) {
    const b = fs.readFileSync(f);
    t.not(b[b.length - 1], 0, `${path.basename(f)} ends with data, not zeros`);
  }
  const again = await WalStorage.open(dir);
  t.equal(again.lastIndex(), 200);
  await again.close();
});

void t.test('a write torn inside preallocated space is a torn tail, not corruption', async (t) => {
  const dir = tempDir(t);
  const s = await WalStorage.open(dir, { preallocateBytes: 64 * 1024 });
  for (let i = 1; i <= 10; i++) await s.save([entry(i, 1, 200)], null);
  const crashed = tempDir(t);
  fs.cpSync(dir, crashed, { recursive: true });
  await s.close();
  const [file] = walFiles(crashed);
  const b = fs.readFileSync(file!);
  // The last record (12 + 18 + 200 bytes) lost its second half: zeros, as unwritten sectors read.
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  b.fill(0, end - 100, end);
  fs.writeFileSync(file!, b);
  const r = await WalStorage.open(crashed);
  t.equal(r.lastIndex(), 9, 'the torn last record is dropped, the rest kept');
  await r.close();
});

void t.test('read-only open recovers the log and changes no byte on disk', async (t) => {
  const dir = tempDir(t);
  const s = await WalStorage.open(dir, { segmentBytes: 2048 });
  for (let i = 1; i <= 60; i++) await s.save([entry(i, 1, 100)], { term: 1, vote: 'm1', commit: i });
  await s.createSnapshot(30, conf, Buffer.from('thirty'));
  const copy = tempDir(t);
  fs.cpSync(dir, copy, { recursive: true });
  await s.close();
  // A half-written last record, as a crash leaves it, in the preallocated space after the data.
  const files = walFiles(copy);
  const last = files[files.length - 1]!;
  const b = fs.readFileSync(last);
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  Buffer.from([0x20, 0, 0, 0, 0xdf, 0xff]).copy(b, end);
  fs.writeFileSync(last, b);
  const before = new Map(walFiles(copy).map((f) => [f, fs.readFileSync(f)]));
  const r = await WalStorage.open(copy, { readOnly: true });
  t.equal(r.lastIndex(), 60);
  t.equal(r.snapshot().meta.index, 30);
  t.same(r.hardState(), { term: 1, vote: 'm1', commit: 60 });
  await t.rejects(r.save([entry(61, 1)], null), /read-only/);
  await t.rejects(r.createSnapshot(40, conf, Buffer.from('x')), /read-only/);
  await r.close();
  for (const [f, b] of before) t.ok(fs.readFileSync(f).equals(b), `${path.basename(f)} unchanged`);
  t.same(walFiles(copy), [...before.keys()], 'no file added or removed');
  await t.rejects(WalStorage.open(path.join(copy, 'nope'), { readOnly: true }), /does not exist/);
});
