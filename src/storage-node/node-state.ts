// What a probe learns about a storage node, as plain data: the decision functions in src/shard-ha/decide take these
// and nothing else, so they can be tested with hand-written values.

export type IoThreadState = 'running' | 'connecting' | 'stopped';

export interface ReplicationState {
  /** host:port the node replicates from, as configured on it. */
  source: string;
  /** server_id of the source it last talked to (null when unknown). */
  sourceServerId: number | null;
  io: IoThreadState;
  sqlRunning: boolean;
  ioErrno: number;
  ioError: string;
  sqlErrno: number;
  sqlError: string;
  /** Seconds_Behind_Master; null while the IO or SQL thread is not running. */
  secondsBehind: number | null;
  heartbeatPeriodSec: number;
  /** Heartbeats received from the source since the IO thread started. */
  heartbeats: number;
  /** Binlog coordinates read from the source, "file:pos". */
  readPosition: string;
  /** Position received by the IO thread (flavor notation); '' when nothing received yet. */
  received: string;
  /**
   * How long the IO thread has shown no progress (no heartbeat, no event read), ms. Filled in by a
   * NodeProber from consecutive probes; null when unknown (first probe, or thread not running).
   */
  progressAgeMs: number | null;
}

export interface SemiSyncState {
  masterEnabled: boolean;
  /** Semi-sync actually in effect on the master side (it falls back to async when it gives up). */
  masterActive: boolean;
  masterClients: number;
  /** Sessions waiting for an ACK right now. */
  masterWaitSessions: number;
  slaveEnabled: boolean;
  slaveActive: boolean;
}

export interface NodeState {
  flavor: string;
  serverId: number;
  version: string;
  readOnly: boolean;
  gtidStrictMode: boolean;
  logReplicaUpdates: boolean;
  gtid: {
    /** What the node executed (binlogged or applied), flavor position notation. */
    executed: string;
    /** What the IO thread received; null when the node is not a replica. */
    received: string | null;
    /** The node's binlogged history for errant checks (MariaDB: gtid_binlog_state). */
    history: string;
  };
  /** Null when the node has no replication configured (a primary, or a fresh node). */
  replication: ReplicationState | null;
  semiSync: SemiSyncState;
  threadsConnected: number;
}

/**
 * ok: answered every probe query. alive-busy: answered, but refuses work for now (too many
 * connections, lock wait timeout): not dead. alive-error: answered with an unexpected error.
 * unreachable: refused, reset, or silent past the deadline. misconfigured: answered, but our account
 * or privileges are wrong.
 */
export type ProbeStatus = 'ok' | 'alive-busy' | 'alive-error' | 'unreachable' | 'misconfigured';

export interface ProbeError {
  /** Driver or system code: ER_CON_COUNT_ERROR, ECONNREFUSED, PROBE_DEADLINE, ... */
  code: string;
  errno: number | null;
  message: string;
}

export interface ProbeResult {
  /** The node's id as the caller names it. */
  node: string;
  /** The node's own address (what its replicas connect to), host:port. */
  address: string;
  status: ProbeStatus;
  /** Wall clock when the probe started, ms since the epoch. */
  at: number;
  /** Time to obtain a connection (0 when a pooled one was reused); null when none was obtained. */
  connectMs: number | null;
  totalMs: number;
  error: ProbeError | null;
  /** Present exactly when status is 'ok'. */
  state: NodeState | null;
}
