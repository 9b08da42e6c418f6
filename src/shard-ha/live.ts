// The leader's latest probe of every storage node, as live figures for operators (`cluster-mgr status`,
// the status page, GET /api/v1/live): replication lag, threads, read-only. These are samples, so they
// never enter the Raft log (only conclusions do); they live in the leader's memory and are gone with
// its leadership.
import type { ProbeResult, ProbeStatus, IoThreadState } from '../storage-node/node-state.js';
import { mariadbGtid, type GtidMath } from '../storage-node/gtid.js';

export interface LiveNode {
  node: number;
  shard: number;
  /** When the probe started, ms since the epoch (the leader's clock). */
  at: number;
  probe: ProbeStatus;
  /** How long the probe took. */
  ms: number;
  readOnly: boolean | null;
  /** Replication from the node's source; null on a node that replicates from nobody. */
  io: IoThreadState | null;
  sqlRunning: boolean | null;
  /** Seconds_Behind_Master as the replica reports it; null while a thread is stopped. */
  secondsBehind: number | null;
  /** Transactions the shard's primary executed that this replica has not; null when unknown. */
  behindTrx: number | null;
  /** Semi-sync replicas connected to this node (meaningful on a primary). */
  semiSyncClients: number | null;
  error: string | null;
  /** The lag as operators read it (lagText): what `cluster-mgr status` and the status page show. */
  lag: string;
}

export interface LiveMetaNode {
  address: string;
  at: number;
  probe: ProbeStatus;
  readOnly: boolean | null;
  error: string | null;
}

export interface LiveProbes {
  /** The member whose probes these are (the leader). */
  observer: string;
  term: number;
  intervalMs: number;
  rounds: number;
  nodes: LiveNode[];
  meta: LiveMetaNode[];
}

/** One node's live figures from its probe; `primaryExecuted` is the shard primary's executed position. */
export function liveNode(shard: number, node: number, p: ProbeResult, primaryExecuted: string | null, gtid: GtidMath = mariadbGtid): LiveNode {
  const st = p.state;
  const repl = st?.replication ?? null;
  let behindTrx: number | null = null;
  if (st && repl && primaryExecuted !== null) {
    try {
      behindTrx = gtid.backlog(st.gtid.executed, primaryExecuted);
    } catch {
      behindTrx = null;
    }
  }
  const l: Omit<LiveNode, 'lag'> = {
    node,
    shard,
    at: p.at,
    probe: p.status,
    ms: Math.round(p.totalMs),
    readOnly: st ? st.readOnly : null,
    io: repl ? repl.io : null,
    sqlRunning: repl ? repl.sqlRunning : null,
    secondsBehind: repl ? repl.secondsBehind : null,
    behindTrx,
    semiSyncClients: st ? st.semiSync.masterClients : null,
    error: p.error ? `${p.error.code}: ${p.error.message}` : null,
  };
  return { ...l, lag: lagText(l) };
}

/** Short text for a replica's lag: "0 trx, 0s", "io connecting", "sql stopped", "-" when not known. */
export function lagText(l: Omit<LiveNode, 'lag'> | undefined): string {
  if (!l || l.probe !== 'ok' || l.io === null) return '-';
  if (l.io !== 'running') return `io ${l.io}`;
  if (l.sqlRunning === false) return 'sql stopped';
  const parts: string[] = [];
  if (l.behindTrx !== null) parts.push(`${l.behindTrx} trx`);
  if (l.secondsBehind !== null) parts.push(`${l.secondsBehind}s`);
  return parts.length > 0 ? parts.join(', ') : '-';
}
