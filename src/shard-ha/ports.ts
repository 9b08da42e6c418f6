// What shard HA (probe observer, failover and rejoin reconcilers) uses of the member: the world, the
// configuration, execute, the reconciler host to wake the failover reconciler on a probe's verdict
// (not an applied event) and the metrics it records. ManagerRuntime implements it.
import type { Logger } from '../log/logger.js';
import type { ConfigReader, Proposer, WorldReader } from '../ports/index.js';
import type { ReconcilerHost } from '../reconcile/host.js';
import type { LiveProbes } from './live.js';

export type FailoverOutcome = 'finished' | 'aborted';

/** The metrics shard HA records. */
export interface HaMetrics {
  probed(result: string, ms: number): void;
  /** A primary's death confirmed; `since`: when its run of dead verdicts began. */
  deadConfirmed(since: number): void;
  failoverEnded(outcome: FailoverOutcome, startedAt: number | null): void;
}

export interface HaRuntime extends WorldReader, ConfigReader, Proposer {
  readonly log: Logger;
  readonly host: Pick<ReconcilerHost, 'changed'>;
  readonly metrics: HaMetrics;
}

/** The leader's latest probes (GET /api/v1/live, the lag metrics); null on a follower or before the first. */
export interface LiveReader {
  live(): LiveProbes | null;
}
