// The node driver: runs the I/O-free core with real timers, the WAL and the TCP transport.
//
// One loop handles one Ready at a time: send messages (a leader's appends go out before its own
// write; the core counts the leader's copy toward a quorum only once advance() says it is durable)
// -> apply committed entries (durable on a quorum already) -> write entries and hard state -> send
// the messages that promise durable state (votes, append acks) -> serve reads -> advance().
// Proposals wait in a buffer the loop hands to the core before each ready(): one append per
// follower per Ready. docs/raft.md has the details (sync modes, early apply, held commit updates).

import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { setImmediate as yieldToCallbacks } from 'node:timers/promises';
import path from 'node:path';
import type { RaftConfig } from '../core/config.js';
import { NotLeaderError } from '../core/errors.js';
import { SeededRandom, type RandomSource } from '../core/random.js';
import { RaftCore } from '../core/raft.js';
import type { ProposalId, Ready, Role, Status } from '../core/ready.js';
import { silentLogger, type RaftLogger } from '../storage/logger.js';
import type { SyncMode } from '../storage/wal.js';
import { WalStorage } from '../storage/wal-storage.js';
import { TcpTransport, type PeerAddress, type TransportMetrics } from '../transport/index.js';
import type { ConfChange, Entry, MemberId, Message, Snapshot } from '../types.js';
import { LeadershipLostError, NodeStoppedError, ReadIndexTimeoutError } from './errors.js';
import { supersededAppends } from './coalesce.js';
import { raftCodec } from './wire-codec.js';
import { checkMessage, asMessage } from './message-check.js';
import type { StateMachine } from './state-machine.js';

export interface RaftNodeOptions {
  id: MemberId;
  /** Shared by every member of the group; connections presenting another id are refused. */
  clusterId: string;
  /** This member's data directory (the WAL and snapshots go under `<dataDir>/raft`). */
  dataDir: string;
  /** Where this member listens for its peers. */
  listen: PeerAddress;
  /** Addresses of the other members (more can be added with setPeerAddress). */
  peers: Record<MemberId, PeerAddress>;
  /** Initial voters of a new group; used only when the data directory is empty. All members of the
   *  new group must pass the same list. A member joining an existing group passes none. */
  bootstrap?: MemberId[];
  stateMachine: StateMachine;
  /** Length of one tick (default 100 ms). */
  tickMs?: number;
  /** Election timeout in ticks (default 10: 1 s at 100 ms), randomized up to twice that. */
  electionTicks?: number;
  /** Heartbeat interval in ticks (default 1). */
  heartbeatTicks?: number;
  /** Take a snapshot and compact the log every this many applied entries (default 10000). */
  snapshotEntries?: number;
  /** Entries kept in memory behind a snapshot so slow followers can catch up without one (default 2000). */
  retainEntries?: number;
  /**
   * A leader holds a commit-only append to a follower it streams to for this long (default 2 ms;
   * 0 sends at once): an append with entries sent meanwhile carries the commit and replaces it.
   */
  commitUpdateDelayMs?: number;
  /** How long readIndex() waits for a quorum's confirmation (default 2 election timeouts). */
  readTimeoutMs?: number;
  /** Other core settings (pre-vote and check-quorum are on by default). */
  raft?: Partial<Omit<RaftConfig, 'id' | 'storage' | 'random' | 'electionTick' | 'heartbeatTick' | 'applied'>>;
  /** secret: the group's shared secret that members prove to each other (TcpTransportOptions.secret). */
  transport?: { maxQueueBytes?: number; maxFrameBytes?: number; secret?: Buffer | null };
  /** WAL segment size (default 64 MiB). */
  segmentBytes?: number;
  /**
   * How the WAL syncs (see WalOptions.syncMode). 'auto' (default): inline on a follower, whose
   * acknowledgement waits for the write anyway (fewer thread hand-offs); thread pool on the leader,
   * which meanwhile serves clients and commits on its followers' acknowledgements.
   */
  walSyncMode?: 'auto' | 'inline' | 'threadpool';
  /** Told how long each WAL fdatasync took, in seconds (WalOptions.onSync). */
  onWalSync?: (seconds: number) => void;
  random?: RandomSource;
  logger?: RaftLogger;
}

