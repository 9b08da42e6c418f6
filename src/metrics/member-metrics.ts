// Every Prometheus metric a cluster_mgr member exports, in one place (README "Metrics" lists them).
// One registry per member: tests run several members in one process, and the global default registry
// would mix them. Gauges that mirror state (Raft indexes, node health, lag) are read when scraped
// (collect callbacks), so the paths that change that state pay nothing; only events that must be
// counted or timed (a job ending, a probe, a proposal, an fsync) touch a metric where they happen.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NodeView } from '../actors/index.js';
import type { JetStreamMirror } from '../mirror/jetstream-mirror.js';
import type { ConfigReader, ProjectionState, WorldChanges } from '../ports/index.js';
import type { FailedRow } from '../metadata/index.js';
import type { RaftNode } from '../raft/node/index.js';
import type { LiveNode } from '../shard-ha/live.js';
import type { FailoverOutcome, LiveReader } from '../shard-ha/ports.js';
import type { JobOutcome } from '../jobs/engine.js';
import { JOB_DEFINITIONS } from '../jobs/types/index.js';
import { VERSION } from '../version.js';

/** Histogram buckets (seconds) for things that take from under a millisecond to a few seconds. */
const FAST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Jobs and failovers: seconds to hours. */
const SLOW_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];
/** Failure detection: one to many probe intervals. */
const DETECT_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120];

/** Every storage-node health and repair state, exported as 0/1 state sets (stable series for alerts). */
const HEALTH_STATES = ['alive', 'busy', 'unreachable', 'dead', 'unknown'] as const;
const REPAIR_STATES = ['ok', 'fenced', 'needs_rebuild'] as const;
const NODE_LABELS = ['cluster', 'shard', 'node', 'address'] as const;

/** What the scrape-time collectors read of the running member (ManagerRuntime implements it). */
export interface MetricsSource extends WorldChanges, ConfigReader, LiveReader {
  readonly isLeader: boolean;
  readonly node: Pick<RaftNode, 'term' | 'status' | 'applied' | 'leader' | 'metrics' | 'on'>;
  readonly mirror: Pick<JetStreamMirror, 'status'> | null;
  readonly metadata: ProjectionState & { failedRows(): readonly FailedRow[] };
}

export class MemberMetrics {
  readonly registry = new Registry();
  private rt: MetricsSource | null = null;
  /** World index of the latest applied entry that changed something: what the mirror and the
   *  projection must reach (an entry refused at apply changes nothing and triggers neither). */
  private lastChange = 0;

  // ---- Raft ----
  readonly proposalSeconds: Histogram;
  readonly walFsyncSeconds: Histogram;
  private readonly leaderChanges: Counter;
  // ---- jobs ----
  private readonly jobsFinished: Counter<'job_type' | 'outcome'>;
  private readonly jobSeconds: Histogram<'job_type' | 'outcome'>;
  // ---- shard HA ----
  private readonly probeSeconds: Histogram<'result'>;
  private readonly failovers: Counter<'outcome'>;
  private readonly detectionSeconds: Histogram;
  private readonly promotionSeconds: Histogram;
  // ---- HTTP ----
  private readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  private readonly httpSeconds: Histogram<'method' | 'route'>;
  private readonly httpRefused: Counter<'reason'>;

