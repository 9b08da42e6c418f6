// Test runs start several playgrounds and end-to-end environments at once, each installing instances
// on a random block of ports; a claim file per block (created exclusively, holding the owner's pid)
// keeps two of them from drawing the same block.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockHolder, PidLock } from './pid-lock.js';

export const PORT_BLOCK_DIR = join(tmpdir(), 'cmgr-port-blocks');

export interface PortBlock {
  lo: number;
  release(): void;
}

/** One free block of `size` ports among `blocks` blocks from `first`, claimed for this process. */
export function claimPortBlock(first: number, blocks: number, size = 100): PortBlock {
  mkdirSync(PORT_BLOCK_DIR, { recursive: true });
  const start = Math.floor(Math.random() * blocks);
  for (let i = 0; i < blocks; i++) {
    const lo = first + ((start + i) % blocks) * size;
    const file = join(PORT_BLOCK_DIR, String(lo));
    const claim = PidLock.tryCreate(file);
    if (claim) return { lo, release: () => claim.release() };
  }
  throw new Error(`no free block of ${size} ports in ${first}-${first + blocks * size - 1}: every one is claimed in ${PORT_BLOCK_DIR}`);
}

/**
 * Drops the claims whose owner is gone (a test killed by a timeout). Only where no claim can be made
 * at the same time (scripts/run-tests.mjs, before the suite): a claimer that found a stale claim and
 * removed it could otherwise remove a fresh one in its place.
 */
export function releaseStalePortBlocks(): number {
  if (!existsSync(PORT_BLOCK_DIR)) return 0;
  let n = 0;
  for (const name of readdirSync(PORT_BLOCK_DIR)) {
    const file = join(PORT_BLOCK_DIR, name);
    if (lockHolder(file) === null) {
      rmSync(file, { force: true });
      n++;
    }
  }
  return n;
}
