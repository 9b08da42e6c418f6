// Port blocks for concurrent test environments: each claim is exclusive until released.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { claimPortBlock, PORT_BLOCK_DIR, releaseStalePortBlocks } from '../../src/launcher/index.js';

t.test('claims are exclusive, name their owner, and come back when released', (t) => {
  // A range no real environment uses (real ones start at 20000 and 30000).
  const got = [claimPortBlock(1_000, 3), claimPortBlock(1_000, 3), claimPortBlock(1_000, 3)];
  t.teardown(() => got.forEach((b) => b.release()));
  t.same(got.map((b) => b.lo).sort(), [1_000, 1_100, 1_200], 'three claims, three different blocks');
  t.equal(readFileSync(join(PORT_BLOCK_DIR, '1000'), 'utf8').trim(), String(process.pid), 'the claim names its owner');
  t.throws(() => claimPortBlock(1_000, 3), /no free block of 100 ports in 1000-1299/, 'a fourth claim is refused, with the range');
  const freed = got.find((b) => b.lo === 1_100)!;
  freed.release();
  t.equal(claimPortBlock(1_000, 3).lo, 1_100, 'a released block can be claimed again');
  t.end();
});

t.test('a claim whose owner is gone is dropped before a run', (t) => {
  // Above Linux's largest pid (2^22): never a live process.
  writeFileSync(join(PORT_BLOCK_DIR, '1300'), '4194305\n', { flag: 'wx' });
  const mine = claimPortBlock(1_400, 1);
  t.teardown(() => mine.release());
  t.ok(releaseStalePortBlocks() >= 1, 'the stale claim is dropped');
  const again = claimPortBlock(1_300, 1);
  t.teardown(() => again.release());
  t.equal(again.lo, 1_300, 'its block can be claimed again');
  t.equal(readFileSync(join(PORT_BLOCK_DIR, '1400'), 'utf8').trim(), String(process.pid), 'a live claim stays');
  t.end();
});
