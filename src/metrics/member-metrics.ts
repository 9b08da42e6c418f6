// Every Prometheus metric a cluster_mgr member exports, in one place (README "Metrics" lists them).
// One registry per member: tests run several members in one process, and the global default registry
// would mix them. Gauges that mirror state (Raft indexes, node health, lag) are read when scraped
// (collect callbacks), so the paths that change that state pay nothing; only events that must be
// counted or timed (a job ending, a probe, a proposal, an fsync) touch a metric where they happen.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ManagerRuntime } from '../member/runtime.js';
import { registeredJobTypes } from '../jobs/engine.js';
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

export type JobOutcome = 'done' | 'failed';
export type FailoverOutcome = 'finished' | 'aborted';

/** Leaves an unlabelled gauge without a sample (reset alone would export 0): "not applicable here". */
function clear(g: Gauge): void {
  g.reset();
  g.remove();
}

/** A counter whose value is kept elsewhere (raft-node's metrics()): set it when scraped. */
function setCounter(c: Counter, v: number): void {
  c.reset();
  if (v > 0) c.inc(v);
}

export class MemberMetrics {
  readonly registry = new Registry();
  private rt: ManagerRuntime | null = null;
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

  constructor() {
    const registers = [this.registry];
    const rt = (): ManagerRuntime | null => this.rt;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- collect() callbacks get the metric as `this`
    const self = this;

    new Gauge({
      name: 'cluster_mgr_info',
      help: 'Always 1; labels name this member and its version.',
      labelNames: ['member', 'version'],
      registers,
      collect() {
        this.reset();
        const r = rt();
        if (r !== null) this.set({ member: r.cfg.selfId, version: VERSION }, 1);
      },
    });

    // ---- Raft: read from the node when scraped ----
    const raftGauge = (name: string, help: string, read: (r: ManagerRuntime) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const r = rt();
          if (r !== null) this.set(read(r));
        },
      });
    };
    raftGauge('cluster_mgr_raft_term', 'Current Raft term of this member.', (r) => r.node.term);
    raftGauge('cluster_mgr_raft_commit_index', 'Highest Raft log index this member knows to be committed.', (r) => r.node.status().commit);
    raftGauge('cluster_mgr_raft_applied_index', 'Highest Raft log index applied to this member\'s world.', (r) => r.node.applied);
    raftGauge('cluster_mgr_raft_is_leader', '1 when this member is the Raft leader (the only one that acts).', (r) => (r.isLeader ? 1 : 0));
    raftGauge('cluster_mgr_raft_has_leader', '1 when this member knows a leader of the group.', (r) => (r.node.leader !== null ? 1 : 0));
    this.leaderChanges = new Counter({
      name: 'cluster_mgr_raft_leader_changes_total',
      help: 'Times this member saw the group\'s leader change (including to no leader).',
      registers,
    });
    const raftCounter = (name: string, help: string, read: (m: ReturnType<ManagerRuntime['node']['metrics']>) => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          const r = rt();
          if (r !== null) setCounter(this, read(r.node.metrics()));
        },
      });
    };
    raftCounter('cluster_mgr_raft_proposals_total', 'Entries this member proposed as leader.', (m) => m.proposals);
    raftCounter('cluster_mgr_raft_snapshots_total', 'Snapshots this member took of its world (the log is compacted behind them).', (m) => m.snapshots);
    raftCounter('cluster_mgr_raft_wal_fsyncs_total', 'Write-ahead log group commits (one write and fdatasync each).', (m) => m.storage.batches);
    raftCounter('cluster_mgr_raft_wal_written_bytes_total', 'Bytes written to the write-ahead log.', (m) => m.storage.bytes);
    raftCounter('cluster_mgr_raft_messages_dropped_total', 'Raft messages to peers dropped (queue full or peer down).', (m) => m.transport.dropped);
    new Gauge({
      name: 'cluster_mgr_raft_peer_connected',
      help: '1 while this member\'s connection to a peer is up.',
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        const r = rt();
        if (r === null) return;
        for (const [peer, pm] of Object.entries(r.node.metrics().transport.peers)) this.set({ peer }, pm.connected ? 1 : 0);
      },
    });
    this.proposalSeconds = new Histogram({
      name: 'cluster_mgr_raft_proposal_duration_seconds',
      help: 'From proposing a command\'s events to their being committed and applied on the leader.',
      buckets: FAST_BUCKETS,
      registers,
    });
    this.walFsyncSeconds = new Histogram({
      name: 'cluster_mgr_raft_wal_fsync_duration_seconds',
      help: 'Duration of each write-ahead log fdatasync.',
      buckets: FAST_BUCKETS,
      registers,
    });

    // ---- jobs ----
    this.jobsFinished = new Counter({
      name: 'cluster_mgr_jobs_finished_total',
      help: 'Jobs this member ended as leader, by job type and outcome (done, failed).',
      labelNames: ['job_type', 'outcome'],
      registers,
    });
    for (const job_type of registeredJobTypes()) for (const outcome of ['done', 'failed'] as const) this.jobsFinished.inc({ job_type, outcome }, 0);
    this.jobSeconds = new Histogram({
      name: 'cluster_mgr_job_duration_seconds',
      help: 'From a job\'s creation to its end, by job type and outcome.',
      labelNames: ['job_type', 'outcome'],
      buckets: SLOW_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'cluster_mgr_jobs_active',
      help: 'Jobs that have not ended, by job type (from the replicated log: every member).',
      labelNames: ['job_type'],
      registers,
      collect() {
        this.reset();
        const r = rt();
        if (r === null) return;
        const w = r.world;
        const n = new Map<string, number>();
        for (const id of w.activeJobs()) {
          const j = w.job(id);
          if (j !== null) n.set(j.jobType, (n.get(j.jobType) ?? 0) + 1);
        }
        for (const [job_type, v] of n) this.set({ job_type }, v);
      },
    });

    // ---- shard HA ----
    this.probeSeconds = new Histogram({
      name: 'cluster_mgr_storage_probe_duration_seconds',
      help: 'Duration of the leader\'s probes of storage nodes, by result (ok, alive-busy, alive-error, misconfigured, unreachable).',
      labelNames: ['result'],
      buckets: FAST_BUCKETS,
      registers,
    });
    this.failovers = new Counter({
      name: 'cluster_mgr_failovers_total',
      help: 'Automatic failovers this member ended as leader, by outcome (finished: a new primary; aborted: none promoted).',
      labelNames: ['outcome'],
      registers,
    });
    // Series that exist from the start: increase() sees the first failover too.
    for (const outcome of ['finished', 'aborted'] as const) this.failovers.inc({ outcome }, 0);
    this.detectionSeconds = new Histogram({
      name: 'cluster_mgr_failover_detection_duration_seconds',
      help: 'From the first dead verdict on a primary to its death being confirmed (corroborated over consecutive probes).',
      buckets: DETECT_BUCKETS,
      registers,
    });
    this.promotionSeconds = new Histogram({
      name: 'cluster_mgr_failover_promotion_duration_seconds',
      help: 'From the start of an automatic failover to its new primary being recorded.',
      buckets: SLOW_BUCKETS,
      registers,
    });
    const nodeStates = <S extends string>(name: string, help: string, label: string, states: readonly S[], read: (n: { health: string; repair: string }) => S): void => {
      new Gauge({
        name,
        help,
        labelNames: [...NODE_LABELS, label],
        registers,
        collect() {
          // Rebuilt at every scrape: series of deleted nodes disappear.
          this.reset();
          const r = rt();
          if (r === null) return;
          const w = r.world;
          for (const id of w.ids('node')) {
            const n = w.node(id);
            if (n === null) continue;
            const cur = read(n);
            const base = { cluster: String(n.cluster), shard: String(n.shard), node: String(n.id), address: `${n.hostaddr}:${n.port}` };
            for (const s of states) this.set({ ...base, [label]: s }, s === cur ? 1 : 0);
          }
        },
      });
    };
    nodeStates(
      'cluster_mgr_storage_node_health',
      'Health of each storage node as concluded in the log (1 for its current state, 0 for the others).',
      'health',
      HEALTH_STATES,
      (n) => n.health as (typeof HEALTH_STATES)[number],
    );
    nodeStates(
      'cluster_mgr_storage_node_repair',
      'Repair state of each storage node (ok, fenced after a failover, needs_rebuild), 1 for the current one.',
      'repair',
      REPAIR_STATES,
      (n) => n.repair as (typeof REPAIR_STATES)[number],
    );
    new Gauge({
      name: 'cluster_mgr_shard_failover_in_progress',
      help: '1 while a failover or switchover task of the shard runs.',
      labelNames: ['cluster', 'shard'],
      registers,
      collect() {
        this.reset();
        const r = rt();
        if (r === null) return;
        for (const id of r.world.ids('shard')) {
          const s = r.world.shard(id);
          if (s !== null) this.set({ cluster: String(s.cluster), shard: String(s.id) }, s.task !== null ? 1 : 0);
        }
      },
    });
    // The leader's latest probes (GET /api/v1/live): exported by the leader only.
    const liveGauge = (name: string, help: string, read: (n: NonNullable<ReturnType<ManagerRuntime['ha']['observer']['live']>>['nodes'][number]) => number | null): void => {
      new Gauge({
        name,
        help,
        labelNames: [...NODE_LABELS],
        registers,
        collect() {
          this.reset();
          const r = rt();
          const live = r?.ha.observer.live() ?? null;
          if (r === null || live === null) return;
          for (const l of live.nodes) {
            const v = read(l);
            const n = r.world.node(l.node);
            if (v === null || n === null) continue;
            this.set({ cluster: String(n.cluster), shard: String(l.shard), node: String(l.node), address: `${n.hostaddr}:${n.port}` }, v);
          }
        },
      });
    };
    liveGauge('cluster_mgr_storage_replication_lag_seconds', 'Seconds_Behind_Master of each replica (leader\'s latest probe; absent while a thread is stopped).', (l) => l.secondsBehind);
    liveGauge('cluster_mgr_storage_replication_lag_transactions', 'Transactions the shard primary executed that the replica has not (leader\'s latest probe).', (l) => l.behindTrx);
    liveGauge('cluster_mgr_storage_replication_running', '1 when both replication threads of a replica run, 0 when one is stopped (replicas only).', (l) =>
      l.io === null ? null : l.io === 'running' && l.sqlRunning !== false ? 1 : 0,
    );

    // ---- the JetStream mirror and the metadata projection (leader only) ----
    new Gauge({
      name: 'cluster_mgr_mirror_lag_entries',
      help: 'Raft entries with events the leader applied but has not yet mirrored to JetStream.',
      registers,
      collect() {
        clear(this);
        const r = rt();
        if (r === null || r.mirror === null || !r.isLeader) return;
        this.set(Math.max(0, self.lastChange - r.mirror.status().mirroredIndex));
      },
    });
    new Gauge({
      name: 'cluster_mgr_mirror_connected',
      help: '1 while the leader\'s event mirror is connected to NATS.',
      registers,
      collect() {
        clear(this);
        const r = rt();
        if (r === null || r.mirror === null || !r.isLeader) return;
        this.set(r.mirror.status().connected ? 1 : 0);
      },
    });
    new Gauge({
      name: 'cluster_mgr_projection_lag_entries',
      help: 'Raft entries with changes the leader applied but has not yet projected into kunlun_metadata_db.',
      registers,
      collect() {
        clear(this);
        const r = rt();
        if (r === null || !r.isLeader || r.cfg.metaSeeds.length === 0) return;
        this.set(Math.max(0, self.lastChange - r.metadata.lastProjected.index));
      },
    });

    // ---- HTTP ----
    this.httpRequests = new Counter({
      name: 'cluster_mgr_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpSeconds = new Histogram({
      name: 'cluster_mgr_http_request_duration_seconds',
      help: 'HTTP request durations by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: FAST_BUCKETS,
      registers,
    });
  }

  /** Connects the scrape-time collectors to the running member. */
  attach(rt: ManagerRuntime): void {
    this.rt = rt;
    this.lastChange = rt.world.applied;
    rt.sm.onChange((changed) => {
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

  httpAnswered(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpSeconds.observe({ method, route }, seconds);
  }
}