export interface LeaderChange {
  leader: MemberId | null;
  term: number;
  role: Role;
  isLeader: boolean;
}

export interface Proposed {
  index: number;
  term: number;
  /** What the state machine's apply() returned for this entry. */
  result: unknown;
}

export interface RaftNodeEvents {
  leaderChange: [LeaderChange];
  /** Storage failed or the loop crashed: the node has stopped itself. */
  fatal: [Error];
}

export interface NodeMetrics {
  readies: number;
  proposals: number;
  proposalBatches: number;
  applied: number;
  /** Entries applied while our own write was still in flight (threadpool sync mode). */
  appliedEarly: number;
  snapshots: number;
  storage: ReturnType<WalStorage['stats']>;
  transport: TransportMetrics;
}

interface Waiter {
  term: number;
  resolve: (p: Proposed) => void;
  reject: (e: Error) => void;
}

interface Buffered {
  data: Uint8Array;
  resolve: (p: Proposed) => void;
  reject: (e: Error) => void;
}

interface ReadWaiter {
  resolve: (index: number) => void;
  reject: (e: Error) => void;
}

interface ReadBatch {
  waiters: ReadWaiter[];
  timer: NodeJS.Timeout;
}

const MAX_BATCH = 4096;

export class RaftNode extends EventEmitter<RaftNodeEvents> {
  readonly id: MemberId;
  private readonly core: RaftCore;
  private readonly storage: WalStorage;
  private readonly transport: TcpTransport<Message>;
  private readonly sm: StateMachine;
  private readonly logger: RaftLogger;
  private readonly o: RaftNodeOptions;
  private readonly syncMode: 'auto' | 'inline' | 'threadpool';

  private ticker: NodeJS.Timeout | null = null;
  private looping = false;
  private loopDone: Promise<void> = Promise.resolve();
  private stopped = false;
  private stopping: Promise<void> | null = null;
  private failure: Error | null = null;

  private buffered: Buffered[] = [];
  private flushScheduled = false;
  private readonly waiters = new Map<number, Waiter>();
  private readBuffer: ReadWaiter[] = [];
  private readFlushScheduled = false;
  private readonly reads = new Map<string, ReadBatch>();
  /** Confirmed reads waiting for the state machine to reach their index. */
  private readyReads: Array<{ index: number; waiters: ReadWaiter[] }> = [];
  private readSeq = 0;
  private confSettles: Entry[] = [];
  /** Commit-only appends held back for a moment, per follower (see sendAll). */
  private readonly heldUpdates = new Map<MemberId, Message & { type: 'app' }>();
  private heldTimer: NodeJS.Timeout | null = null;
  private readonly commitUpdateDelayMs: number;
  /** True while the loop waits for its write: commits learned meanwhile may be applied early. */
  private writing = false;

  private snapshotIndex: number;
  private snapshotting = false;
  private snapshotDone: Promise<void> = Promise.resolve();
  private appliedIndex: number;
  private readonly m = { readies: 0, proposals: 0, proposalBatches: 0, applied: 0, appliedEarly: 0, snapshots: 0 };

  private constructor(o: RaftNodeOptions, storage: WalStorage, core: RaftCore, transport: TcpTransport<Message>, logger: RaftLogger) {
    super();
    this.o = o;
    this.id = o.id;
    this.storage = storage;
    this.core = core;
    this.transport = transport;
    this.sm = o.stateMachine;
    this.logger = logger;
    this.snapshotIndex = storage.snapshot().meta.index;
    this.appliedIndex = core.appliedIndex;
    this.syncMode = o.walSyncMode ?? 'auto';
    this.commitUpdateDelayMs = o.commitUpdateDelayMs ?? 2;
  }

