// One probe of a storage node: reachability, read_only, GTID positions, replication threads and their
// errors, lag, semi-sync state. Errors are classified, because a busy primary must never look dead:
// "too many connections" means the server is alive.
import type { NodeState, ProbeError, ProbeResult, ProbeStatus } from './node-state.js';
import { errorCode, errorErrno, type StorageNode } from './storage-node.js';

export interface ProbeOptions {
  /** Overall deadline of one probe, ms: past it the node counts as unreachable. Default 1500. */
  deadlineMs?: number;
  signal?: AbortSignal;
}

/** Server errors meaning "alive but refusing work for now". */
const BUSY_ERRNOS = new Set([
  1040, // ER_CON_COUNT_ERROR: too many connections
  1203, // ER_TOO_MANY_USER_CONNECTIONS: max_user_connections
  1205, // ER_LOCK_WAIT_TIMEOUT
  1226, // ER_USER_LIMIT_REACHED: max_questions / max_connections_per_hour
  1213, // ER_LOCK_DEADLOCK
]);

/** Server errors meaning our account, grants or flavor do not fit the node. */
const MISCONFIGURED_ERRNOS = new Set([
  1044, // ER_DBACCESS_DENIED_ERROR
  1045, // ER_ACCESS_DENIED_ERROR
  1129, // ER_HOST_IS_BLOCKED
  1130, // ER_HOST_NOT_PRIVILEGED
  1142, // ER_TABLEACCESS_DENIED_ERROR
  1193, // ER_UNKNOWN_SYSTEM_VARIABLE: wrong flavor
  1227, // ER_SPECIFIC_ACCESS_DENIED_ERROR
  1251, // ER_NOT_SUPPORTED_AUTH_MODE
  1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
]);

/** Server errors that still mean "going away". */
const DOWN_ERRNOS = new Set([
  1053, // ER_SERVER_SHUTDOWN
  1927, // ER_CONNECTION_KILLED
  4031, // ER_CLIENT_INTERACTION_TIMEOUT
]);

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'DEADLINE',
]);

/**
 * Classifies a driver error. Unknown errors count as alive (alive-error), never as unreachable: a
 * bug in our own parsing must not look like a dead primary.
 */
export function classifyError(e: unknown): ProbeStatus {
  const errno = errorErrno(e);
  const code = errorCode(e);
  if (UNREACHABLE_CODES.has(code)) return 'unreachable';
  if (errno !== null) {
    if (BUSY_ERRNOS.has(errno)) return 'alive-busy';
    if (MISCONFIGURED_ERRNOS.has(errno)) return 'misconfigured';
    if (DOWN_ERRNOS.has(errno)) return 'unreachable';
    // Client-side connection errors (CR_*) carry errnos in the 2000 range.
    if (errno === 2002 || errno === 2003 || errno === 2006 || errno === 2013) return 'unreachable';
  }
  return 'alive-error';
}

function describe(e: unknown): ProbeError {
  return {
    code: errorCode(e) || (e instanceof Error ? e.name : 'ERROR'),
    errno: errorErrno(e),
    message: e instanceof Error ? e.message : String(e),
  };
}

/** A single probe with no memory of earlier ones (progressAgeMs stays null). */
export async function probeNode(node: StorageNode, o: ProbeOptions = {}): Promise<ProbeResult> {
  const at = Date.now();
  const t0 = performance.now();
  try {
    const { value, connectMs } = await node.session((sql) => node.flavor.readState(sql), {
      deadlineMs: o.deadlineMs ?? 1_500,
      signal: o.signal,
    });
    return {
      node: node.id,
      address: node.address,
      status: 'ok',
      at,
      connectMs: Math.round(connectMs),
      totalMs: Math.round(performance.now() - t0),
      error: null,
      state: value,
    };
  } catch (e) {
    if (o.signal?.aborted) throw e;
    return {
      node: node.id,
      address: node.address,
      status: classifyError(e),
      at,
      connectMs: null,
      totalMs: Math.round(performance.now() - t0),
      error: describe(e),
      state: null,
    };
  }
}

/**
 * Probes one node again and again and remembers when its replication IO thread last made progress
 * (a heartbeat or an event read). A hung source (SIGSTOP, a partition) keeps the IO thread "running"
 * until the net timeout; a frozen heartbeat count shows it within two heartbeat periods.
 */
export class NodeProber {
  private last: { key: string; since: number } | null = null;

  constructor(
    readonly node: StorageNode,
    readonly opts: ProbeOptions = {},
  ) {}

  /** `deadlineMs` overrides the prober's own for this probe (a node already suspected is asked briefly). */
  async probe(deadlineMs?: number): Promise<ProbeResult> {
    const r = await probeNode(this.node, deadlineMs === undefined ? this.opts : { ...this.opts, deadlineMs });
    this.track(r.state, r.at);
    return r;
  }

  private track(state: NodeState | null, at: number): void {
    const rep = state?.replication;
    if (!rep || rep.io !== 'running') {
      this.last = null;
      return;
    }
    const key = `${rep.source}|${rep.heartbeats}|${rep.readPosition}|${rep.received}`;
    if (this.last === null) {
      // No history: progress age unknown.
      this.last = { key, since: at };
      return;
    }
    if (this.last.key !== key) {
      this.last = { key, since: at };
      rep.progressAgeMs = 0;
      return;
    }
    rep.progressAgeMs = at - this.last.since;
  }
}
