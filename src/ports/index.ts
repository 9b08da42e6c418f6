// The ports of a running member: the small interfaces through which the leader-side parts (jobs,
// shard HA, the XA resolver, the metadata projection, the members reconciler), the metrics and the
// HTTP API reach it. Each consumer declares what it uses as a combination of these (JobRuntime in
// src/jobs/engine.ts, HaRuntime in src/shard-ha/ports.ts, …); ManagerRuntime (src/member/runtime.ts)
// implements all of them and hands itself over typed as the consumer's port, and a test builds just
// the port it needs. Types only, importing nothing from src/member: every consumer can depend on this
// module without an import cycle.
import type { ApplyResult, Command, Refusal, World } from '../actors/index.js';
import type { Config } from '../config/load.js';
import type { Cause } from '../events/index.js';
import type { RaftNode } from '../raft/node/index.js';

/** The outcome of a command executed on the leader. */
export type ExecResult =
  | { ok: true; index: number; result: ApplyResult }
  | { ok: false; kind: 'refused'; refusal: Refusal }
  | { ok: false; kind: 'not_leader'; leader: string | null }
  | { ok: false; kind: 'rejected_at_apply'; index: number; reason: string }
  | { ok: false; kind: 'unknown_outcome'; reason: string };

/** Checks a command against the world on the leader, proposes its events, waits until they are applied. */
export interface Proposer {
  execute(cmd: Command, cause: Cause): Promise<ExecResult>;
}

/** The applied world. It is replaced when a snapshot is restored: read it each time, do not keep it. */
export interface WorldReader {
  readonly world: World;
}

/** Called after every applied batch with the aggregates it changed ('*' after a snapshot restore). */
export type ChangeListener = (changed: ReadonlySet<string>, results: readonly ApplyResult[]) => void;

/** The applied world and its changes, on every member. */
export interface WorldChanges extends WorldReader {
  onChange(l: ChangeListener): void;
}

/** This member's configuration. */
export interface ConfigReader {
  readonly cfg: Config;
}

/** This member's view of the manager group's leadership. */
export interface LeaderState {
  readonly isLeader: boolean;
  readonly term: number;
  /** The leader's member id, or null while there is none. */
  readonly leader: string | null;
}

/** A linearizable read: resolves once this member has applied everything committed before the call. */
export type ReadBarrier = Pick<RaftNode, 'readIndex'>;

/** The Raft operations raft_mission jobs perform (membership and leadership transfer). */
export type RaftControl = Pick<RaftNode, 'isLeader' | 'status' | 'proposeConfChange' | 'setPeerAddress' | 'transferLeadership'>;

/** How far the leader has projected the world into kunlun_metadata_db (index 0: not yet in this process). */
export interface ProjectionState {
  readonly lastProjected: { readonly index: number; readonly term: number };
}