  /** Recovers storage and state machine, then joins the group (listening and dialing peers). */
  static async start(o: RaftNodeOptions): Promise<RaftNode> {
    const logger = o.logger ?? silentLogger;
    const storage = await WalStorage.open(path.join(o.dataDir, 'raft'), {
      logger,
      segmentBytes: o.segmentBytes,
      syncMode: o.walSyncMode === 'inline' ? 'inline' : 'threadpool',
      onSync: o.onWalSync,
    });
    try {
      const hs = storage.hardState();
      const fresh = storage.lastIndex() === 0 && storage.snapshot().meta.index === 0 && hs.term === 0;
      if (fresh && o.bootstrap && o.bootstrap.length > 0) {
        // Every founding member writes the same snapshot at (1, 1) naming the voters: identical logs.
        const voters = [...new Set(o.bootstrap)].sort();
        const snap: Snapshot = { meta: { index: 1, term: 1, conf: { voters, learners: [] } }, data: o.stateMachine.snapshot() };
        await storage.applySnapshot(snap, { term: 1, vote: null, commit: 1 });
        logger.info({ voters }, 'raft node: bootstrapped a new group');
      }
      const snap = storage.snapshot();
      if (snap.meta.index > 0) o.stateMachine.restore(snap.data);
      const core = new RaftCore({
        ...o.raft,
        id: o.id,
        storage,
        random: o.random ?? new SeededRandom(randomInt(2 ** 47)),
        electionTick: o.electionTicks ?? 10,
        heartbeatTick: o.heartbeatTicks ?? 1,
      });
      let node: RaftNode | null = null;
      const transport = new TcpTransport<Message>({
        id: o.id,
        clusterId: o.clusterId,
        listen: o.listen,
        peers: o.peers,
        logger,
        codec: raftCodec(),
        maxQueueBytes: o.transport?.maxQueueBytes,
        maxFrameBytes: o.transport?.maxFrameBytes,
        secret: o.transport?.secret ?? null,
        // Votes, heartbeats and answers are small and time-critical; appends and snapshots are retried.
        isCritical: (m) => m.type !== 'app' && m.type !== 'snap',
        onMessage: (from, msg) => node?.receive(from, msg),
        onPeerDown: (peer) => node?.unreachable(peer),
        onDrop: (peer) => node?.unreachable(peer),
      });
      node = new RaftNode(o, storage, core, transport, logger);
      await transport.start();
      node.startTicking();
      logger.info(
        { id: o.id, term: core.term, commit: core.commitIndex, applied: core.appliedIndex, last: core.lastIndex() },
        'raft node started',
      );
      return node;
    } catch (err) {
      await storage.close().catch(() => {});
      throw err;
    }
  }

  // ---- public API ----

  get leader(): MemberId | null {
    return this.core.leader;
  }

  get term(): number {
    return this.core.term;
  }

  get isLeader(): boolean {
    return this.core.role === 'leader';
  }

  get port(): number {
    return this.transport.port;
  }

  status(): Status {
    return this.core.status();
  }

  /** Index of the last entry applied to the state machine. */
  get applied(): number {
    return this.appliedIndex;
  }

  metrics(): NodeMetrics {
    return { ...this.m, storage: this.storage.stats(), transport: this.transport.metrics() };
  }

