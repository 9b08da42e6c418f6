// Port blocks for concurrent test environments: each claim is exclusive until released.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { claimPortBlock, PORT_BLOCK_DIR } from '../../src/launcher/index.js';

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
