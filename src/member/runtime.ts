// A running manager member: the Raft node with the World as its state machine, the command path
// (check against the world on the leader, stamp, propose, wait for apply), the leader-only
// reconcilers and the JetStream mirror. Followers apply the log and serve reads; only the leader acts.
import { checkCommand, IdAllocator, type ApplyResult, type Command } from '../actors/index.js';
import { raftElectionTicks, type Config } from '../config/load.js';
import { memberSecrets } from '../config/member-secrets.js';
import { sealSecrets, secretOpener } from './seal-secrets.js';
import { AGG_KINDS, encodeBatch, type Cause } from '../events/index.js';
import type { Logger } from '../log/logger.js';
import { JetStreamMirror } from '../mirror/jetstream-mirror.js';
import { StatusPublisher } from '../mirror/status-publisher.js';
import { natsAuthOptions } from '../mirror/nats-auth.js';
import { NodeStoppedError, NotLeaderError, RaftNode, type LeaderChange } from '../raft/node/index.js';
import { ReconcilerHost, type Reconciler } from '../reconcile/host.js';
import { ManagerMembersReconciler } from './members-reconciler.js';
import { MetadataReconciler } from '../projection/metadata-reconciler.js';
import { WorldMachine } from './world-machine.js';
import { ShardHa } from '../shard-ha/index.js';
import { XaResolver } from '../xa-resolver/resolver.js';
import { JOB_DEFINITIONS, JobReconciler, JobRetention } from '../jobs/index.js';
import { ComputeTopologyReconciler } from '../compute/index.js';
import { MemberMetrics } from '../metrics/member-metrics.js';
import type { ChangeListener, ConfigReader, ExecResult, LeaderState, Proposer, ReadBarrier, WorldChanges } from '../ports/index.js';
import type { LiveProbes } from '../shard-ha/index.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** A running member. It implements the ports of src/ports (world and its changes, config, leadership,
 *  read barrier, execute; Raft control as `node`, projection state as `metadata`) and hands itself to
 *  each part typed as the port that part declares, so none of them depends on this class. */
export class ManagerRuntime implements WorldChanges, Proposer, ConfigReader, LeaderState, ReadBarrier {
  readonly sm: WorldMachine;
  readonly host: ReconcilerHost;
  readonly mirror: JetStreamMirror | null;
  readonly status: StatusPublisher | null;
  readonly metadata: MetadataReconciler;
  /** Shard HA (probe observer, failover, rejoin): its reconcilers run on the leader only. */
  readonly ha: ShardHa;
  /** This member's Prometheus metrics (GET /metrics). */
  readonly metrics: MemberMetrics;
  private ids: IdAllocator | null = null;
  private pending = 0;
  private leaderTerm = 0;
  private readonly addressed = new Set<string>();

  private constructor(
    readonly cfg: Config,
    readonly log: Logger,
    readonly node: RaftNode,
    sm: WorldMachine,
    metrics: MemberMetrics,
  ) {
    this.sm = sm;
    this.metrics = metrics;
    this.host = new ReconcilerHost(log.child({ part: 'reconcilers' }));
    const url = cfg.str('nats_url');
    this.mirror = url
      ? new JetStreamMirror({ url, stream: cfg.str('nats_stream'), log: log.child({ part: 'mirror' }), source: sm, auth: natsAuthOptions(memberSecrets(cfg).nats) })
      : null;
    this.status = url ? new StatusPublisher(url, log.child({ part: 'status' }), undefined, natsAuthOptions(memberSecrets(cfg).nats)) : null;
    sm.onChange((changed) => {
      this.mirror?.notify();
      if (this.node?.isLeader && !changed.has('*')) this.status?.publish(this.world, changed);
      if (changed.has('*')) this.host.changed(new Set(this.allAggs()));
      else this.host.changed(changed);
      for (const a of changed) {
        if (a === '*' || a.startsWith('manager/')) {
          this.syncPeerAddresses();
          break;
        }
      }
    });
    this.syncPeerAddresses();
    node.on('leaderChange', (c) => this.onLeaderChange(c));
    node.on('fatal', (e) => log.fatal({ err: e }, 'raft node failed; this member has stopped taking part'));
    this.host.add(new ManagerMembersReconciler(this));
    this.metadata = new MetadataReconciler(this);
    this.host.add(this.metadata);
    this.host.add(new JobReconciler(this, JOB_DEFINITIONS));
    this.host.add(new JobRetention(this));
    this.ha = new ShardHa(this);
    for (const r of this.ha.reconcilers) this.host.add(r);
    this.host.add(new XaResolver(this));
    this.host.add(new ComputeTopologyReconciler(this));
    metrics.attach(this);
  }

  static async start(cfg: Config, log: Logger): Promise<ManagerRuntime> {
    const sm = new WorldMachine(undefined, secretOpener(memberSecrets(cfg).box));
    const metrics = new MemberMetrics();
    const peers: Record<string, { host: string; port: number }> = {};
    for (const p of cfg.peers) if (p.id !== cfg.selfId) peers[p.id] = { host: p.host, port: p.port };
    const self = cfg.peers.find((p) => p.id === cfg.selfId)!;
    const node = await RaftNode.start({
      id: cfg.selfId,
      clusterId: cfg.str('raft_group_id'),
      dataDir: cfg.dataDir,
      listen: { host: self.host, port: self.port },
      peers,
      // A joining member (raft_join) founds nothing: the leader adds it (raft_mission add_peer).
      bootstrap: cfg.values.raft_join === true ? [] : cfg.peers.map((p) => p.id),
      stateMachine: sm,
      tickMs: cfg.int('raft_tick_ms'),
      electionTicks: raftElectionTicks(cfg),
      snapshotEntries: cfg.int('raft_snapshot_entries'),
      logger: log.child({ part: 'raft' }),
      onWalSync: (s) => metrics.walFsyncSeconds.observe(s),
      transport: { secret: memberSecrets(cfg).raftSecret, maxFrameBytes: cfg.int('raft_max_message_mb') * 1024 * 1024 },
    });
    return new ManagerRuntime(cfg, log, node, sm, metrics);
  }