  /**
   * Replicates `data`; resolves once it is committed and applied here. Fails at once with
   * NotLeaderError (naming the leader) on a follower, with LeadershipLostError if leadership is lost
   * before the entry commits (its outcome is then unknown).
   */
  propose(data: Uint8Array): Promise<Proposed> {
    if (this.stopped) return Promise.reject(this.stoppedError());
    if (this.core.role !== 'leader') return Promise.reject(new NotLeaderError(this.core.leader));
    return new Promise<Proposed>((resolve, reject) => {
      this.buffered.push({ data, resolve, reject });
      // While a Ready is in hand the loop takes the buffer before its next ready(): one append per
      // follower per Ready. Otherwise setImmediate (after the poll phase) gathers this turn's requests.
      if (!this.looping && !this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushProposals());
      }
    });
  }

  /** Proposes a membership change; resolves when it is applied here. */
  proposeConfChange(cc: ConfChange): Promise<ProposalId> {
    if (this.stopped) return Promise.reject(this.stoppedError());
    let id: ProposalId;
    try {
      id = this.core.proposeConfChange(cc);
    } catch (err) {
      return Promise.reject(toError(err));
    }
    this.kick();
    return new Promise<ProposalId>((resolve, reject) => {
      this.waiters.set(id.index, { term: id.term, resolve: () => resolve(id), reject });
    });
  }

  /**
   * Linearizable read barrier: resolves with an index once the state machine has applied it and a
   * quorum confirmed this leader was still leader after the call. Reading the state machine then
   * sees every write acknowledged before the call. Works on followers too (asks the leader).
   */
  readIndex(): Promise<number> {
    if (this.stopped) return Promise.reject(this.stoppedError());
    return new Promise<number>((resolve, reject) => {
      this.readBuffer.push({ resolve, reject });
      if (!this.readFlushScheduled) {
        this.readFlushScheduled = true;
        setImmediate(() => this.flushReads());
      }
    });
  }

  /**
   * Hands leadership to `to`; resolves when `to` is leader, rejects when the transfer fails to
   * complete within an election timeout (or `timeoutMs`).
   */
  transferLeadership(to: MemberId, timeoutMs?: number): Promise<void> {
    if (this.stopped) return Promise.reject(this.stoppedError());
    try {
      this.core.transferLeadership(to);
    } catch (err) {
      return Promise.reject(toError(err));
    }
    this.kick();
    const limit = timeoutMs ?? 2 * (this.o.electionTicks ?? 10) * (this.o.tickMs ?? 100);
    return new Promise<void>((resolve, reject) => {
      const onChange = (c: LeaderChange) => {
        if (c.leader !== to) return;
        clearTimeout(timer);
        this.off('leaderChange', onChange);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('leaderChange', onChange);
        reject(new NotLeaderError(this.core.leader));
      }, limit);
      this.on('leaderChange', onChange);
    });
  }

  /** Starts an election now (e.g. to speed up a test or a planned restart). */
  campaign(): void {
    this.core.campaign();
    this.kick();
  }

  /** Adds or changes the address of a member (before proposing to add it, for example). */
  setPeerAddress(id: MemberId, address: PeerAddress): void {
    this.transport.addPeer(id, address);
  }

  removePeerAddress(id: MemberId): void {
    this.transport.removePeer(id);
  }

  /** Stops ticking, finishes the Ready in hand, closes transport and storage; pending requests fail. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.heldTimer = null;
    await this.loopDone;
    await this.snapshotDone;
    this.failAll(this.stoppedError());
    await this.transport.stop();
    await this.storage.close().catch((err: unknown) => {
      this.logger.error({ err: String(err) }, 'raft node: closing storage failed');
    });
    this.logger.info({ id: this.id }, 'raft node stopped');
  }

  // ---- inputs ----

  private startTicking(): void {
    this.ticker = setInterval(() => {
      this.core.tick();
      this.kick();
    }, this.o.tickMs ?? 100);
  }

  private receive(from: string, msg: unknown): void {
    if (this.stopped) return;
    const why = checkMessage(msg, from, this.id);
    if (why !== null) {
      this.logger.warn({ from, reason: why }, 'raft node: dropping a malformed message');
      return;
    }
    this.core.step(asMessage(msg));
    if (this.writing) this.applyEarly();
    this.kick();
  }

  /**
   * While our own write is in flight (threadpool sync mode), a leader that learns of new commits
   * applies them and answers clients at once instead of after its write. Only on the leader: its log
   * is never rewritten, and each entry is checked against the core's term for its index. Stops at a
   * conf entry, which the core must apply first (at advance()).
   */
  private applyEarly(): void {
    if (this.core.role !== 'leader') return;
    const upTo = Math.min(this.core.commitIndex, this.storage.lastIndex());
    if (upTo <= this.appliedIndex) return;
    let ents: Entry[];
    try {
      ents = this.storage.entries(this.appliedIndex + 1, upTo + 1);
    } catch {
      return;
    }
    let n = 0;
    for (const e of ents) {
      if (e.kind === 'conf' || this.core.termOf(e.index) !== e.term) break;
      n++;
    }
    if (n === 0) return;
    this.apply(n === ents.length ? ents : ents.slice(0, n));
    this.m.appliedEarly += n;
    this.serveReads();
  }

  private unreachable(peer: string): void {
    if (this.stopped) return;
    this.core.reportUnreachable(peer);
  }

  private flushProposals(): void {
    this.flushScheduled = false;
    this.proposeBuffered();
    this.kick();
  }

  private proposeBuffered(): void {
    if (this.buffered.length === 0) return;
    const all = this.buffered;
    this.buffered = [];
    if (this.stopped) {
      for (const b of all) b.reject(this.stoppedError());
      return;
    }
    for (let i = 0; i < all.length; i += MAX_BATCH) {
      const batch = all.slice(i, i + MAX_BATCH);
      let ids: ProposalId[];
      try {
        ids = this.core.proposeBatch(batch.map((b) => b.data));
      } catch (err) {
        for (const b of batch) b.reject(err as Error);
        continue;
      }
      this.m.proposals += batch.length;
      this.m.proposalBatches++;
      for (let k = 0; k < batch.length; k++) {
        const id = ids[k] as ProposalId;
        const b = batch[k] as Buffered;
        this.waiters.set(id.index, { term: id.term, resolve: b.resolve, reject: b.reject });
      }
    }
  }

  private flushReads(): void {
    this.readFlushScheduled = false;
    const waiters = this.readBuffer;
    this.readBuffer = [];
    if (waiters.length === 0) return;
    if (this.stopped) {
      for (const w of waiters) w.reject(this.stoppedError());
      return;
    }
    // One ReadIndex round answers every read that arrived in this turn.
    const ctx = `${this.id}:${++this.readSeq}`;
    try {
      this.core.readIndex(ctx);
    } catch (err) {
      for (const w of waiters) w.reject(err as Error);
      return;
    }
    const limit = this.o.readTimeoutMs ?? 2 * (this.o.electionTicks ?? 10) * (this.o.tickMs ?? 100);
    const timer = setTimeout(() => {
      this.reads.delete(ctx);
      for (const w of waiters) w.reject(new ReadIndexTimeoutError(`read not confirmed by a quorum within ${limit} ms`));
    }, limit);
    this.reads.set(ctx, { waiters, timer });
    this.kick();
  }

  // ---- the Ready loop ----

  private kick(): void {
    if (this.looping || this.stopped) return;
    this.proposeBuffered();
    if (!this.core.hasReady()) return;
    this.looping = true;
    this.loopDone = this.runLoop();
  }

  private async runLoop(): Promise<void> {
    try {
      for (;;) {
        this.proposeBuffered();
        if (this.stopped || !this.core.hasReady()) break;
        const rd = this.core.ready();
        this.m.readies++;
        await this.handleReady(rd);
        this.core.advance(rd);
        this.afterAdvance();
      }
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.looping = false;
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState.leader, rd.softState.role);
    const leader = this.core.role === 'leader';
    const mode: SyncMode = this.syncMode === 'auto' ? (leader ? 'threadpool' : 'inline') : this.syncMode;
    const persists = rd.entries.length > 0 || rd.snapshot !== undefined;
    // With something to persist, messages go first: followers write in parallel with us. Without,
    // they are commit updates and heartbeats: answering clients first is what someone waits for.
    const sendFirst = persists || rd.committedEntries.length === 0;
    if (sendFirst) this.sendAll(rd.messages);
    if (rd.snapshot) {
      this.sm.restore(rd.snapshot.data);
      this.appliedIndex = rd.snapshot.meta.index;
      this.snapshotIndex = rd.snapshot.meta.index;
      // Entries the snapshot covers are never applied one by one here: their terms are unknown.
      for (const [index, w] of this.waiters) {
        if (index <= rd.snapshot.meta.index) {
          this.waiters.delete(index);
          w.reject(new LeadershipLostError(this.core.leader, index));
        }
      }
      this.logger.info({ index: rd.snapshot.meta.index, term: rd.snapshot.meta.term }, 'raft node: installed a snapshot from the leader');
    }
    // Committed entries are durable on a quorum already, so they need not wait for our write. A
    // follower writing inline applies after sending its acknowledgements instead: those are what
    // the leader (and its clients) wait for.
    const applyAfter = mode === 'inline' && !leader && persists;
    if (!applyAfter && rd.committedEntries.length > 0 && this.apply(rd.committedEntries)) {
      // Let the settled proposals' callbacks write their responses before we block on an inline
      // write or put more on the wire.
      if (mode === 'inline' && persists) await yieldToCallbacks();
      else if (!sendFirst) await Promise.resolve();
    }
    if (!sendFirst) this.sendAll(rd.messages);
    const writes: Promise<void>[] = [];
    if (rd.snapshot) writes.push(this.storage.applySnapshot(rd.snapshot, rd.hardState ?? null));
    if (rd.entries.length > 0 || rd.hardState) writes.push(this.storage.save(rd.entries, rd.hardState ?? null, rd.mustSync, mode));
    const written = writes.length === 1 ? writes[0] : Promise.all(writes);
    this.writing = true;
    try {
      await written;
    } finally {
      this.writing = false;
    }
    this.sendAll(rd.messagesAfterPersist);
    if (applyAfter && rd.committedEntries.length > 0) this.apply(rd.committedEntries);
    for (const rs of rd.readStates) {
      const batch = this.reads.get(rs.ctx);
      if (!batch) continue;
      this.reads.delete(rs.ctx);
      clearTimeout(batch.timer);
      this.readyReads.push({ index: rs.index, waiters: batch.waiters });
    }
    this.serveReads();
  }

  private sendAll(msgs: readonly Message[]): void {
    const skip = supersededAppends(msgs);
    let progress: Status['progress'] | undefined;
    let sent = 0;
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i] as Message;
      if (skip?.has(i)) continue;
      if (m.type === 'app') {
        if (m.entries.length === 0 && this.commitUpdateDelayMs > 0) {
          // A commit update to a follower we stream to: hold it briefly. The next append (which
          // carries the commit too) usually replaces it, saving the follower a round trip.
          progress ??= this.core.status().progress;
          if (progress?.[m.to]?.state === 'replicate') {
            this.deferCommitUpdate(m);
            continue;
          }
        }
        const held = this.heldUpdates.get(m.to);
        if (held && held.term === m.term && held.commit <= m.commit) this.heldUpdates.delete(m.to);
      }
      const queued = this.transport.send(m.to, m);
      sent++;
      if (m.type === 'snap') {
        this.logger.info({ to: m.to, index: m.snapshot.meta.index }, 'raft node: sending a snapshot');
        this.core.reportSnapshot(m.to, queued);
      }
    }
    // On the wire before our own (possibly blocking) write: followers persist in parallel with us.
    if (sent > 0) this.transport.flush();
  }

  private deferCommitUpdate(m: Message & { type: 'app' }): void {
    const held = this.heldUpdates.get(m.to);
    if (!held || held.term !== m.term || held.commit <= m.commit) this.heldUpdates.set(m.to, m);
    this.heldTimer ??= setTimeout(() => this.sendHeldUpdates(), this.commitUpdateDelayMs);
  }

  private sendHeldUpdates(): void {
    this.heldTimer = null;
    if (this.stopped || this.heldUpdates.size === 0) return;
    for (const m of this.heldUpdates.values()) this.transport.send(m.to, m);
    this.heldUpdates.clear();
    this.transport.flush();
  }

  /** Applies committed entries; true when some local proposal settled. */
  private apply(entries: readonly Entry[]): boolean {
    const waiting = this.waiters.size;
    // Runs of normal entries go to the state machine together; conf and noop entries only settle waiters.
    let i = 0;
    while (i < entries.length) {
      const e = entries[i] as Entry;
      if (e.index <= this.appliedIndex) {
        i++; // applied early, while our write was in flight
        continue;
      }
      if (e.kind === 'conf') {
        // The core applies membership at advance(): settle after it, so the caller sees the change.
        this.confSettles.push(e);
        i++;
        continue;
      }
      if (e.kind !== 'normal') {
        this.settle(e, undefined);
        i++;
        continue;
      }
      let j = i;
      while (j < entries.length && (entries[j] as Entry).kind === 'normal') j++;
      const run = entries.slice(i, j);
      const results = this.sm.apply(run) ?? [];
      for (let k = 0; k < run.length; k++) this.settle(run[k] as Entry, results[k]);
      i = j;
    }
    const last = entries[entries.length - 1] as Entry;
    this.appliedIndex = Math.max(this.appliedIndex, last.index);
    this.m.applied += entries.length;
    return this.waiters.size < waiting;
  }

  private settle(e: Entry, result: unknown): void {
    if (this.waiters.size === 0) return;
    const w = this.waiters.get(e.index);
    if (!w) return;
    this.waiters.delete(e.index);
    if (w.term === e.term) w.resolve({ index: e.index, term: e.term, result });
    else w.reject(new LeadershipLostError(this.core.leader, e.index));
  }

  private serveReads(): void {
    if (this.readyReads.length === 0) return;
    const keep: Array<{ index: number; waiters: ReadWaiter[] }> = [];
    for (const r of this.readyReads) {
      if (r.index <= this.appliedIndex) for (const w of r.waiters) w.resolve(r.index);
      else keep.push(r);
    }
    this.readyReads = keep;
  }

  private afterAdvance(): void {
    if (this.confSettles.length > 0) {
      const done = this.confSettles;
      this.confSettles = [];
      for (const e of done) this.settle(e, undefined);
    }
    this.serveReads();
    const every = this.o.snapshotEntries ?? 10000;
    if (!this.snapshotting && this.appliedIndex - this.snapshotIndex >= every) this.takeSnapshot();
  }

  private takeSnapshot(): void {
    // Data and membership must describe the same index: both are read now, synchronously.
    const index = this.appliedIndex;
    const data = this.sm.snapshot();
    const conf = this.core.confState();
    this.snapshotting = true;
    this.snapshotDone = this.storage
      .createSnapshot(index, conf, data)
      .then(() => {
        this.snapshotIndex = Math.max(this.snapshotIndex, index);
        this.m.snapshots++;
        const keep = this.o.retainEntries ?? 2000;
        const compactTo = Math.min(index, this.storage.snapshot().meta.index) - keep;
        if (compactTo >= this.storage.firstIndex()) this.storage.compact(compactTo);
        this.logger.info({ index, compactedTo: Math.max(compactTo, 0) }, 'raft node: snapshot taken, log compacted');
      })
      .catch((err: unknown) => {
        if (this.stopped) this.logger.warn({ err: String(err), index }, 'raft node: snapshot abandoned at stop');
        else this.fail(toError(err));
      })
      .finally(() => {
        this.snapshotting = false;
      });
  }

  private onSoftState(leader: MemberId | null, role: Role): void {
    const change: LeaderChange = { leader, term: this.core.term, role, isLeader: role === 'leader' };
    this.logger.info({ ...change, id: this.id }, 'raft node: leadership changed');
    if (role !== 'leader' && this.waiters.size > 0) {
      // Entries past the commit index may never commit now; fail fast so clients can retry at the
      // new leader. Committed ones are about to be applied and still resolve normally.
      const commit = this.core.commitIndex;
      for (const [index, w] of this.waiters) {
        if (index > commit) {
          this.waiters.delete(index);
          w.reject(new LeadershipLostError(leader, index));
        }
      }
    }
    // Reads in flight are dropped by the core when the leader changes: fail them now.
    for (const [ctx, batch] of this.reads) {
      clearTimeout(batch.timer);
      this.reads.delete(ctx);
      for (const w of batch.waiters) w.reject(new NotLeaderError(leader));
    }
    this.emit('leaderChange', change);
  }

  // ---- failure ----

  private stoppedError(): Error {
    return this.failure ?? new NodeStoppedError(`raft node ${this.id} is stopped`);
  }

  private failAll(err: Error): void {
    for (const b of this.buffered) b.reject(err);
    this.buffered = [];
    for (const w of this.waiters.values()) w.reject(err);
    this.waiters.clear();
    for (const w of this.readBuffer) w.reject(err);
    this.readBuffer = [];
    for (const batch of this.reads.values()) {
      clearTimeout(batch.timer);
      for (const w of batch.waiters) w.reject(err);
    }
    this.reads.clear();
    for (const r of this.readyReads) for (const w of r.waiters) w.reject(err);
    this.readyReads = [];
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.logger.error({ err: err.message, id: this.id }, 'raft node: fatal error, stopping');
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.heldTimer = null;
    this.failAll(err);
    void this.transport.stop();
    this.emit('fatal', err);
  }
}

function toError(x: unknown): Error {
  return x instanceof Error ? x : new Error(String(x));
}
