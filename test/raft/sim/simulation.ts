// A deterministic simulation of a Raft group: N members running RaftCore with a simulated clock, disk
// and network, clients writing to an append-only set and reading it through ReadIndex, and an operator
// that partitions, crashes, restarts, changes membership and transfers leadership. Every step is
// followed by the checker's invariants. Everything random follows from the seed.
import {
  MemoryLogStorage,
  NotLeaderError,
  RaftCore,
  RaftError,
  type ConfState,
  type MemberId,
  type Message,
  type RaftConfig,
  type Ready,
} from '../../../src/raft/core/index.js';
import { Checker, SimViolation, writePayload } from './checker.js';
import { EventQueue } from './queue.js';
import { Rng } from './rng.js';

export interface SimOptions {
  seed: number;
  /** Simulated milliseconds of faults and load before the final convergence phase. */
  durationMs?: number;
  /** Receives one line per event when set. */
  trace?: (line: string) => void;
}

export interface SimStats {
  events: number;
  simMs: number;
  members: number;
  elections: number;
  maxTerm: number;
  writesAcked: number;
  readsDone: number;
  crashes: number;
  snapshotsSent: number;
  confChanges: number;
  transfers: number;
  messages: number;
}

export interface SimResult {
  seed: number;
  violation?: { kind: string; message: string; step: number; timeMs: number };
  stats: SimStats;
}

/** The per-seed shape of the world: sizes, timings and fault rates. */
interface Profile {
  members: number;
  tickMs: number;
  electionTick: number;
  heartbeatTick: number;
  netMin: number;
  netJitter: number;
  dropRate: number;
  dupRate: number;
  fsyncMin: number;
  fsyncJitter: number;
  snapshotEvery: number;
  snapshotKeep: number;
  maxSizePerMsg: number;
  maxInflight: number;
  clients: number;
  faultEveryMs: number;
  readShare: number;
  /** Chance that a new leader is crashed or cut off shortly after its election: leaders that die
   *  young leave logs with entries of many terms on minorities, where commit rules are tested. */
  leaderKillChance: number;
  storm: boolean;
  /** Longest outage of a young leader. */
  youngOutageMs: number;
}

function makeProfile(rng: Rng): Profile {
  // An election storm: every new leader is cut off or crashed soon after it wins, outages are short,
  // so a seed goes through dozens of leaders whose logs diverge on minorities.
  const storm = rng.chance(0.3);
  return {
    members: rng.chance(0.5) ? 3 : 5,
    tickMs: 10,
    electionTick: storm ? rng.range(4, 7) : rng.range(5, 12),
    heartbeatTick: rng.range(1, 2),
    netMin: rng.range(1, 3),
    netJitter: rng.range(1, 12),
    dropRate: rng.pick([0, 0, 0.01, 0.03, 0.08, 0.2]),
    dupRate: rng.pick([0, 0.01, 0.04]),
    fsyncMin: rng.uniform(0.2, 2),
    fsyncJitter: rng.uniform(0, 4),
    snapshotEvery: rng.range(6, 50),
    snapshotKeep: rng.range(0, 6),
    maxSizePerMsg: rng.pick([40, 40, 100, 200, 4096]),
    maxInflight: rng.range(1, 8),
    clients: rng.range(1, 8),
    faultEveryMs: rng.range(30, 250),
    readShare: rng.uniform(0.05, 0.4),
    storm,
    leaderKillChance: storm ? 1 : rng.pick([0, 0, 0.3, 0.7]),
    youngOutageMs: storm ? 150 : 400,
  };
}

interface PendingProposal {
  term: number;
  key: string;
  op: ClientOp;
  attempt: number;
}

interface PendingRead {
  op: ClientOp;
  attempt: number;
  ctx: string;
  /** The least applied index the answer may show (fixed when this attempt started). */
  floor: number;
}

interface ClientOp {
  client: number;
  kind: 'write' | 'read';
  value: string;
  attempt: number;
  done: boolean;
  node: MemberId | null;
}

class SimNode {
  core: RaftCore | null = null;
  /** Bumped at each crash: stale timers of an earlier life are ignored. */
  life = 0;
  inflight: Ready | null = null;
  /** Commit index as of the last fsync (an un-fsynced commit-only write may be lost in a crash). */
  syncedCommit = 0;
  smApplied = 0;
  smDigest = 0;
  proposals = new Map<number, PendingProposal>();
  reads = new Map<string, PendingRead>();
  readsAwaitingApply: { read: PendingRead; index: number }[] = [];
  slowDiskUntil = 0;
  /** A paused process (GC stall, SIGSTOP): it runs nothing until then; messages and requests wait. */
  pausedUntil = 0;
  /** Was ever a member (removed members are never added back). */
  everMember = false;