  constructor() {
    const registers = [this.registry];
    const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> =>
      new Counter<L>({ name, help, labelNames, registers });
    const histogram = <L extends string = never>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []): Histogram<L> =>
      new Histogram<L>({ name, help, labelNames, buckets, registers });
    /** A gauge rebuilt at every scrape from the running member: series of things gone disappear, and
     *  `fill` sets none where the figure does not apply (e.g. a follower's mirror lag). */
    const scraped = <L extends string = never>(name: string, help: string, fill: (g: Gauge<L>, r: MetricsSource) => void, labelNames: readonly L[] = []): void => {
      const member = (): MetricsSource | null => this.rt;
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          // reset() alone leaves an unlabelled gauge at 0.
          if (labelNames.length === 0) this.remove();
          const r = member();
          if (r !== null) fill(this, r);
        },
      });
    };
    /** A counter whose value raft-node's metrics() keeps: set when scraped. */
    const raftCounter = (name: string, help: string, read: (m: ReturnType<MetricsSource['node']['metrics']>) => number): void => {
      const member = (): MetricsSource | null => this.rt;
      new Counter({
        name,
        help,
        registers,
        collect() {
          const r = member();
          if (r === null) return;
          this.reset();
          this.inc(read(r.node.metrics()));
        },
      });
    };
    const nodeLabels = (n: NodeView): Record<(typeof NODE_LABELS)[number], string> => ({ cluster: String(n.cluster), shard: String(n.shard), node: String(n.id), address: `${n.hostaddr}:${n.port}` });

    scraped('cluster_mgr_info', 'Always 1; labels name this member and its version.', (g, r) => g.set({ member: r.cfg.selfId, version: VERSION }, 1), ['member', 'version']);

    // ---- Raft ----
    scraped('cluster_mgr_raft_term', 'Current Raft term of this member.', (g, r) => g.set(r.node.term));
    scraped('cluster_mgr_raft_commit_index', 'Highest Raft log index this member knows to be committed.', (g, r) => g.set(r.node.status().commit));
    scraped('cluster_mgr_raft_applied_index', 'Highest Raft log index applied to this member\'s world.', (g, r) => g.set(r.node.applied));
    scraped('cluster_mgr_raft_is_leader', '1 when this member is the Raft leader (the only one that acts).', (g, r) => g.set(r.isLeader ? 1 : 0));
    scraped('cluster_mgr_raft_has_leader', '1 when this member knows a leader of the group.', (g, r) => g.set(r.node.leader !== null ? 1 : 0));
    this.leaderChanges = counter('cluster_mgr_raft_leader_changes_total', 'Times this member saw the group\'s leader change (including to no leader).');
    raftCounter('cluster_mgr_raft_proposals_total', 'Entries this member proposed as leader.', (m) => m.proposals);
    raftCounter('cluster_mgr_raft_snapshots_total', 'Snapshots this member took of its world (the log is compacted behind them).', (m) => m.snapshots);
    raftCounter('cluster_mgr_raft_wal_fsyncs_total', 'Write-ahead log group commits (one write and fdatasync each).', (m) => m.storage.batches);
    raftCounter('cluster_mgr_raft_wal_written_bytes_total', 'Bytes written to the write-ahead log.', (m) => m.storage.bytes);
    raftCounter('cluster_mgr_raft_messages_dropped_total', 'Raft messages to peers dropped (queue full or peer down).', (m) => m.transport.dropped);
    raftCounter('cluster_mgr_raft_connections_refused_total', 'Inbound Raft connections refused: no or bad handshake, another group or recipient, the group\'s secret not proven.', (m) => m.transport.rejectedConnections);
    scraped(
      'cluster_mgr_raft_peer_connected',
      '1 while this member\'s connection to a peer is up.',
      (g, r) => {
        for (const [peer, pm] of Object.entries(r.node.metrics().transport.peers)) g.set({ peer }, pm.connected ? 1 : 0);
      },
      ['peer'],
    );
    this.proposalSeconds = histogram('cluster_mgr_raft_proposal_duration_seconds', 'From proposing a command\'s events to their being committed and applied on the leader.', FAST_BUCKETS);
    this.walFsyncSeconds = histogram('cluster_mgr_raft_wal_fsync_duration_seconds', 'Duration of each write-ahead log fdatasync.', FAST_BUCKETS);

    // ---- jobs ----
    this.jobsFinished = counter('cluster_mgr_jobs_finished_total', 'Jobs this member ended as leader, by job type and outcome (done, failed).', ['job_type', 'outcome']);
    // Series that exist from the start: increase() sees the first one counted too.
    for (const { name: job_type } of JOB_DEFINITIONS.all.filter((d) => d.kind === 'job')) for (const outcome of ['done', 'failed'] as const) this.jobsFinished.inc({ job_type, outcome }, 0);
    this.jobSeconds = histogram('cluster_mgr_job_duration_seconds', 'From a job\'s creation to its end, by job type and outcome.', SLOW_BUCKETS, ['job_type', 'outcome']);
    scraped(
      'cluster_mgr_jobs_active',
      'Jobs that have not ended, by job type (from the replicated log: every member).',
      (g, r) => {
        const n = new Map<string, number>();
        for (const id of r.world.activeJobs()) {
          const j = r.world.job(id);
          if (j !== null) n.set(j.jobType, (n.get(j.jobType) ?? 0) + 1);
        }
        for (const [job_type, v] of n) g.set({ job_type }, v);
      },
      ['job_type'],
    );

    // ---- shard HA ----
    this.probeSeconds = histogram(
      'cluster_mgr_storage_probe_duration_seconds',
      'Duration of the leader\'s probes of storage nodes, by result (ok, alive-busy, alive-error, misconfigured, unreachable).',
      FAST_BUCKETS,
      ['result'],
    );
    this.failovers = counter('cluster_mgr_failovers_total', 'Automatic failovers this member ended as leader, by outcome (finished: a new primary; aborted: none promoted).', ['outcome']);
    for (const outcome of ['finished', 'aborted'] as const) this.failovers.inc({ outcome }, 0);
    this.detectionSeconds = histogram('cluster_mgr_failover_detection_duration_seconds', 'From the first dead verdict on a primary to its death being confirmed (corroborated over consecutive probes).', DETECT_BUCKETS);
    this.promotionSeconds = histogram('cluster_mgr_failover_promotion_duration_seconds', 'From the start of an automatic failover to its new primary being recorded.', SLOW_BUCKETS);
    const nodeStates = (name: string, help: string, label: string, states: readonly string[], read: (n: NodeView) => string): void =>
      scraped(
        name,
        help,
        (g, r) => {
          for (const id of r.world.ids('node')) {
            const n = r.world.node(id);
            if (n === null) continue;
            const cur = read(n);
            for (const st of states) g.set({ ...nodeLabels(n), [label]: st }, st === cur ? 1 : 0);
          }
        },
        [...NODE_LABELS, label],
      );
    nodeStates('cluster_mgr_storage_node_health', 'Health of each storage node as concluded in the log (1 for its current state, 0 for the others).', 'health', HEALTH_STATES, (n) => n.health);
    nodeStates('cluster_mgr_storage_node_repair', 'Repair state of each storage node (ok, fenced after a failover, needs_rebuild), 1 for the current one.', 'repair', REPAIR_STATES, (n) => n.repair);
    scraped(
      'cluster_mgr_shard_failover_in_progress',
      '1 while a failover or switchover task of the shard runs.',
      (g, r) => {
        for (const id of r.world.ids('shard')) {
          const sh = r.world.shard(id);
          if (sh !== null) g.set({ cluster: String(sh.cluster), shard: String(sh.id) }, sh.task !== null ? 1 : 0);
        }
      },
      ['cluster', 'shard'],
    );
    // The leader's latest probes (GET /api/v1/live): exported by the leader only.
    const liveGauge = (name: string, help: string, read: (l: LiveNode) => number | null): void =>
      scraped(
        name,
        help,
        (g, r) => {
          for (const l of r.live()?.nodes ?? []) {
            const v = read(l);
            const n = r.world.node(l.node);
            if (v !== null && n !== null) g.set(nodeLabels(n), v);
          }
        },
        NODE_LABELS,
      );
    liveGauge('cluster_mgr_storage_replication_lag_seconds', 'Seconds_Behind_Master of each replica (leader\'s latest probe; absent while a thread is stopped).', (l) => l.secondsBehind);
    liveGauge('cluster_mgr_storage_replication_lag_transactions', 'Transactions the shard primary executed that the replica has not (leader\'s latest probe).', (l) => l.behindTrx);
    liveGauge('cluster_mgr_storage_replication_running', '1 when both replication threads of a replica run, 0 when one is stopped (replicas only).', (l) =>
      l.io === null ? null : l.io === 'running' && l.sqlRunning !== false ? 1 : 0,
    );

    // ---- the JetStream mirror and the metadata projection (leader only) ----
    scraped('cluster_mgr_mirror_lag_entries', 'Raft entries with events the leader applied but has not yet mirrored to JetStream.', (g, r) => {
      if (r.mirror !== null && r.isLeader) g.set(Math.max(0, this.lastChange - r.mirror.status().mirroredIndex));
    });
    scraped('cluster_mgr_mirror_connected', '1 while the leader\'s event mirror is connected to NATS.', (g, r) => {
      if (r.mirror !== null && r.isLeader) g.set(r.mirror.status().connected ? 1 : 0);
    });
    scraped('cluster_mgr_projection_lag_entries', 'Raft entries with changes the leader applied but has not yet projected into kunlun_metadata_db.', (g, r) => {
      if (r.isLeader && r.cfg.metaSeeds.length > 0) g.set(Math.max(0, this.lastChange - r.metadata.lastProjected.index));
    });
    scraped('cluster_mgr_projection_failed_rows', 'Rows of kunlun_metadata_db the leader cannot write (left as they are and retried alone), by table.', (g, r) => {
      if (!r.isLeader || r.cfg.metaSeeds.length === 0) return;
      const byTable = new Map<string, number>();
      for (const f of r.metadata.failedRows()) byTable.set(f.table, (byTable.get(f.table) ?? 0) + 1);
      for (const [table, n] of byTable) g.set({ table }, n);
    }, ['table']);

    // ---- HTTP ----
    this.httpRequests = counter('cluster_mgr_http_requests_total', 'HTTP requests answered, by method, route pattern and status code.', ['method', 'route', 'status']);
    this.httpSeconds = histogram('cluster_mgr_http_request_duration_seconds', 'HTTP request durations by method and route pattern.', FAST_BUCKETS, ['method', 'route']);
    this.httpRefused = counter('cluster_mgr_http_refused_total', 'API requests refused by access control, by reason (no_token, bad_token, role, origin).', ['reason']);
  }

  /** Connects the scrape-time collectors to the running member. */
  attach(rt: MetricsSource): void {
    this.rt = rt;
    this.lastChange = rt.world.applied;
    rt.onChange((changed) => {
      if (changed.size > 0) this.lastChange = rt.world.applied;
    });
    // The node reports role changes too (follower → candidate): count only a different leader.
    let last = rt.node.leader;
    rt.node.on('leaderChange', (c) => {
      if (c.leader === last) return;
      last = c.leader;
      this.leaderChanges.inc();
    });
  }

  jobEnded(jobType: string, outcome: JobOutcome, createdAt: number, now = Date.now()): void {
    this.jobsFinished.inc({ job_type: jobType, outcome });
    this.jobSeconds.observe({ job_type: jobType, outcome }, Math.max(0, now - createdAt) / 1000);
  }

  probed(result: string, ms: number): void {
    this.probeSeconds.observe({ result }, ms / 1000);
  }

  /** A primary's death confirmed; `since`: when its run of dead verdicts began. */
  deadConfirmed(since: number, now = Date.now()): void {
    this.detectionSeconds.observe(Math.max(0, now - since) / 1000);
  }

  failoverEnded(outcome: FailoverOutcome, startedAt: number | null, now = Date.now()): void {
    this.failovers.inc({ outcome });
    if (outcome === 'finished' && startedAt !== null) this.promotionSeconds.observe(Math.max(0, now - startedAt) / 1000);
  }

  /** API requests refused by access control; src/http/refusals.ts names the reasons (and creates
   *  every series at 0 when the API starts, so alerts see them from the start). */
  httpRefusal(reason: string, n = 1): void {
    this.httpRefused.inc({ reason }, n);
  }

  httpAnswered(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpSeconds.observe({ method, route }, seconds);
  }
}
