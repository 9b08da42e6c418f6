// Randomized operations against a plain array model, with reopens in between: the durable log must
// always equal the model (appends, suffix overwrites, snapshots, compaction, segment rollover).
import t from 'tap';
import { WalStorage } from '../../../src/raft/storage/index.js';
import type { Entry } from '../../../src/raft/types.js';
import { describe, entry, rng, tempDir } from './helpers.js';

const conf = { voters: ['a'], learners: [] };
// RAFT_STORAGE_SEEDS=500 for a longer soak.
const SEEDS = Number(process.env.RAFT_STORAGE_SEEDS ?? 12);

void t.test('random appends, overwrites, snapshots and reopens match a model', async (t) => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    const rand = rng(seed);
    const dir = tempDir(t);
    const opts = { segmentBytes: 1500, syncMode: seed % 2 === 0 ? ('inline' as const) : ('threadpool' as const) };
    let s = await WalStorage.open(dir, opts);
    let model: Entry[] = []; // model[i] is the entry at index i+1
    let term = 1;
    let snapIndex = 0;
    let commit = 0;
    for (let op = 0; op < 150; op++) {
      const r = rand();
      if (r < 0.6) {
        // Append, sometimes overwriting an uncommitted suffix with a higher term.
        let from = model.length + 1;
        if (rand() < 0.25 && model.length > commit) {
          from = commit + 1 + Math.floor(rand() * (model.length - commit));
          term++;
        }
        const n = 1 + Math.floor(rand() * 6);
        const batch: Entry[] = [];
        for (let i = 0; i < n; i++) batch.push(entry(from + i, term, Math.floor(rand() * 120)));
        model = [...model.slice(0, from - 1), ...batch];
        if (rand() < 0.5) commit = Math.max(commit, Math.floor(model.length * 0.7));
        await s.save(batch, { term, vote: 'a', commit });
      } else if (r < 0.7 && commit > snapIndex) {
        snapIndex = snapIndex + 1 + Math.floor(rand() * (commit - snapIndex));
        await s.createSnapshot(snapIndex, conf, Buffer.from(`snap-${snapIndex}`));
        s.compact(snapIndex);
      } else if (r < 0.8) {
        await s.close();
        s = await WalStorage.open(dir, opts);
      } else {
        continue;
      }
      const first = s.firstIndex();
      if (s.lastIndex() !== model.length || first !== snapIndex + 1) {
        t.fail(`seed ${seed} op ${op}: storage ${first}..${s.lastIndex()}, model ${snapIndex + 1}..${model.length}`);
        return;
      }
      const got = describe(s.entries(first, s.lastIndex() + 1));
      const want = describe(model.slice(first - 1));
      if (got.join() !== want.join()) {
        t.same(got, want, `seed ${seed} op ${op}`);
        return;
      }
    }
    await s.close();
    const final = await WalStorage.open(dir, opts);
    t.same(describe(final.entries(final.firstIndex(), final.lastIndex() + 1)), describe(model.slice(snapIndex)), `seed ${seed}`);
    t.equal(final.hardState().commit, commit);
    t.ok(final.stats().segmentFiles.length < 30, `seed ${seed}: segments are released (${final.stats().segmentFiles.length})`);
    await final.close();
  }
});