  constructor(
    readonly id: MemberId,
    readonly storage: MemoryLogStorage,
  ) {}
}

const MAX_EXTRA_MEMBERS = 3;
const CLIENT_TIMEOUT_MS = 400;
const CONVERGE_LIMIT_MS = 30_000;

export class Simulation {
  readonly rng: Rng;
  private readonly netRng: Rng;
  private readonly faultRng: Rng;
  private readonly clientRng: Rng;
  private readonly p: Profile;
  private readonly q = new EventQueue();
  private readonly nodes = new Map<MemberId, SimNode>();
  private readonly checker: Checker;
  private now = 0;
  private step = 0;
  private blocked = new Map<string, number>();
  private dropRate: number;
  private dupRate: number;
  private faultsOn = true;
  private clientsOn = true;
  private nextMemberNo: number;
  private opSeq = 0;
  private finalDone = false;
  readonly stats: SimStats;

  constructor(private readonly opts: SimOptions) {
    this.rng = new Rng(opts.seed);
    this.p = makeProfile(this.rng);
    this.netRng = this.rng.fork();
    this.faultRng = this.rng.fork();
    this.clientRng = this.rng.fork();
    this.dropRate = this.p.dropRate;
    this.dupRate = this.p.dupRate;
    this.checker = new Checker(() => this.nodes.values());
    this.stats = {
      events: 0,
      simMs: 0,
      members: this.p.members,
      elections: 0,
      maxTerm: 0,
      writesAcked: 0,
      readsDone: 0,
      crashes: 0,
      snapshotsSent: 0,
      confChanges: 0,
      transfers: 0,
      messages: 0,
    };
    const ids: MemberId[] = [];
    for (let i = 1; i <= this.p.members; i++) ids.push(`m${i}`);
    this.nextMemberNo = this.p.members + 1;
    for (const id of ids) {
      const n = new SimNode(id, MemoryLogStorage.bootstrap(ids));
      n.everMember = true;
      this.nodes.set(id, n);
      this.start(n);
    }
  }

  run(): SimResult {
    const duration = this.opts.durationMs ?? 2000;
    for (let c = 0; c < this.p.clients; c++) this.at(this.clientRng.range(0, 50), `client ${c} starts`, () => this.nextOp(c));
    this.at(this.faultRng.range(50, 200), 'operator', () => this.operate());
    this.at(duration, 'final phase', () => this.beginFinalPhase());
    try {
      for (;;) {
        const ev = this.q.pop();
        if (ev === undefined) throw new SimViolation('liveness', 'the simulation ran out of events');
        this.now = ev.time;
        this.step++;
        if (this.opts.trace) this.opts.trace(`[${this.step} t=${this.now.toFixed(2)}] ${ev.what}`);
        ev.run();
        if (this.finalDone) break;
        if (this.now > duration + CONVERGE_LIMIT_MS) {
          throw new SimViolation('liveness', `no convergence ${CONVERGE_LIMIT_MS} ms after faults stopped: ${this.describeNodes()}`);
        }
      }
    } catch (e) {
      return { seed: this.opts.seed, violation: this.describeFailure(e), stats: this.finishStats() };
    }
    return { seed: this.opts.seed, stats: this.finishStats() };
  }

  private describeFailure(e: unknown): { kind: string; message: string; step: number; timeMs: number } {
    const where = { step: this.step, timeMs: Math.round(this.now * 100) / 100 };
    if (e instanceof SimViolation) return { kind: e.kind, message: e.message, ...where };
    const err = e instanceof Error ? e : new Error(String(e));
    return { kind: 'exception', message: `${err.message}\n${err.stack ?? ''}`, ...where };
  }

  private finishStats(): SimStats {
    this.stats.events = this.step;
    this.stats.simMs = Math.round(this.now);
    this.stats.elections = this.checker.leaders.size;
    this.stats.maxTerm = Math.max(0, ...this.checker.leaders.keys());
    return this.stats;
  }

  private at(delay: number, what: string, run: () => void): void {
    this.q.push(this.now + delay, what, run);
  }

