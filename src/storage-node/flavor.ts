// The SQL that differs between MariaDB (here) and MySQL 8 (kunlun-storage) sits behind this small
// interface: reading a node's state, replication control, read-only and semi-sync switches, waiting
// for apply, and listing sessions. Failover steps and the probe are written against it.
import type { GtidMath } from './gtid.js';
import type { NodeState } from './node-state.js';
import type { Credentials, Endpoint } from './replication.js';

export type Row = Record<string, unknown>;

/** A connection seen as "run this parameterized statement"; timeouts and aborts are applied by the caller. */
export interface Sql {
  query(sql: string, params?: readonly unknown[], timeoutMs?: number): Promise<Row[]>;
}

export interface ReplicateOptions {
  /** Source heartbeat period, s: with the replica's net timeout it bounds how fast a dead source is noticed. */
  heartbeatSec: number;
  connectRetrySec: number;
}

export interface Session {
  id: number;
  user: string;
  command: string;
  state: string;
  timeSec: number;
}

export interface Flavor {
  readonly name: string;
  readonly gtid: GtidMath;
  readState(sql: Sql): Promise<NodeState>;
  stopIoThread(sql: Sql): Promise<void>;
  stopReplication(sql: Sql): Promise<void>;
  startReplication(sql: Sql): Promise<void>;
  /** Forgets the replication configuration and relay logs. */
  resetReplication(sql: Sql): Promise<void>;
  /**
   * Configures (does not start) replication from `source`, continuing after `executed`, the node's
   * executed position. Replication must be stopped.
   */
  configureReplication(
    sql: Sql,
    source: Endpoint,
    repl: Credentials,
    executed: string,
    opts: ReplicateOptions,
  ): Promise<void>;
  setReadOnly(sql: Sql, on: boolean): Promise<void>;
  setSemiSync(sql: Sql, sides: { master?: boolean; slave?: boolean }): Promise<void>;
  /** Waits up to `timeoutMs` for the applier to reach `position`; true when reached. */
  waitApplied(sql: Sql, position: string, timeoutMs: number): Promise<boolean>;
  sessions(sql: Sql): Promise<Session[]>;
  /** Replication, server-internal and scheduler threads: never killed when fencing. */
  isInternalSession(s: Session): boolean;
  currentSessionId(sql: Sql): Promise<number>;
  /** Kills a session's connection; a session that is already gone is not an error. */
  killSession(sql: Sql, id: number): Promise<void>;
}
