// Types shared by the Raft core (I/O-free), its storage (WAL, snapshots) and its transport (TCP).
// The core owns the meaning of every field; storage and transport only persist and carry them.

/** A member of the manager group, e.g. "m1". Stable for the life of the member's data dir. */
export type MemberId = string;

export type EntryKind = 'normal' | 'conf' | 'noop';

/** One log entry. `data` is opaque to Raft: the event codec lives in src/events. */
export interface Entry {
  term: number;
  index: number;
  kind: EntryKind;
  data: Uint8Array;
}

/** What must be on disk before a vote or an append is acknowledged. */
export interface HardState {
  term: number;
  vote: MemberId | null;
  commit: number;
}

/** Voters and learners as of a log position. */
export interface ConfState {
  voters: MemberId[];
  learners: MemberId[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
}

/** A state-machine snapshot: everything applied up to and including `meta.index`. */
export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}