  private trace(line: string): void {
    if (this.opts.trace) this.opts.trace(`    ${line}`);
  }

  // ---- Members: start, crash, the driver loop ------------------------------------------------------

  private coreConfig(n: SimNode): RaftConfig {
    return {
      id: n.id,
      storage: n.storage,
      random: this.rng.fork(),
      electionTick: this.p.electionTick,
      heartbeatTick: this.p.heartbeatTick,
      maxSizePerMsg: this.p.maxSizePerMsg,
      maxInflightMsgs: this.p.maxInflight,
      maxPromotionLag: 20,
    };
  }

  private start(n: SimNode): void {
    n.pausedUntil = 0;
    n.core = new RaftCore(this.coreConfig(n));
    const snap = n.storage.snapshot();
    n.smApplied = snap.meta.index;
    n.smDigest = decodeDigest(snap.data);
    if (snap.meta.index > 0) this.checker.snapshotLoaded(n.id, snap.meta.index, snap.meta.term, n.smDigest);
    n.syncedCommit = n.storage.hardState().commit;
    const life = n.life;
    // Each member's clock runs at its own slightly different rate.
    const period = this.p.tickMs * this.rng.uniform(0.95, 1.05);
    const tick = (): void => {
      if (n.life !== life || n.core === null) return;
      // A paused process misses its ticks (timers do not catch up).
      if (!this.isPaused(n)) {
        n.core.tick();
        this.touched(n);
      }
      this.at(period, `tick ${n.id}`, tick);
    };
    this.at(this.rng.uniform(0, period), `tick ${n.id}`, tick);
    this.touched(n);
  }

  private crash(n: SimNode): void {
    if (n.core === null) return;
    this.stats.crashes++;
    const rd = n.inflight;
    // A torn write: part of the unacknowledged batch reached the disk.
    if (rd !== null && rd.snapshot === undefined && rd.entries.length > 0 && this.faultRng.chance(0.5)) {
      const kept = rd.entries.slice(0, this.faultRng.int(rd.entries.length + 1));
      if (kept.length > 0) this.writeEntries(n, kept);
      this.trace(`${n.id} crash keeps ${kept.length}/${rd.entries.length} unsynced entries`);
    }
    // A commit index written without fsync may be lost.
    const hs = n.storage.hardState();
    if (hs.commit > n.syncedCommit && this.faultRng.chance(0.5)) n.storage.setHardState({ ...hs, commit: n.syncedCommit });
    n.core = null;
    n.inflight = null;
    n.life++;
    for (const p of n.proposals.values()) this.opFailed(p.op, p.attempt);
    n.proposals.clear();
    for (const r of n.reads.values()) this.opFailed(r.op, r.attempt);
    n.reads.clear();
    for (const r of n.readsAwaitingApply) this.opFailed(r.read.op, r.read.attempt);
    n.readsAwaitingApply = [];
  }

  private restart(n: SimNode): void {
    if (n.core !== null) return;
    this.start(n);
  }

  /** After any call into a member's core: check invariants, then run its driver loop. */
  private touched(n: SimNode): void {
    const leadersBefore = this.checker.leaders.size;
    this.checker.observe(n);
    if (this.checker.leaders.size > leadersBefore && this.faultsOn) this.maybeKillYoungLeader(n);
    this.pump(n);
  }

  private maybeKillYoungLeader(n: SimNode): void {
    const r = this.faultRng;
    if (!r.chance(this.p.leaderKillChance)) return;
    const life = n.life;
    // Sometimes at once (its first appends, in flight, are lost), sometimes after a round trip or two.
    const after = r.chance(0.3) ? r.uniform(0, 1) : r.uniform(0, 3 * this.p.tickMs);
    // Isolation also loses the appends in flight, which is what leaves entries on minorities.
    const how = this.p.storm ? r.pick(['isolate', 'isolate', 'isolate', 'crash', 'crash', 'pause'] as const) : r.pick(['isolate', 'crash', 'pause'] as const);
    this.at(after, `${how} young leader ${n.id}`, () => {
      if (n.life !== life || n.core === null || !this.faultsOn) return;
      const ms = r.range(20, this.p.youngOutageMs);
      if (how === 'pause') {
        this.pause(n, ms);
      } else if (how === 'isolate') {
        for (const y of this.nodes.keys()) {
          if (y !== n.id) {
            this.block(n.id, y, ms);
            this.block(y, n.id, ms);
          }
        }
      } else {
        this.crash(n);
        this.at(ms, `restart ${n.id}`, () => this.restart(n));
      }
    });
  }

