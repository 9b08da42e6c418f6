// A digest of what the world shows (its canonical view, where secrets are already hidden). A replay
// from the redacted JetStream mirror and a live member compute the same value for the same log
// position, which is what an audit compares.
import { createHash } from 'node:crypto';
import type { World } from '../actors/index.js';

export function viewDigest(world: World): string {
  return createHash('sha256').update(JSON.stringify(world.view())).digest('hex');
}
