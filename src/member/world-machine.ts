// The Raft state machine of a manager member: the World of actors. It applies committed entries (each
// one a batch of events), snapshots and restores the whole world, and tells listeners which
// aggregates changed so the leader's reconcilers and the mirror can react.
import { World, type ApplyResult } from '../actors/index.js';
import type { StateMachine } from '../raft/node/index.js';
import type { Entry } from '../raft/types.js';
import type { CommittedEntry, EntrySource } from '../mirror/jetstream-mirror.js';
import type { ChangeListener, WorldChanges } from '../ports/index.js';

export class WorldMachine implements StateMachine, EntrySource, WorldChanges {
  private w = new World();
  private readonly listeners: ChangeListener[] = [];
  /** Recently applied entries, for the event mirror (bounded: the mirror catches up from here). */
  private recent: CommittedEntry[] = [];

  /** `openSecret` opens the passwords the leader sealed (World.clusterSecret); the key stays out of apply. */
  constructor(
    private readonly keepEntries = 100_000,
    private readonly openSecret?: (sealed: string) => string,
  ) {
    if (openSecret) this.w.setSecretOpener(openSecret);
  }

  /** The current world (replaced when a snapshot is restored: do not keep the reference). */
  get world(): World {
    return this.w;
  }

  onChange(l: ChangeListener): void {
    this.listeners.push(l);
  }

  apply(entries: readonly Entry[]): ApplyResult[] {
    const results: ApplyResult[] = [];
    const changed = new Set<string>();
    for (const e of entries) {
      if (e.index <= this.w.applied) {
        // Already in the restored snapshot.
        results.push({ ok: false, index: e.index, pos: -1, code: 'refused', reason: 'already applied' });
        continue;
      }
      const r = this.w.applyEntry(e.index, e.data);
      if (r.ok) {
        for (const c of r.committed) changed.add(c.event.agg);
        this.recent.push({ index: e.index, term: e.term, kind: 'normal', data: e.data });
      }
      results.push(r);
    }
    if (this.recent.length > this.keepEntries * 1.25) {
      const cut = this.recent.length - this.keepEntries;
      this.oldestKnown = this.recent[cut - 1]!.index;
      this.recent = this.recent.slice(cut);
    }
    for (const l of this.listeners) l(changed, results);
    return results;
  }

  snapshot(): Uint8Array {
    return this.w.snapshot();
  }

  // ---- EntrySource (the mirror reads committed event batches from here) ----

  read(from: number, max: number): CommittedEntry[] | 'compacted' {
    const first = this.recent[0];
    if (!first) return from > this.w.applied ? [] : 'compacted';
    if (from < first.index) {
      // Only entries that carried no events (no-ops, membership) may be missing before the first one.
      return from > this.oldestKnown ? this.recent.slice(0, max) : 'compacted';
    }
    let lo = 0;
    let hi = this.recent.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.recent[mid]!.index < from) lo = mid + 1;
      else hi = mid;
    }
    return this.recent.slice(lo, lo + max);
  }

  appliedIndex(): number {
    return this.w.applied;
  }

  /** Entries up to this index were never in `recent` (before this process's first apply or restore). */
  private oldestKnown = 0;

  restore(data: Uint8Array): void {
    this.w = World.restore(data);
    if (this.openSecret) this.w.setSecretOpener(this.openSecret);
    this.recent = [];
    this.oldestKnown = this.w.applied;
    // Everything may have changed: listeners resync from the new world.
    for (const l of this.listeners) l(new Set(['*']), []);
  }
}
