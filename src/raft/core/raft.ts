// The Raft state machine of one member, free of I/O (etcd-io/raft's raft + RawNode in one class).
// Inputs: tick(), step(message), propose(), proposeConfChange(), transferLeadership(), readIndex().
// Output: ready() — what to persist, send and apply — acknowledged with advance().
import type {
  AppendMessage,
  AppendResponseMessage,
  ConfChange,
  ConfState,
  Entry,
  EntryKind,
  HardState,
  HeartbeatMessage,
  HeartbeatResponseMessage,
  MemberId,
  Message,
  ReadState,
  SnapshotMessage,
  VoteMessage,
} from '../types.js';
import { resolveConfig, type RaftConfig, type ResolvedConfig } from './config.js';
import { applyConfChange, decodeConfChange, encodeConfChange, validateConfChange } from './confchange.js';
import { payloadSize } from './entries.js';
import {
  CompactedError,
  ConfChangeRejectedError,
  NotLeaderError,
  ProposalDroppedError,
  SnapshotTemporarilyUnavailableError,
  TransferRejectedError,
} from './errors.js';
import { RaftLog } from './log.js';
import type { Progress } from './progress.js';
import { ReadIndexQueue } from './read-index.js';
import type { ProgressStatus, ProposalId, Ready, Role, SoftState, Status } from './ready.js';
import { cloneConf } from './storage.js';
import { Tracker } from './tracker.js';

type CampaignKind = 'pre' | 'election' | 'transfer';

/** Messages that promise durable state: sent only after the Ready they come with is written. */
const AFTER_PERSIST = new Set<Message['type']>(['appResp', 'vote', 'voteResp', 'preVoteResp']);

const EMPTY = new Uint8Array(0);

export class RaftCore {
  readonly id: MemberId;
  private readonly cfg: ResolvedConfig;
  private readonly log: RaftLog;
  private readonly trk: Tracker;

  private _term = 0;
  private vote: MemberId | null = null;
  private lead: MemberId | null = null;
  private _role: Role = 'follower';

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;

  private leadTransferee: MemberId | null = null;
  /** Index of the latest conf entry the leader appended; a new one waits until it is applied. */
  private pendingConfIndex = 0;
  /** Index of the entry (or snapshot) that set the current membership. */
  private confIndex = 0;
  /** Membership as of the applied index. Differs from the current one only while a snapshot received
   *  from the leader waits to be applied. */
  private appliedConf: ConfState;
  private uncommittedSize = 0;

  private readonly reads = new ReadIndexQueue();
  /** Reads that wait for the leader's first commit in its term. */
  private readsAwaitingCommit: { ctx: string; from: MemberId }[] = [];
  private readStates: ReadState[] = [];

  private msgs: Message[] = [];
  private msgsAfterPersist: Message[] = [];

  private prevHardState: HardState;
  private prevSoftState: SoftState;
  private outstanding: Ready | null = null;

  constructor(config: RaftConfig) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    this.log = new RaftLog(this.cfg.storage);
    this.trk = new Tracker(this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes);

    const { hardState, conf } = this.cfg.storage.initialState();
    this.trk.setConf(conf, this.log.lastIndex() + 1);
    this.appliedConf = cloneConf(conf);