  private pump(n: SimNode): void {
    while (n.core !== null && n.inflight === null && n.core.hasReady()) {
      const rd = n.core.ready();
      n.inflight = rd;
      if (rd.softState) this.trace(`${n.id} is ${rd.softState.role} (leader ${rd.softState.leader ?? '-'}) term ${n.core.term}`);
      for (const m of rd.messages) this.send(m);
      if (rd.snapshot !== undefined || rd.entries.length > 0 || rd.hardState !== undefined) {
        const life = n.life;
        let delay = this.p.fsyncMin + this.rng.next() * this.p.fsyncJitter;
        if (this.now < n.slowDiskUntil) delay += 20 + this.rng.next() * 40;
        const done = (): void => {
          if (n.life !== life || n.inflight !== rd) return;
          if (this.isPaused(n)) this.at(n.pausedUntil - this.now, `fsync ${n.id} (after pause)`, done);
          else this.finishReady(n, rd);
        };
        this.at(delay, `fsync ${n.id}`, done);
        return;
      }
      this.finishReady(n, rd);
    }
  }

  private writeEntries(n: SimNode, entries: Ready['entries']): void {
    let prevTerm: number | undefined;
    try {
      prevTerm = n.storage.term(entries[0]!.index - 1);
    } catch {
      prevTerm = undefined;
    }
    n.storage.append(entries);
    this.checker.persisted(n.id, entries, prevTerm);
  }

  private finishReady(n: SimNode, rd: Ready): void {
    const core = n.core!;
    // 1. durable state
    if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) this.writeEntries(n, rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    if (rd.mustSync) n.syncedCommit = n.storage.hardState().commit;
    // 2. messages that promise durable state
    for (const m of rd.messagesAfterPersist) this.send(m);
    // 3. apply
    if (rd.snapshot) {
      const s = rd.snapshot;
      n.smApplied = s.meta.index;
      n.smDigest = decodeDigest(s.data);
      this.checker.snapshotLoaded(n.id, s.meta.index, s.meta.term, n.smDigest);
      this.trace(`${n.id} installed snapshot ${s.meta.index}`);
      for (const [i, p] of n.proposals) {
        if (i <= s.meta.index) {
          n.proposals.delete(i);
          this.opFailed(p.op, p.attempt);
        }
      }
    }
    for (const e of rd.committedEntries) {
      n.smDigest = this.checker.applied(n.id, e, n.smApplied, n.smDigest);
      n.smApplied = e.index;
      const p = n.proposals.get(e.index);
      if (p !== undefined) {
        n.proposals.delete(e.index);
        if (p.term === e.term) this.writeDone(p.op, e.index, p.key);
        else this.opFailed(p.op, p.attempt);
      }
    }
    for (const rs of rd.readStates) {
      const read = n.reads.get(rs.ctx);
      if (read === undefined) continue;
      n.reads.delete(rs.ctx);
      n.readsAwaitingApply.push({ read, index: rs.index });
    }
    core.advance(rd);
    n.inflight = null;
    if (core.appliedIndex !== n.smApplied) {
      throw new SimViolation('driver', `${n.id}: core applied ${core.appliedIndex}, state machine at ${n.smApplied}`);
    }
    this.maybeCompact(n, core);
    this.serveReads(n);
    this.touched(n);
  }

  private maybeCompact(n: SimNode, core: RaftCore): void {
    const snapIndex = n.storage.snapshot().meta.index;
    if (n.smApplied - snapIndex < this.p.snapshotEvery) return;
    n.storage.createSnapshot(n.smApplied, core.confState(), encodeDigest(n.smDigest));
    // Writing a snapshot fsyncs: every earlier write is durable too.
    n.syncedCommit = n.storage.hardState().commit;
    n.storage.compact(Math.max(n.storage.firstIndex() - 1, n.smApplied - this.p.snapshotKeep));
  }

  private serveReads(n: SimNode): void {
    if (n.readsAwaitingApply.length === 0) return;
    const still: { read: PendingRead; index: number }[] = [];
    for (const r of n.readsAwaitingApply) {
      if (n.smApplied >= r.index) this.readDone(r.read, n);
      else still.push(r);
    }
    n.readsAwaitingApply = still;
  }

  // ---- Network ---------------------------------------------------------------------------------

