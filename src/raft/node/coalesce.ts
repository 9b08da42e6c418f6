// Trimming a Ready's outgoing messages before they hit the network.

import type { Message } from '../types.js';

/**
 * Indexes of empty appends (commit updates) followed, in the same batch, by another append to the
 * same member in the same term carrying at least that commit: the later one says everything the
 * earlier one does. Dropping them is a message loss Raft tolerates, and saves the follower a round.
 */
export function supersededAppends(msgs: readonly Message[]): Set<number> | null {
  let out: Set<number> | null = null;
  const later = new Map<string, { commit: number; term: number }>();
  for (let i = msgs.length - 1; i >= 0; i--) {
    const m = msgs[i] as Message;
    if (m.type !== 'app') continue;
    const l = later.get(m.to);
    if (m.entries.length === 0 && l && l.term === m.term && l.commit >= m.commit) {
      out ??= new Set<number>();
      out.add(i);
      continue;
    }
    if (!l || m.commit > l.commit || m.term !== l.term) later.set(m.to, { commit: m.commit, term: m.term });
  }
  return out;
}