  get world() {
    return this.sm.world;
  }

  get isLeader(): boolean {
    return this.node.isLeader;
  }

  get term(): number {
    return this.node.term;
  }

  get leader(): string | null {
    return this.node.leader;
  }

  onChange(l: ChangeListener): void {
    this.sm.onChange(l);
  }

  readIndex(): Promise<number> {
    return this.node.readIndex();
  }

  /** The leader's latest probes of storage and metadata nodes (null on a follower or before the first). */
  live(): LiveProbes | null {
    return this.ha.observer.live();
  }

  addReconciler(r: Reconciler): void {
    this.host.add(r);
  }

  /** Checks a command against the world, proposes its events and waits until they are applied. */
  async execute(cmd: Command, cause: Cause): Promise<ExecResult> {
    if (!this.node.isLeader) return { ok: false, kind: 'not_leader', leader: this.node.leader };
    // Ids taken by proposals not yet applied stay taken until all of them are.
    this.ids ??= new IdAllocator(this.world);
    const checked = checkCommand(this.world, cmd, { at: Date.now(), cause, ids: this.ids, jobs: JOB_DEFINITIONS });
    if (!checked.ok) {
      if (this.pending === 0) this.ids = null;
      return { ok: false, kind: 'refused', refusal: checked };
    }
    this.pending++;
    try {
      const t0 = performance.now();
      const p = await this.node.propose(encodeBatch(sealSecrets(checked.events, memberSecrets(this.cfg).box, this.log)));
      this.metrics.proposalSeconds.observe((performance.now() - t0) / 1000);
      const result = p.result as ApplyResult;
      if (!result.ok) return { ok: false, kind: 'rejected_at_apply', index: p.index, reason: result.reason };
      return { ok: true, index: p.index, result };
    } catch (e) {
      if (e instanceof NotLeaderError) return { ok: false, kind: 'not_leader', leader: e.leader ?? null };
      return { ok: false, kind: 'unknown_outcome', reason: (e as Error).message };
    } finally {
      this.pending--;
      if (this.pending === 0) this.ids = null;
    }
  }

  /** The member's view for health and status output. */
  describe() {
    const st = this.node.status();
    return {
      member: this.cfg.selfId,
      role: st.role,
      term: st.term,
      leader: this.node.leader,
      commit: st.commit,
      applied: this.node.applied,
      world_applied: this.world.applied,
      events: this.world.seq,
      head: this.world.head,
      mirror: this.mirror?.status() ?? null,
      metadata_projected: this.metadata.lastProjected,
    };
  }

  async stop(): Promise<void> {
    await this.host.stop();
    await this.mirror?.stop();
    await this.status?.close();
    await this.metadata.drop();
    await this.node.stop();
  }

  private onLeaderChange(c: LeaderChange): void {
    this.log.info({ leader: c.leader, term: c.term, role: c.role }, c.isLeader ? 'this member is the leader' : 'leadership changed');
    if (c.isLeader && this.leaderTerm !== c.term) {
      this.leaderTerm = c.term;
      void this.startLeading(c.term);
    } else if (!c.isLeader && this.leaderTerm !== 0) {
      this.leaderTerm = 0;
      this.host.lostLeadership();
      void this.mirror?.stop();
    }
  }

  /** Reconcilers start once this leader has applied everything committed before its term (readIndex
   *  waits for an entry of this term to commit): otherwise a job resumed after a leadership transfer
   *  could miss the step its predecessor recorded just before handing over. */
  private async startLeading(term: number): Promise<void> {
    for (;;) {
      try {
        await this.node.readIndex();
        break;
      } catch (e) {
        if (e instanceof NodeStoppedError || this.leaderTerm !== term || !this.node.isLeader) return;
        this.log.warn({ err: e, term }, 'leader: waiting for the first commit of the term');
        await sleep(100);
      }
    }
    if (this.leaderTerm !== term || !this.node.isLeader) return;
    this.host.becameLeader(term);
    this.mirror?.start();
  }

  /** Members added by raft_mission are not in the configured peer list: their Raft addresses come
   *  from the log (manager.member_added), so every member can reach them, also after a restart. */
  private syncPeerAddresses(): void {
    const conf = this.node.status().conf;
    for (const id of this.world.ids('manager')) {
      const m = this.world.manager(id);
      if (m === null || id === this.cfg.selfId) continue;
      this.node.setPeerAddress(id, { host: m.host, port: m.raftPort });
    }
    for (const id of this.addressed) {
      if (this.world.manager(id) === null && !conf.voters.includes(id) && !conf.learners.includes(id) && !this.cfg.peers.some((p) => p.id === id)) {
        this.node.removePeerAddress(id);
        this.addressed.delete(id);
      }
    }
    for (const id of this.world.ids('manager')) if (id !== this.cfg.selfId) this.addressed.add(id);
  }

  private allAggs(): string[] {
    const out: string[] = [];
    for (const kind of AGG_KINDS) {
      for (const id of this.world.ids(kind)) out.push(`${kind}/${id}`);
    }
    return out;
  }
}
