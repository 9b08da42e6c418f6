// What a World holds: one record per live aggregate (its machine state and context), the counters the
// leader assigns ids from, the chain head and applied index, and indexes derived from the records.
import type { AggId, AggKind } from '../events/envelope.js';
import type { Ctxs, KeyOf } from './logics.js';

/** A live aggregate: `s` is its interned machine state (see Runner), `c` its context. Immutable. */
export interface Rec<C> {
  readonly s: number;
  readonly c: C;
}

export type Stores = { [K in AggKind]: Map<KeyOf<K>, Rec<Ctxs[K]>> };

/** Next ids the leader assigns; ids only grow, so a deleted id is never reused. */
export interface Counters {
  cluster: number;
  shard: number;
  node: number;
  comp: number;
  job: number;
  /** Failover/switchover task ids (rbr_consfailover.taskid). */
  task: number;
}

export interface Leader {
  member: string;
  term: number;
}

/** A kunlun_metadata_db row the leader cannot write (manager.projection_row_failed), until cleared. */
export interface ProjectionFailure {
  table: string;
  /** The row's id. */
  key: string;
  reason: string;
  /** When it was first reported with this reason (the leader's stamp). */
  since: number;
  /** The member that reported it. */
  by: string;
}

export class WorldState {
  readonly stores: Stores = {
    machine: new Map(),
    cluster: new Map(),
    shard: new Map(),
    node: new Map(),
    comp: new Map(),
    job: new Map(),
    manager: new Map(),
    backup_storage: new Map(),
  };
  next: Counters = { cluster: 1, shard: 1, node: 1, comp: 1, job: 1, task: 1 };
  leader: Leader | null = null;
  /** Rows the projection leaves out, by table then key; replaced whole on every change. */
  projectionFailures: readonly ProjectionFailure[] = [];
  /** Raft index of the last entry applied (accepted or refused). */
  applied = 0;
  /** Number of committed events; the chain position of the last one. */
  seq = 0;
  /** The chain head as a 32-character binary (latin1) string. */
  head: string = '\0'.repeat(32);

  // Indexes: derived from the records, rebuilt on restore, never serialized.
  readonly clusterByName = new Map<string, number>();
  readonly shardsOf = new Map<number, Set<number>>();
  /** `${cluster}/${name}` -> shard */
  readonly shardByName = new Map<string, number>();
  readonly nodesOf = new Map<number, Set<number>>();
  readonly compsOf = new Map<number, Set<number>>();
  /** `${cluster}/${name}` -> comp */
  readonly compByName = new Map<string, number>();
  /** `${host}:${port}` -> the node or comp listening there */
  readonly endpoints = new Map<string, AggId>();
  /** `${host}|${role}` -> ports used on that machine role */
  readonly hostPorts = new Map<string, Set<number>>();
  /** lock -> the job holding it */
  readonly locks = new Map<string, number>();
  readonly activeJobs = new Set<number>();
}
