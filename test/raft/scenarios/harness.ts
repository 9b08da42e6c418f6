// A hand-driven group of cores for scenario tests, in the spirit of etcd's interaction tests: the test
// says who ticks, who campaigns, which links are cut, and calls stabilize() to let every member handle
// its Ready (persist, send, apply) and every message be delivered, until nothing moves.
import {
  MemoryLogStorage,
  RaftCore,
  SeededRandom,
  type Entry,
  type MemberId,
  type Message,
  type RaftConfig,
  type ReadState,
} from '../../../src/raft/core/index.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface Member {
  id: MemberId;
  storage: MemoryLogStorage;
  core: RaftCore | null;
  /** Payloads of applied normal entries, as strings (the state machine is a list). */
  applied: string[];
  /** Index the state machine has applied (including entries applied through a snapshot). */
  appliedIndex: number;
  readStates: ReadState[];
}

export type CoreOptions = Omit<Partial<RaftConfig>, 'id' | 'storage' | 'random'>;

export class Cluster {
  readonly members = new Map<MemberId, Member>();
  /** Every message delivered, for assertions about what was said ("who voted", "was a snapshot sent"). */
  readonly delivered: Message[] = [];
  private inflight: Message[] = [];
  private cut = new Set<string>();
  private dropRule: ((m: Message) => boolean) | null = null;
  private seed = 1;

  constructor(
    voters: MemberId[],
    private readonly options: CoreOptions = {},
  ) {
    for (const id of voters) this.add(id, MemoryLogStorage.bootstrap(voters));
  }

  /** Starts a member with `storage` (an empty one: a new member waiting to be added). */
  add(id: MemberId, storage: MemoryLogStorage = new MemoryLogStorage()): Member {
    const m: Member = { id, storage, core: null, applied: [], appliedIndex: 0, readStates: [] };
    this.members.set(id, m);
    this.start(m);
    return m;
  }

  private start(m: Member): void {
    m.core = new RaftCore({
      id: m.id,
      storage: m.storage,
      random: new SeededRandom(this.seed++),
      electionTick: 10,
      heartbeatTick: 1,
      ...this.options,
    });
    const snap = m.storage.snapshot();
    m.appliedIndex = snap.meta.index;
    m.applied = decodeState(snap.data);
  }

  member(id: MemberId): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  core(id: MemberId): RaftCore {
    const c = this.member(id).core;
    if (c === null) throw new Error(`${id} is down`);
    return c;
  }

  // ---- Faults ----------------------------------------------------------------------------------

  /** Cuts both directions between `id` and everyone else. */
  isolate(id: MemberId): void {
    for (const other of this.members.keys()) {
      if (other !== id) {
        this.cut.add(`${id}>${other}`);
        this.cut.add(`${other}>${id}`);
      }
    }
  }

  /** Cuts messages from `from` to `to` only. */
  cutLink(from: MemberId, to: MemberId): void {
    this.cut.add(`${from}>${to}`);
  }

  /** Drops every message for which `rule` holds (until heal()). */
  drop(rule: (m: Message) => boolean): void {
    this.dropRule = rule;
  }

  heal(): void {
    this.cut.clear();
    this.dropRule = null;
  }

  /** Stops a member. Everything it handled was persisted (stabilize persists synchronously). */
  crash(id: MemberId): void {
    this.member(id).core = null;
  }

  restart(id: MemberId): void {
    const m = this.member(id);
    if (m.core === null) this.start(m);
  }

  // ---- Driving ---------------------------------------------------------------------------------

  tick(id: MemberId, n = 1): void {
    for (let i = 0; i < n; i++) this.core(id).tick();
  }

  /** Ticks every running member n times, stabilizing after each round. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const m of this.members.values()) m.core?.tick();
      this.stabilize();
    }
  }

  campaign(id: MemberId): void {
    this.core(id).campaign();
  }

  propose(id: MemberId, value: string): void {
    this.core(id).propose(enc.encode(value));
  }

  /** Handles every Ready and delivers every message until the group is quiet. */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      let moved = false;
      for (const m of this.members.values()) moved = this.handleReady(m) || moved;
      const batch = this.inflight;
      this.inflight = [];
      for (const msg of batch) {
        if (this.cut.has(`${msg.from}>${msg.to}`) || this.dropRule?.(msg) === true) continue;
        const to = this.members.get(msg.to);
        if (to?.core == null) continue;
        this.delivered.push(msg);
        to.core.step(msg);
        moved = true;
      }
      if (!moved) return;
    }
    throw new Error('stabilize: the group did not settle');
  }

  private handleReady(m: Member): boolean {
    const core = m.core;
    if (core === null) return false;
    let moved = false;
    while (core.hasReady()) {
      moved = true;
      const rd = core.ready();
      this.inflight.push(...rd.messages);
      if (rd.snapshot) m.storage.applySnapshot(rd.snapshot);
      m.storage.append(rd.entries);
      if (rd.hardState) m.storage.setHardState(rd.hardState);
      this.inflight.push(...rd.messagesAfterPersist);
      if (rd.snapshot) {
        m.appliedIndex = rd.snapshot.meta.index;
        m.applied = decodeState(rd.snapshot.data);
      }
      for (const e of rd.committedEntries) this.apply(m, e);
      m.readStates.push(...rd.readStates);
      core.advance(rd);
    }
    return moved;
  }

  private apply(m: Member, e: Entry): void {
    if (e.index !== m.appliedIndex + 1) throw new Error(`${m.id} applied ${e.index} after ${m.appliedIndex}`);
    m.appliedIndex = e.index;
    if (e.kind === 'normal') m.applied.push(dec.decode(e.data));
  }

  /** Takes a snapshot of `id`'s state machine at its applied index and drops the log up to it. */
  compact(id: MemberId): number {
    const m = this.member(id);
    const index = m.appliedIndex;
    m.storage.createSnapshot(index, this.core(id).confState(), encodeState(m.applied));
    m.storage.compact(index);
    return index;
  }

  // ---- Looking -----------------------------------------------------------------------------------

  /** The leader of the highest term among running members, if any. */
  leader(): MemberId | null {
    let best: RaftCore | null = null;
    for (const m of this.members.values()) {
      const c = m.core;
      if (c?.role === 'leader' && (best === null || c.term > best.term)) best = c;
    }
    return best?.id ?? null;
  }

  applied(id: MemberId): string[] {
    return this.member(id).applied;
  }

  /** Terms of the entries [from, last] in `id`'s log ("1 1 2 3"), for comparing logs at a glance. */
  logTerms(id: MemberId, from = 1): string {
    const c = this.core(id);
    const out: string[] = [];
    for (let i = from; i <= c.lastIndex(); i++) out.push(String(c.termOf(i) ?? '_'));
    return out.join(' ');
  }

  /** Delivered messages of one type (optionally to/from someone), counted since `since`. */
  count(type: Message['type'], filter: { from?: MemberId; to?: MemberId; since?: number } = {}): number {
    let n = 0;
    for (let i = filter.since ?? 0; i < this.delivered.length; i++) {
      const m = this.delivered[i]!;
      if (m.type === type && (filter.from === undefined || m.from === filter.from) && (filter.to === undefined || m.to === filter.to)) n++;
    }
    return n;
  }
}

function encodeState(applied: string[]): Uint8Array {
  return enc.encode(JSON.stringify(applied));
}

function decodeState(data: Uint8Array): string[] {
  if (data.byteLength === 0) return [];
  return JSON.parse(dec.decode(data)) as string[];
}