  private isBlocked(from: MemberId, to: MemberId): boolean {
    return (this.blocked.get(`${from}>${to}`) ?? 0) > 0;
  }

  private block(from: MemberId, to: MemberId, ms: number): void {
    const k = `${from}>${to}`;
    this.blocked.set(k, (this.blocked.get(k) ?? 0) + 1);
    this.at(ms, `heal ${k}`, () => this.blocked.set(k, (this.blocked.get(k) ?? 1) - 1));
  }

  private send(m: Message): void {
    this.stats.messages++;
    if (m.type === 'snap') this.stats.snapshotsSent++;
    if (!this.nodes.has(m.to)) return;
    if (this.netRng.chance(this.dropRate)) return;
    const copies = this.netRng.chance(this.dupRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = this.p.netMin + this.netRng.next() * this.p.netJitter;
      // A long tail: some messages arrive very late (and thus out of order).
      if (this.netRng.chance(0.01)) delay *= this.netRng.uniform(3, 15);
      this.at(delay, `deliver ${m.type} ${m.from}->${m.to} t${m.term}`, () => this.deliver(m));
    }
  }

  private deliver(m: Message): void {
    if (this.isBlocked(m.from, m.to)) return;
    const n = this.nodes.get(m.to);
    if (n?.core == null) return;
    if (this.isPaused(n)) {
      // Waits in the socket buffer until the process runs again.
      this.at(n.pausedUntil - this.now, `deliver ${m.type} ${m.from}->${m.to} t${m.term} (after pause)`, () => this.deliver(m));
      return;
    }
    n.core.step(m);
    this.touched(n);
  }

  private isPaused(n: SimNode): boolean {
    return this.now < n.pausedUntil;
  }

  private pause(n: SimNode, ms: number): void {
    n.pausedUntil = Math.max(n.pausedUntil, this.now + ms);
    this.trace(`pause ${n.id} for ${ms}ms`);
  }

  // ---- Clients: an append-only set, written through the leader, read through ReadIndex ----------

  private nextOp(client: number): void {
    if (!this.clientsOn) return;
    const kind = this.clientRng.chance(this.p.readShare) ? 'read' : 'write';
    const op: ClientOp = { client, kind, value: `c${client}-${++this.opSeq}`, attempt: 0, done: false, node: null };
    this.attempt(op);
  }

  /** A client's guess of the leader: the member most recently seen leading. */
  private guessNode(hint: MemberId | null): SimNode | undefined {
    if (hint !== null) {
      const n = this.nodes.get(hint);
      if (n?.core != null) return n;
    }
    const up = [...this.nodes.values()].filter((x) => x.core !== null);
    if (up.length === 0) return undefined;
    return this.clientRng.pick(up);
  }

  private attempt(op: ClientOp, hint: MemberId | null = null): void {
    if (op.done) return;
    op.attempt++;
    const n = this.guessNode(hint ?? op.node);
    if (n === undefined) {
      this.at(5, `client ${op.client} waits`, () => this.attempt(op));
      return;
    }
    this.issue(op, n, op.attempt);
  }

  private issue(op: ClientOp, n: SimNode, attempt: number): void {
    if (op.done || op.attempt !== attempt) return;
    if (n.core === null) {
      this.opFailed(op, attempt);
      return;
    }
    if (this.isPaused(n)) {
      // The request waits for the paused process, which then handles it as if nothing happened.
      this.at(n.pausedUntil - this.now, `client ${op.client} request reaches ${n.id}`, () => this.issue(op, n, attempt));
      return;
    }
    const core = n.core;
    op.node = n.id;
    try {
      if (op.kind === 'write') {
        const key = `${op.value}/${attempt}`;
        const id = core.propose(writePayload(key));
        const old = n.proposals.get(id.index);
        if (old !== undefined) this.opFailed(old.op, old.attempt);
        n.proposals.set(id.index, { term: id.term, key, op, attempt });
      } else {
        const ctx = `${op.value}/${attempt}`;
        const floor = this.checker.readFloor();
        core.readIndex(ctx);
        n.reads.set(ctx, { op, attempt, ctx, floor });
      }
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
      const next = e instanceof NotLeaderError ? e.leader : null;
      op.node = null;
      this.at(next !== null ? 1 : 10, `client ${op.client} retries`, () => this.attempt(op, next));
      return;
    }
    this.touched(n);
    this.at(CLIENT_TIMEOUT_MS, `client ${op.client} timeout`, () => {
      if (!op.done && op.attempt === attempt) {
        op.node = null;
        this.attempt(op);
      }
    });
  }