    const commit = Math.max(hardState.commit, this.log.committed);
    if (commit > this.log.lastIndex()) {
      throw new Error(`raft: stored commit ${commit} is after the last stored index ${this.log.lastIndex()}`);
    }
    this.log.committed = commit;
    this._term = hardState.term;
    this.vote = hardState.vote;
    // The state machine restarts from the storage's snapshot (or from what the driver says it applied).
    const applied = Math.max(this.cfg.applied || this.cfg.storage.snapshot().meta.index, this.log.applied);
    if (applied > commit) throw new Error(`raft: applied index ${applied} is after the stored commit ${commit}`);
    this.log.appliedTo(applied);
    this.confIndex = applied;
    this.becomeFollower(this._term, null);
    this.prevHardState = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
    this.prevSoftState = { leader: null, role: 'follower' };
  }

  // ---- Read-only accessors ----------------------------------------------------------------------

  get term(): number {
    return this._term;
  }

  get role(): Role {
    return this._role;
  }

  /** The leader this member knows of (itself when leader), or null. */
  get leader(): MemberId | null {
    return this.lead;
  }

  /** Term of entry `index` in this member's log (durable or not), or undefined if compacted/absent. */
  termOf(index: number): number | undefined {
    return this.log.term(index);
  }

  /** The membership as of the applied index: store it with a snapshot taken at that index. */
  confState(): ConfState {
    return cloneConf(this.appliedConf);
  }

  get commitIndex(): number {
    return this.log.committed;
  }

  get appliedIndex(): number {
    return this.log.applied;
  }

  lastIndex(): number {
    return this.log.lastIndex();
  }

  status(): Status {
    const s: Status = {
      id: this.id,
      term: this._term,
      vote: this.vote,
      role: this._role,
      leader: this.lead,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      conf: this.trk.confState(),
      leadTransferee: this.leadTransferee,
    };
    if (this._role === 'leader') {
      const progress: Record<MemberId, ProgressStatus> = {};
      for (const [id, pr] of this.trk.progress) {
        progress[id] = {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          recentActive: pr.recentActive,
          isLearner: pr.isLearner,
          inflight: pr.inflights.count(),
        };
      }
      s.progress = progress;
    }
    return s;
  }

  // ---- Inputs ------------------------------------------------------------------------------------

  tick(): void {
    if (this._role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  /** Starts an election now (pre-vote first when enabled), as if the election timeout had passed. */
  campaign(): void {
    this.hup(this.cfg.preVote ? 'pre' : 'election');
  }

  /** Appends `data` to the log. Throws NotLeaderError (with the leader to retry at) when not leader. */
  propose(data: Uint8Array): ProposalId {
    return this.proposeEntries([data], 'normal')[0]!;
  }

  /** Appends several entries at once: fewer, larger append messages than one propose() each. */
  proposeBatch(data: readonly Uint8Array[]): ProposalId[] {
    if (data.length === 0) return [];
    return this.proposeEntries(data, 'normal');
  }

  /**
   * Proposes a membership change. It takes effect on each member when the entry is applied. Only one
   * change may be pending; a learner is promoted only once it has caught up.
   */
  proposeConfChange(cc: ConfChange): ProposalId {
    this.checkCanPropose();
    const conf = this.trk.confState();
    const invalid = validateConfChange(conf, cc);
    if (invalid !== null) throw new ConfChangeRejectedError(invalid);
    if (this.pendingConfIndex > this.log.applied) {
      throw new ConfChangeRejectedError(
        `a configuration change is still pending (index ${this.pendingConfIndex}, applied ${this.log.applied})`,
      );
    }
    // A leader commits an entry of its own term before changing membership (Ongaro's fix for
    // single-member changes across leader changes).
    if (!this.committedEntryInCurrentTerm()) {
      throw new ConfChangeRejectedError('the leader has not committed an entry in its term yet');
    }
    if (cc.type === 'addVoter' && this.trk.learners.has(cc.member)) {
      const pr = this.trk.progress.get(cc.member)!;
      const lag = this.log.committed - pr.match;
      if (pr.state !== 'replicate' || !pr.recentActive || lag > this.cfg.maxPromotionLag) {
        throw new ConfChangeRejectedError(
          `learner ${cc.member} has not caught up (state ${pr.state}, match ${pr.match}, commit ${this.log.committed})`,
        );
      }
    }
    const [id] = this.proposeEntries([encodeConfChange(cc)], 'conf');
    this.pendingConfIndex = id!.index;
    return id!;
  }

  /**
   * Hands leadership to voter `to`: once its log has caught up, it is told to campaign at once. New
   * proposals are refused meanwhile; the transfer is abandoned after an election timeout.
   */
  transferLeadership(to: MemberId): void {
    if (this._role !== 'leader') throw new NotLeaderError(this.lead);
    if (to === this.id) {
      if (this.leadTransferee !== null) this.abortLeaderTransfer();
      return;
    }
    if (!this.trk.voters.has(to)) throw new TransferRejectedError(`${to} is not a voter`);
    if (this.leadTransferee !== null) {
      if (this.leadTransferee === to) return;
      this.abortLeaderTransfer();
    }
    // The transfer must finish within one election timeout.
    this.electionElapsed = 0;
    this.leadTransferee = to;
    const pr = this.trk.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
  }

  /**
   * Starts a linearizable read tagged `ctx` (unique per request). The answer comes as a ReadState in a
   * later Ready; reads still pending when leadership changes are dropped (the caller retries on timeout).
   * On a follower the request is forwarded to the leader.
   */
  readIndex(ctx: string): void {
    if (this._role === 'leader') {
      this.leaderRead(ctx, this.id);
      return;
    }
    if (this.lead === null || this._role !== 'follower') throw new NotLeaderError(this.lead);
    this.send({ type: 'readIndex', from: this.id, to: this.lead, term: this._term, ctx });
  }

  /** The driver could not reach `id`: stop pipelining to it until it answers again. */
  reportUnreachable(id: MemberId): void {
    if (this._role !== 'leader') return;
    const pr = this.trk.progress.get(id);
    if (pr?.state === 'replicate') pr.becomeProbe();
  }

  /** The driver finished (ok) or failed to send the snapshot to `id`. */
  reportSnapshot(id: MemberId, ok: boolean): void {
    if (this._role !== 'leader') return;
    const pr = this.trk.progress.get(id);
    if (pr?.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the member's answer (or a heartbeat answer) before probing.
    pr.msgAppFlowPaused = true;
  }

  step(m: Message): void {
    if (m.to !== this.id) return;

    if (m.term > this._term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // Leader lease: while we hear from a leader, a campaign for a higher term is disruption, not
        // need (a member that was partitioned away, say). A transfer campaign is asked for by the leader.
        const inLease = this.cfg.checkQuorum && this.lead !== null && this.electionElapsed < this.cfg.electionTick;
        if (!m.transfer && inLease) return;
      }
      if (m.type === 'preVote') {
        // A pre-vote never changes our term.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // A granted pre-vote carries the term we would campaign in; nothing to adopt yet.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this._term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A stale leader (e.g. healed from a partition) learns our term from this and steps down.
        this.send({ type: 'appResp', from: this.id, to: m.from, term: this._term, index: 0, reject: false, rejectHint: 0, logTerm: 0 });
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResp', from: this.id, to: m.from, term: this._term, reject: true });
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m);
      return;
    }
    switch (this._role) {
      case 'leader':
        this.stepLeader(m);
        return;
      case 'candidate':
      case 'preCandidate':
        this.stepCandidate(m);
        return;
      case 'follower':
        this.stepFollower(m);
        return;
    }
  }

  // ---- Ready / advance ---------------------------------------------------------------------------

  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    if (this.msgs.length > 0 || this.msgsAfterPersist.length > 0 || this.readStates.length > 0) return true;
    if (this.log.unstable.nextSnapshot() !== undefined || this.log.unstable.hasNextEntries()) return true;
    if (this.log.hasNextCommittedEntries()) return true;
    if (this.lead !== this.prevSoftState.leader || this._role !== this.prevSoftState.role) return true;
    return !this.hardStateEqual(this.prevHardState);
  }

  ready(): Ready {
    if (this.outstanding !== null) throw new Error('raft: ready() called before advance() of the previous Ready');
    const hs = this.hardState();
    const hardChanged = !this.hardStateEqual(this.prevHardState);
    const entries = this.log.unstable.nextEntries();
    const snapshot = this.log.unstable.nextSnapshot();
    const committedEntries = this.log.nextCommittedEntries(this.cfg.maxCommittedSizePerReady);
    const rd: Ready = {
      entries,
      committedEntries,
      messages: this.msgs,
      messagesAfterPersist: this.msgsAfterPersist,
      readStates: this.readStates,
      mustSync:
        entries.length > 0 ||
        snapshot !== undefined ||
        hs.term !== this.prevHardState.term ||
        hs.vote !== this.prevHardState.vote,
    };
    if (hardChanged) rd.hardState = hs;
    if (snapshot !== undefined) rd.snapshot = snapshot;
    if (this.lead !== this.prevSoftState.leader || this._role !== this.prevSoftState.role) {
      rd.softState = { leader: this.lead, role: this._role };
      this.prevSoftState = rd.softState;
    }
    this.msgs = [];
    this.msgsAfterPersist = [];
    this.readStates = [];
    this.log.unstable.acceptInProgress();
    if (committedEntries.length > 0) this.log.applying = committedEntries[committedEntries.length - 1]!.index;
    this.prevHardState = hs;
    this.outstanding = rd;
    return rd;
  }

  /** The driver has done everything `rd` asked for (written, sent, applied). */
  advance(rd: Ready): void {
    if (rd !== this.outstanding) throw new Error('raft: advance() with a Ready that is not the outstanding one');
    this.outstanding = null;
    if (rd.snapshot) {
      this.log.unstable.stableSnapTo(rd.snapshot.meta.index);
      if (rd.snapshot.meta.index > this.log.applied && rd.snapshot.meta.index <= this.log.committed) {
        this.log.appliedTo(rd.snapshot.meta.index);
        this.appliedConf = cloneConf(rd.snapshot.meta.conf);
      }
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!;
      this.log.unstable.stableTo(last.index, last.term);
    }
    if (rd.committedEntries.length > 0) {
      const last = rd.committedEntries[rd.committedEntries.length - 1]!;
      this.log.appliedTo(last.index);
      if (this._role === 'leader') this.uncommittedSize = Math.max(0, this.uncommittedSize - payloadSize(rd.committedEntries));
    }
    if (this._role === 'leader') {
      // Our own copy counts toward a quorum only once it is durable.
      const self = this.trk.progress.get(this.id);
      if (self?.maybeUpdate(this.log.stableIndex()) === true) this.afterMatchAdvanced();
    }
    for (const e of rd.committedEntries) {
      if (e.kind === 'conf') this.applyConf(e);
    }
  }

  // ---- State transitions -------------------------------------------------------------------------

  private hardState(): HardState {
    return { term: this._term, vote: this.vote, commit: this.log.committed };
  }

  private hardStateEqual(h: HardState): boolean {
    return h.term === this._term && h.vote === this.vote && h.commit === this.log.committed;
  }

  private reset(term: number): void {
    if (this._term !== term) {
      this._term = term;
      this.vote = null;
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTick + this.cfg.random.int(this.cfg.electionTick);
    this.leadTransferee = null;
    this.trk.resetVotes();
    this.trk.resetProgress(this.log.lastIndex() + 1);
    const self = this.trk.progress.get(this.id);
    if (self) self.match = this.log.stableIndex();
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.reads.reset();
    this.readsAwaitingCommit = [];
  }

  private becomeFollower(term: number, lead: MemberId | null): void {
    this.reset(term);
    this.lead = lead;
    this._role = 'follower';
  }

  private becomePreCandidate(): void {
    // Term and vote stay: a pre-vote changes nothing durable.
    this.trk.resetVotes();
    this.lead = null;
    this._role = 'preCandidate';
  }

  private becomeCandidate(): void {
    this.reset(this._term + 1);
    this.vote = this.id;
    this._role = 'candidate';
  }

  private becomeLeader(): void {
    this.reset(this._term);
    this.lead = this.id;
    this._role = 'leader';
    const self = this.trk.progress.get(this.id)!;
    self.becomeReplicate();
    self.recentActive = true;
    // Entries from earlier terms may be uncommitted conf changes: no new one until they are applied.
    this.pendingConfIndex = this.log.lastIndex();
    // An entry of our own term: committing it commits everything before it.
    this.appendEntries([EMPTY], 'noop');
  }

  private promotable(): boolean {
    return this.trk.voters.has(this.id) && !this.log.hasPendingSnapshot();
  }

  /** Committed but not applied conf entries: campaigning now would count votes in a stale membership. */
  private hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    let lo = this.log.applied + 1;
    const hi = this.log.committed + 1;
    while (lo < hi) {
      let ents: Entry[];
      try {
        ents = this.log.slice(lo, hi, this.cfg.maxCommittedSizePerReady);
      } catch (e) {
        if (e instanceof CompactedError) return false;
        throw e;
      }
      for (const e of ents) if (e.kind === 'conf') return true;
      lo += ents.length;
    }
    return false;
  }

  private hup(kind: CampaignKind): void {
    if (this._role === 'leader') return;
    if (!this.promotable()) return;
    if (this.hasUnappliedConfChanges()) return;
    this.campaignNow(kind);
  }

  private campaignNow(kind: CampaignKind): void {
    let voteTerm: number;
    let type: 'vote' | 'preVote';
    if (kind === 'pre') {
      this.becomePreCandidate();
      type = 'preVote';
      voteTerm = this._term + 1;
    } else {
      this.becomeCandidate();
      type = 'vote';
      voteTerm = this._term;
    }
    this.trk.recordVote(this.id, true);
    if (this.trk.voteResult() === 'won') {
      // A single voter wins on its own vote.
      if (kind === 'pre') this.campaignNow('election');
      else this.winElection();
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const id of [...this.trk.voters].sort()) {
      if (id === this.id) continue;
      const m: VoteMessage = { type, from: this.id, to: id, term: voteTerm, index, logTerm, transfer: kind === 'transfer' };
      this.send(m);
    }
  }

  private winElection(): void {
    this.becomeLeader();
    this.bcastAppend();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(this.cfg.preVote ? 'pre' : 'election');
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        if (!this.trk.quorumActive(this.id)) {
          this.becomeFollower(this._term, null);
          return;
        }
        for (const [id, pr] of this.trk.progress) if (id !== this.id) pr.recentActive = false;
      }
      if (this.leadTransferee !== null) this.abortLeaderTransfer();
    }
    for (const [id, pr] of this.trk.progress) {
      if (pr.state !== 'snapshot') continue;
      // A snapshot lost on the way would otherwise block the member forever.
      if (++pr.snapshotTicks >= this.cfg.snapshotRetryTicks) {
        pr.pendingSnapshot = 0;
        pr.becomeProbe();
        this.sendAppend(id);
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = null;
  }

  // ---- Leader ------------------------------------------------------------------------------------

  private checkCanPropose(): void {
    if (this._role !== 'leader') throw new NotLeaderError(this.lead);
    if (this.leadTransferee !== null) throw new NotLeaderError(this.leadTransferee, 'transferring');
  }

  private proposeEntries(data: readonly Uint8Array[], kind: EntryKind): ProposalId[] {
    this.checkCanPropose();
    if (!this.trk.progress.has(this.id)) throw new NotLeaderError(null);
    const size = data.reduce((n, d) => n + d.byteLength, 0);
    const limit = this.cfg.maxUncommittedEntriesSize;
    if (limit > 0 && this.uncommittedSize > 0 && this.uncommittedSize + size > limit) {
      throw new ProposalDroppedError(
        `too many uncommitted bytes (${this.uncommittedSize} + ${size} > ${limit}); the group may have lost its quorum`,
      );
    }
    const ids = this.appendEntries(data, kind);
    this.bcastAppend();
    return ids;
  }

  private appendEntries(data: readonly Uint8Array[], kind: EntryKind): ProposalId[] {
    const term = this._term;
    let index = this.log.lastIndex();
    const ents: Entry[] = [];
    const ids: ProposalId[] = [];
    for (const d of data) {
      index++;
      ents.push({ term, index, kind, data: d });
      ids.push({ index, term });
      this.uncommittedSize += d.byteLength;
    }
    this.log.append(ents);
    return ids;
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this._term;
  }

  /** Commit what a quorum has made durable, if it is of our term. */
  private maybeCommit(): boolean {
    return this.log.maybeCommit(this.trk.committedIndex(), this._term);
  }

  private afterMatchAdvanced(): void {
    if (this.maybeCommit()) {
      this.releaseReadsAwaitingCommit();
      this.bcastAppend();
    }
  }

  private send(m: Message): void {
    if (AFTER_PERSIST.has(m.type)) this.msgsAfterPersist.push(m);
    else this.msgs.push(m);
  }

  private bcastAppend(): void {
    for (const id of this.trk.progress.keys()) {
      if (id !== this.id) this.sendAppend(id);
    }
  }

  private sendAppend(to: MemberId): void {
    this.maybeSendAppend(to, true);
  }

  /** Sends the next append (or a snapshot) to `to` if its flow control allows. */
  private maybeSendAppend(to: MemberId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) {
      if (prevIndex < this.log.firstIndex() - 1) return this.maybeSendSnapshot(to, pr);
      throw new Error(`raft: progress of ${to} is past the end of the log (next ${pr.next})`);
    }
    let entries: Entry[] = [];
    // With a full pipeline, send an empty append: if every append in flight was lost, its answer (a
    // rejection) is what unblocks the pipeline.
    if (pr.state !== 'replicate' || !pr.inflights.full()) {
      try {
        entries = this.log.entries(pr.next, this.cfg.maxSizePerMsg);
      } catch (e) {
        if (e instanceof CompactedError) return this.maybeSendSnapshot(to, pr);
        throw e;
      }
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    const m: AppendMessage = {
      type: 'app',
      from: this.id,
      to,
      term: this._term,
      index: prevIndex,
      logTerm: prevTerm,
      entries,
      commit: this.log.committed,
    };
    this.send(m);
    pr.sentEntries(entries.length, payloadSize(entries));
    return true;
  }

  private maybeSendSnapshot(to: MemberId, pr: Progress): boolean {
    // Only to a member that answers: snapshots are big.
    if (!pr.recentActive) return false;
    let snapshot;
    try {
      snapshot = this.log.snapshot();
    } catch (e) {
      if (e instanceof SnapshotTemporarilyUnavailableError) return false;
      throw e;
    }
    if (snapshot.meta.index === 0) throw new Error('raft: entries are compacted but storage has no snapshot');
    pr.becomeSnapshot(snapshot.meta.index);
    const m: SnapshotMessage = { type: 'snap', from: this.id, to, term: this._term, snapshot };
    this.send(m);
    return true;
  }

  private bcastHeartbeat(): void {
    for (const [id, pr] of this.trk.progress) {
      if (id === this.id) continue;
      const m: HeartbeatMessage = {
        type: 'heartbeat',
        from: this.id,
        to: id,
        term: this._term,
        // Never ahead of what the member has: it cannot commit entries it lacks.
        commit: Math.min(pr.match, this.log.committed),
        readSeq: this.reads.seq,
      };
      this.send(m);
    }
  }

  private sendTimeoutNow(to: MemberId): void {
    this.send({ type: 'timeoutNow', from: this.id, to, term: this._term });
  }

  private stepLeader(m: Message): void {
    if (m.type === 'readIndex') {
      if (this.trk.isMember(m.from)) this.leaderRead(m.ctx, m.from);
      return;
    }
    const pr = this.trk.progress.get(m.from);
    if (pr === undefined) return;
    switch (m.type) {
      case 'appResp':
        this.handleAppendResponse(m, pr);
        return;
      case 'heartbeatResp':
        this.handleHeartbeatResponse(m, pr);
        return;
      default:
        // Same-term votes answers, appends from nobody (one leader per term), etc.
        return;
    }
  }

  private handleAppendResponse(m: AppendResponseMessage, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTerm)[0];
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (!(pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === 'probe'))) return;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      // The member has what the snapshot covered (or caught up otherwise): replicate from there.
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.releaseReadsAwaitingCommit();
      this.bcastAppend();
    } else if (oldPaused) {
      this.sendAppend(m.from);
    }
    // Fill the pipeline.
    while (this.maybeSendAppend(m.from, false)) {
      /* keep sending */
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResponse(m: HeartbeatResponseMessage, pr: Progress): void {
    pr.recentActive = true;
    pr.msgAppFlowPaused = false;
    // Also when the pipeline is full: an empty append lets a member whose appends were all lost recover.
    if (pr.match < this.log.lastIndex() || pr.state === 'probe') this.sendAppend(m.from);
    if (m.readSeq > 0 && this.reads.hasPending()) {
      this.reads.ack(m.from, m.readSeq);
      for (const r of this.reads.release(this.trk.voters, this.id)) this.answerRead(r.index, r.ctx, r.from);
    }
  }

  private leaderRead(ctx: string, from: MemberId): void {
    // Until an entry of our term is committed, our commit index may lag the true one (even alone: a
    // commit index is written without fsync, so a restart may bring back an older one).
    if (!this.committedEntryInCurrentTerm()) {
      this.readsAwaitingCommit.push({ ctx, from });
      return;
    }
    if (this.trk.isSingleton()) {
      this.answerRead(this.log.committed, ctx, from);
      return;
    }
    this.reads.add(this.log.committed, ctx, from);
    this.bcastHeartbeat();
  }

  private releaseReadsAwaitingCommit(): void {
    if (this.readsAwaitingCommit.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const waiting = this.readsAwaitingCommit;
    this.readsAwaitingCommit = [];
    for (const r of waiting) this.leaderRead(r.ctx, r.from);
  }

  private answerRead(index: number, ctx: string, from: MemberId): void {
    if (from === this.id) this.readStates.push({ index, ctx });
    else this.send({ type: 'readIndexResp', from: this.id, to: from, term: this._term, index, ctx });
  }

  // ---- Candidate and follower ------------------------------------------------------------------

  private handleVoteRequest(m: VoteMessage): void {
    const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.lead === null) ||
      (m.type === 'preVote' && m.term > this._term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.send({ type: respType, from: this.id, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, from: this.id, to: m.from, term: this._term, reject: true });
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'voteResp':
      case 'preVoteResp': {
        if ((m.type === 'voteResp') !== (this._role === 'candidate')) return;
        this.trk.recordVote(m.from, !m.reject);
        const result = this.trk.voteResult();
        if (result === 'won') {
          if (this._role === 'preCandidate') this.campaignNow('election');
          else this.winElection();
        } else if (result === 'lost') {
          this.becomeFollower(this._term, null);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'timeoutNow':
        // The leader hands over: campaign at once, skipping pre-vote, past other members' lease.
        this.hup('transfer');
        return;
      case 'readIndexResp':
        this.readStates.push({ index: m.index, ctx: m.ctx });
        return;
      default:
        return;
    }
  }

  private handleAppend(m: AppendMessage): void {
    const resp = (index: number, reject: boolean, rejectHint: number, logTerm: number): void =>
      this.send({ type: 'appResp', from: this.id, to: m.from, term: this._term, index, reject, rejectHint, logTerm });
    if (m.index < this.log.committed) {
      // Old news: everything up to our commit already matches the leader's log.
      resp(this.log.committed, false, 0, 0);
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      resp(lastNew, false, 0, 0);
      return;
    }
    // Tell the leader where our log may match: the last index <= m.index whose term <= m.logTerm.
    const [hintIndex, hintTerm] = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    resp(m.index, true, hintIndex, hintTerm);
  }

  private handleHeartbeat(m: HeartbeatMessage): void {
    this.log.commitTo(m.commit);
    this.send({ type: 'heartbeatResp', from: this.id, to: m.from, term: this._term, readSeq: m.readSeq });
  }

  private handleSnapshot(m: SnapshotMessage): void {
    const index = this.restore(m) ? this.log.lastIndex() : this.log.committed;
    this.send({ type: 'appResp', from: this.id, to: m.from, term: this._term, index, reject: false, rejectHint: 0, logTerm: 0 });
  }

  /** Installs a snapshot from the leader. False when it brings nothing new. */
  private restore(m: SnapshotMessage): boolean {
    const { meta } = m.snapshot;
    if (meta.index <= this.log.committed) return false;
    // A snapshot taken before we were added does not list us; the entries after it add us. (etcd
    // ignores such snapshots, relying on its server to build a fresh one per send.)
    if (this.log.matchTerm(meta.index, meta.term)) {
      // We have the entries already: just learn that they are committed.
      this.log.commitTo(meta.index);
      return false;
    }
    this.log.restore(m.snapshot);
    this.trk.setConf(cloneConf(meta.conf), this.log.lastIndex() + 1);
    this.confIndex = meta.index;
    return true;
  }

  private applyConf(e: Entry): void {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(e.data);
    } catch {
      // Every member skips the same malformed entry.
      return;
    }
    this.appliedConf = applyConfChange(this.appliedConf, cc);
    // Already superseded by a snapshot received meanwhile: the tracker has a newer membership.
    if (e.index <= this.confIndex) return;
    this.confIndex = e.index;
    // A new member starts probed at our last index, so there is an entry to send it right away.
    this.trk.setConf(cloneConf(this.appliedConf), this.log.lastIndex());
    if (this._role !== 'leader') return;
    if (!this.trk.voters.has(this.id)) {
      // Removed (or demoted): the change is committed, so the others go on without us.
      this.becomeFollower(this._term, null);
      return;
    }
    if (this.leadTransferee !== null && !this.trk.voters.has(this.leadTransferee)) this.abortLeaderTransfer();
    if (this.maybeCommit()) {
      this.releaseReadsAwaitingCommit();
      this.bcastAppend();
    } else {
      // Probe new members now rather than at the next heartbeat.
      for (const id of this.trk.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, false);
    }
    for (const r of this.reads.release(this.trk.voters, this.id)) this.answerRead(r.index, r.ctx, r.from);
  }
}
