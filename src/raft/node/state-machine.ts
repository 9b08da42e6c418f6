// What the driver applies committed entries to. Implementations must be deterministic: every member
// applies the same entries in the same order and must reach the same state.

import type { Entry } from '../types.js';

export interface StateMachine {
  /**
   * Applies committed `normal` entries, in log order. May return one result per entry (same order):
   * the leader's propose() promise for that entry resolves with it.
   */
  apply(entries: readonly Entry[]): readonly unknown[] | void;
  /** The whole state as of the last applied entry. Called synchronously right after an apply. */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot's data (at start, or when the leader sends one). */
  restore(data: Uint8Array): void;
}