  /** Attempt `attempt` of `op` will not complete: retry, unless a later attempt is already out. */
  private opFailed(op: ClientOp, attempt: number): void {
    if (op.done || op.attempt !== attempt) return;
    op.node = null;
    this.at(2, `client ${op.client} retries`, () => {
      if (op.attempt === attempt) this.attempt(op);
    });
  }

  private writeDone(op: ClientOp, index: number, key: string): void {
    // A second attempt that lands too puts the value in the set twice, which a set absorbs.
    if (op.done) return;
    op.done = true;
    this.stats.writesAcked++;
    this.checker.writeAcked(key, index);
    this.at(this.clientRng.uniform(0, 8), `client ${op.client} next`, () => this.nextOp(op.client));
  }

  private readDone(r: PendingRead, n: SimNode): void {
    // Every attempt's answer must be linearizable, even one the client gave up waiting for.
    this.checker.readCompleted(n.id, r.ctx, r.floor, n.smApplied);
    const op = r.op;
    if (op.done) return;
    op.done = true;
    this.stats.readsDone++;
    this.at(this.clientRng.uniform(0, 8), `client ${op.client} next`, () => this.nextOp(op.client));
  }

  // ---- Operator: faults and administration -----------------------------------------------------

  private leaderNode(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.core?.role === 'leader' && (best === undefined || n.core.term > best.core!.term)) best = n;
    }
    return best;
  }

  private operate(): void {
    if (!this.faultsOn) return;
    const r = this.faultRng;
    const up = [...this.nodes.values()].filter((n) => n.core !== null);
    const down = [...this.nodes.values()].filter((n) => n.core === null);
    const ids = [...this.nodes.keys()];
    const found = this.leaderNode();
    const leader = found !== undefined && !this.isPaused(found) ? found : undefined;
    const dur = (): number => r.range(30, 900);
    const action = r.int(100);
    if (action < 12) {
      const x = r.pick(ids);
      const ms = dur();
      this.trace(`isolate ${x} for ${ms}ms`);
      for (const y of ids) if (y !== x) { this.block(x, y, ms); this.block(y, x, ms); }
    } else if (action < 20) {
      const side = new Set(ids.filter(() => r.chance(0.5)));
      const ms = dur();
      this.trace(`partition {${[...side].join(',')}} for ${ms}ms`);
      for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) this.block(a, b, ms);
    } else if (action < 28) {
      const a = r.pick(ids);
      const b = r.pick(ids);
      const ms = dur();
      if (a !== b) {
        this.trace(`block ${a}->${b} for ${ms}ms`);
        this.block(a, b, ms);
      }
    } else if (action < 42) {
      const victim = leader !== undefined && r.chance(0.4) ? leader : up.length > 0 ? r.pick(up) : undefined;
      if (victim !== undefined) {
        const ms = r.range(0, 600);
        this.trace(`crash ${victim.id} for ${ms}ms`);
        this.crash(victim);
        this.at(ms, `restart ${victim.id}`, () => this.restart(victim));
      }
    } else if (action < 46) {
      if (down.length > 0) this.restart(r.pick(down));
    } else if (action < 56) {
      if (leader !== undefined) {
        const voters = leader.core!.status().conf.voters;
        const to = r.pick(voters);
        try {
          leader.core!.transferLeadership(to);
          this.stats.transfers++;
          this.trace(`transfer leadership ${leader.id} -> ${to}`);
        } catch (e) {
          if (!(e instanceof RaftError)) throw e;
        }
        this.touched(leader);
      }
    } else if (action < 74) {
      if (leader !== undefined) this.changeMembership(leader, r);
    } else if (action < 82) {
      this.dropRate = r.pick([0, 0.01, 0.05, 0.15]);
      this.dupRate = r.pick([0, 0.02, 0.05]);
      this.trace(`network drop ${this.dropRate} dup ${this.dupRate}`);
    } else if (action < 88) {
      const n = r.pick([...this.nodes.values()]);
      n.slowDiskUntil = this.now + r.range(50, 400);
      this.trace(`slow disk on ${n.id}`);
    } else if (action < 95) {
      const n = leader !== undefined && r.chance(0.5) ? leader : r.pick([...this.nodes.values()]);
      this.pause(n, r.range(20, 800));
    }
    this.at(this.p.faultEveryMs * r.uniform(0.5, 1.5), 'operator', () => this.operate());
  }

  private changeMembership(leader: SimNode, r: Rng): void {
    const core = leader.core!;
    const conf: ConfState = core.status().conf;
    const learners = conf.learners;
    const voters = conf.voters;
    const choice = r.int(3);
    let proposal: Parameters<RaftCore['proposeConfChange']>[0] | undefined;
    if (choice === 0 && learners.length === 0 && this.nextMemberNo <= this.p.members + MAX_EXTRA_MEMBERS) {
      const id = `m${this.nextMemberNo++}`;
      const n = new SimNode(id, new MemoryLogStorage());
      this.nodes.set(id, n);
      this.start(n);
      proposal = { type: 'addLearner', member: id };
    } else if (choice === 1 && learners.length > 0) {
      proposal = { type: 'addVoter', member: r.pick(learners) };
    } else if (choice === 2 && (voters.length > 3 || learners.length > 0)) {
      const pool = voters.length > 3 ? [...voters, ...learners] : learners;
      proposal = { type: 'removeMember', member: r.pick(pool) };
    }
    if (proposal === undefined) return;
    try {
      core.proposeConfChange(proposal);
      this.stats.confChanges++;
      this.trace(`propose ${proposal.type} ${proposal.member} at ${leader.id}`);
      const m = this.nodes.get(proposal.member);
      if (m !== undefined) m.everMember = true;
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
      this.trace(`conf change refused: ${e.message}`);
    }
    this.touched(leader);
  }

  // ---- The end: heal everything and require convergence ------------------------------------------

  private beginFinalPhase(): void {
    this.faultsOn = false;
    this.blocked.clear();
    this.dropRate = 0;
    this.dupRate = 0;
    for (const n of this.nodes.values()) {
      n.slowDiskUntil = 0;
      n.pausedUntil = Math.min(n.pausedUntil, this.now);
      if (n.core === null) this.restart(n);
    }
    this.trace('final phase: faults off, everything restarted');
    const op: ClientOp = { client: -1, kind: 'write', value: 'final', attempt: 0, done: false, node: null };
    this.clientsOn = false;
    this.attempt(op);
    const check = (): void => {
      if (this.converged(op)) {
        this.finalDone = true;
        return;
      }
      this.at(20, 'convergence check', check);
    };
    this.at(20, 'convergence check', check);
  }

  private converged(op: ClientOp): boolean {
    if (!op.done) return false;
    const leader = this.leaderNode();
    if (leader === undefined) return false;
    const target = this.checker.maxAckedIndex;
    const conf = leader.core!.confState();
    for (const id of [...conf.voters, ...conf.learners]) {
      const n = this.nodes.get(id);
      if (n?.core == null || n.smApplied < target) return false;
    }
    // Every acknowledged write is in the applied log every member now holds.
    for (const a of this.checker.acked) {
      if (this.checker.appliedKeyAt(a.index) !== a.key) {
        throw new SimViolation('client history', `acknowledged write ${a.key} at ${a.index} is not in the final log`);
      }
    }
    return true;
  }

  private describeNodes(): string {
    return [...this.nodes.values()]
      .map((n) => {
        if (n.core === null) return `${n.id}: down`;
        const s = n.core.status();
        return `${n.id}: ${s.role} t${s.term} commit ${s.commit} applied ${s.applied} last ${s.lastIndex} voters [${s.conf.voters.join(',')}] learners [${s.conf.learners.join(',')}]`;
      })
      .join('; ');
  }
}

function encodeDigest(d: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, d);
  return b;
}

function decodeDigest(b: Uint8Array): number {
  if (b.byteLength < 4) return 0;
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
}

export function runSeed(opts: SimOptions): SimResult {
  return new Simulation(opts).run();
}

/** The lines printed for a failed seed: what broke, where, and how to replay it. */
export function describeViolation(r: SimResult): string {
  const v = r.violation;
  if (v === undefined) return '';
  return [
    `VIOLATION seed=${r.seed} step=${v.step} t=${v.timeMs}ms ${v.kind}: ${v.message}`,
    `  replay: npm run sim -- --seed ${r.seed}${'' /* add --trace to print every step */}`,
    `  trace:  npm run sim -- --seed ${r.seed} --trace`,
  ].join('\n');
}
