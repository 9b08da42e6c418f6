// The World: every aggregate of the manager, applied from the Raft log. `apply` is pure and
// deterministic (no clock, randomness, I/O or timers): each member that applies the same entries
// holds byte-identical state (see digest()). A batch applies all or nothing.
import { createActor, type Actor, type AnyStateMachine, type StateValue } from 'xstate';
import type { DomainEvent } from '../events/catalog.js';
import { decodeFramed, DecodeError, encodeEvent, type FramedBatch } from '../events/codec.js';
import { canonicalize } from '../events/canonical.js';
import { parseAgg, type AggId, type AggKind, type AggRef } from '../events/envelope.js';
import { binaryToHex, chainHashBinary, chainHashRange, hashableBytes } from '../events/hashchain.js';
import { hasSecrets } from '../events/redact.js';
import { checkEvent } from '../events/validate.js';
import { hash } from 'node:crypto';
import { backupsIn } from './backup-storages.js';
import { backupRecords, type BackupRecord } from './backups.js';
import { jobActive } from './facts.js';
import { reindex } from './indexes.js';
import { runnerOf, type Ctxs, type KeyOf } from './logics.js';
import { applyEffects, checkRules, checkShardInvariants } from './rules.js';
import { stateKey, type PersistedSnapshot } from './runner.js';
import { decodeWorld, encodeWorld } from './snapshot.js';
import { WorldState, type Counters, type Leader, type ProjectionFailure, type Rec } from './state.js';
import { Tx } from './tx.js';
import {
  backupStorageView,
  clusterView,
  compView,
  jobView,
  machineView,
  managerView,
  nodeView,
  shardView,
  type BackupStorageView,
  type ClusterView,
  type CompView,
  type JobView,
  type MachineView,
  type ManagerView,
  type NodeView,
  type ShardView,
  type WorldView,
} from './views.js';

/** One event as committed: its place in the log and in the hash chain. */
export class Committed {
  constructor(
    /** Raft index of the entry that carried it. */
    readonly index: number,
    /** Position inside the entry's batch. */
    readonly pos: number,
    /** Position in the hash chain (1-based, counts committed events only). */
    readonly seq: number,
    /** SHA-256 chained over the previous event's hash, as a binary (latin1) string. */
    readonly hashBinary: string,
    readonly event: DomainEvent,
    private readonly buf: Buffer,
    private readonly start: number,
    private readonly end: number,
  ) {}

  /** The event bytes as stored in the log. */
  get bytes(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  /** The chain hash as hex (computed on demand: replay rarely needs it). */
  get hash(): string {
    return binaryToHex(this.hashBinary);
  }

  get hashBytes(): Buffer {
    return Buffer.from(this.hashBinary, 'latin1');
  }
}

export type ApplyResult =
  | { ok: true; index: number; committed: Committed[] }
  | {
      ok: false;
      index: number;
      /** Event position in the batch, or -1 when the batch as a whole was refused. */
      pos: number;
      code: 'malformed' | 'refused';
      reason: string;
    };

export type CheckResult = { ok: true } | { ok: false; pos: number; reason: string };

type AnyStore = Map<number | string, Rec<unknown>>;

const SHAPES_PRIMARY: ReadonlySet<string> = new Set([
  'shard.added',
  'shard.adopted',
  'shard.primary_changed',
  'shard.failover_finished',
  'node.added',
  'node.adopted',
  'node.role_changed',
  'node.access_changed',
  'node.rejoined',
  'node.removed',
]);

export class World {
  private readonly s: WorldState;
  private readonly tx = new Tx();
  private readonly touched = new Set<number>();

  /** Opens a sealed secret for clusterSecret(); set by the member that holds the key (never used by apply). */
  private openSecret: (sealed: string) => string = (v) => v;

  constructor(state?: WorldState) {
    this.s = state ?? new WorldState();
  }

  setSecretOpener(open: (sealed: string) => string): void {
    this.openSecret = open;
  }

  /** A world from snapshot() bytes. */
  static restore(bytes: Uint8Array): World {
    return new World(decodeWorld(bytes));
  }

  // ---- applying the log ----

  /**
   * Applies one Raft entry's data. A malformed or refused batch changes nothing but the applied index.
   * Empty data (a leader's no-op entry) only moves the applied index, like skip().
   */
  applyEntry(index: number, data: Uint8Array): ApplyResult {
    this.checkIndex(index);
    if (data.length === 0) {
      this.s.applied = index;
      return { ok: true, index, committed: [] };
    }
    let f: FramedBatch;
    try {
      f = decodeFramed(data);
    } catch (err) {
      this.s.applied = index;
      const pos = err instanceof DecodeError ? err.pos : -1;
      return { ok: false, index, pos, code: 'malformed', reason: (err as Error).message };
    }
    return this.commitBatch(index, f.values, f.refs, f.buf, f.offsets);
  }

  /**
   * Applies already-decoded (validated) events, e.g. from a replay tool. `raws` are their stored bytes;
   * without them the events are encoded canonically (what the leader would have stored).
   */
  applyBatch(index: number, events: readonly DomainEvent[], raws?: readonly Uint8Array[]): ApplyResult {
    this.checkIndex(index);
    const refs = events.map((e) => parseAgg(e.agg));
    if (events.length === 0 || refs.some((r) => r === null)) {
      this.s.applied = index;
      return { ok: false, index, pos: -1, code: 'malformed', reason: events.length === 0 ? 'empty batch' : 'malformed aggregate id' };
    }
    const bytes = raws ?? events.map(encodeEvent);
    const buf = Buffer.concat(bytes);
    const offsets: number[] = [];
    let at = 0;
    for (const b of bytes) offsets.push(at, (at += b.length));
    return this.commitBatch(index, events, refs as AggRef[], buf, offsets);
  }

  /** Records a Raft entry that carries no batch (no-op, membership change). */
  skip(index: number): void {
    this.checkIndex(index);
    this.s.applied = index;
  }

  /** Would this batch apply now? Validates the events and runs them, then undoes everything. */
  check(events: readonly DomainEvent[]): CheckResult {
    if (events.length === 0) return { ok: false, pos: -1, reason: 'empty batch' };
    for (let i = 0; i < events.length; i++) {
      const c = checkEvent(events[i]);
      if (!c.ok) return { ok: false, pos: i, reason: c.reason };
    }
    const r = this.run(events);
    this.tx.rollback();
    return r;
  }

  private checkIndex(index: number): void {
    if (!Number.isSafeInteger(index) || index <= this.s.applied) {
      throw new Error(`apply: index ${index} is not after the applied index ${this.s.applied}`);
    }
  }

  private commitBatch(
    index: number,
    events: readonly DomainEvent[],
    refs: readonly AggRef[],
    buf: Buffer,
    offsets: readonly number[],
  ): ApplyResult {
    const r = this.run(events, refs);
    const s = this.s;
    s.applied = index;
    if (!r.ok) {
      this.tx.rollback();
      return { ok: false, index, pos: r.pos, code: 'refused', reason: r.reason };
    }
    this.tx.commit();
    const committed = new Array<Committed>(events.length);
    let h = s.head;
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!;
      const start = offsets[2 * i]!;
      const end = offsets[2 * i + 1]!;
      h = hasSecrets(ev.type)
        ? chainHashBinary(h, hashableBytes(ev.type, buf.subarray(start, end)))
        : chainHashRange(h, buf, start, end);
      committed[i] = new Committed(index, i, ++s.seq, h, ev, buf, start, end);
    }
    s.head = h;
    return { ok: true, index, committed };
  }

  /** Applies the events in order under the undo log; the caller commits or rolls back. */
  private run(events: readonly DomainEvent[], refs?: readonly AggRef[]): CheckResult {
    const touched = this.touched;
    touched.clear();
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!;
      const ref = refs === undefined ? parseAgg(ev.agg) : refs[i]!;
      if (ref === null) return { ok: false, pos: i, reason: `malformed aggregate id ${ev.agg}` };
      const reason = this.applyOne(ev, ref);
      if (reason !== null) return { ok: false, pos: i, reason };
    }
    for (const shard of touched) {
      const reason = checkShardInvariants(this.s, shard);
      if (reason !== null) return { ok: false, pos: -1, reason };
    }
    return { ok: true };
  }

  private applyOne(ev: DomainEvent, ref: AggRef): string | null {
    const s = this.s;
    const tx = this.tx;
    const runner = runnerOf(ref.kind);
    const store = s.stores[ref.kind] as AnyStore;
    const rec = store.get(ref.key);
    const refused = checkRules(s, ev, ref.key, rec);
    if (refused !== null) return refused;
    const st = rec === undefined ? runner.absent : rec.s;
    const ctx = rec === undefined ? runner.logic.init(ref.key) : rec.c;
    const n = runner.step(st, ctx as never, ev);
    if (n < 0) {
      return rec === undefined
        ? `${ev.agg} does not exist`
        : `${ev.type} is not allowed while ${ev.agg} is ${stateKey(runner.value(st))}`;
    }
    const next: Rec<unknown> = { s: n, c: runner.logic.reduce(ctx as never, ev) };
    const gone = runner.isGone(n);
    if (gone) tx.delete(store, ref.key);
    else tx.set(store, ref.key, next);
    reindex(s, ref.kind, ref.key as never, rec as never, gone ? undefined : (next as never), tx);
    applyEffects(s, ev, ref.key, tx);
    // Only what can change a shard's primary, roles or write access needs the invariant check.
    if (SHAPES_PRIMARY.has(ev.type)) {
      this.touched.add(ref.kind === 'shard' ? (ref.key as number) : (next.c as Ctxs['node']).shard);
    }
    return null;
  }

  // ---- snapshots ----

  /** The whole state as canonical bytes: the Raft state-machine snapshot. */
  snapshot(): Uint8Array {
    return encodeWorld(this.s);
  }

  /** SHA-256 (hex) of snapshot(): equal on every member that applied the same entries. */
  digest(): string {
    return hash('sha256', this.snapshot(), 'hex');
  }

  // ---- position ----

  get applied(): number {
    return this.s.applied;
  }

  /** Number of committed events (the chain position of the last one). */
  get seq(): number {
    return this.s.seq;
  }

  /** The hash of the last committed event (hex; 64 zeros before the first). */
  get head(): string {
    return binaryToHex(this.s.head);
  }

  get next(): Readonly<Counters> {
    return { ...this.s.next };
  }

  /** Rows of kunlun_metadata_db the leader reported it cannot write, by table then key. */
  get projectionFailures(): ProjectionFailure[] {
    return this.s.projectionFailures.map((f) => ({ ...f }));
  }

  get leader(): Readonly<Leader> | null {
    return this.s.leader === null ? null : { ...this.s.leader };
  }

  // ---- queries ----

  view(): WorldView {
    const s = this.s;
    const all = <K extends AggKind, V>(kind: K, f: (w: WorldState, r: Rec<Ctxs[K]>) => V): V[] =>
      [...(s.stores[kind] as Map<KeyOf<K>, Rec<Ctxs[K]>>)]
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .map(([, r]) => f(s, r));
    const v: WorldView = {
      applied: s.applied,
      seq: s.seq,
      head: this.head,
      next: this.next,
      leader: this.leader,
      projection: { failedRows: this.projectionFailures },
      machines: all('machine', machineView),
      clusters: all('cluster', clusterView),
      shards: all('shard', shardView),
      nodes: all('node', nodeView),
      comps: all('comp', compView),
      jobs: all('job', jobView),
      managers: all('manager', managerView),
      backupStorages: all('backup_storage', backupStorageView),
    };
    // Sorted keys throughout, so two members' views print identically.
    return canonicalize(v) as WorldView;
  }

  machine(host: string): MachineView | null {
    const r = this.s.stores.machine.get(host);
    return r === undefined ? null : machineView(this.s, r);
  }

  cluster(id: number): ClusterView | null {
    const r = this.s.stores.cluster.get(id);
    return r === undefined ? null : clusterView(this.s, r);
  }

  clusterByName(name: string): ClusterView | null {
    const id = this.s.clusterByName.get(name);
    return id === undefined ? null : this.cluster(id);
  }

  shard(id: number): ShardView | null {
    const r = this.s.stores.shard.get(id);
    return r === undefined ? null : shardView(this.s, r);
  }

  shardByName(cluster: number, name: string): ShardView | null {
    const id = this.s.shardByName.get(`${cluster}/${name}`);
    return id === undefined ? null : this.shard(id);
  }

  node(id: number): NodeView | null {
    const r = this.s.stores.node.get(id);
    return r === undefined ? null : nodeView(this.s, r);
  }

  comp(id: number): CompView | null {
    const r = this.s.stores.comp.get(id);
    return r === undefined ? null : compView(this.s, r);
  }

  compByName(cluster: number, name: string): CompView | null {
    const id = this.s.compByName.get(`${cluster}/${name}`);
    return id === undefined ? null : this.comp(id);
  }

  job(id: number): JobView | null {
    const r = this.s.stores.job.get(id);
    return r === undefined ? null : jobView(this.s, r);
  }

  manager(id: string): ManagerView | null {
    const r = this.s.stores.manager.get(id);
    return r === undefined ? null : managerView(this.s, r);
  }

  backupStorage(name: string): BackupStorageView | null {
    const r = this.s.stores.backup_storage.get(name);
    return r === undefined ? null : backupStorageView(this.s, r);
  }

  /** What refers to a backup storage (its deletion is refused while there is something). */
  backupsIn(name: string): string[] {
    return backupsIn(this.s, name);
  }

  /** The shard backups (shard_coldbackup jobs) retention has not deleted, oldest first. */
  backups(): BackupRecord[] {
    return backupRecords(this.s).filter((b) => b.deleted_by === null);
  }

  /** Shard ids of a cluster, ascending. */
  shardsOf(cluster: number): number[] {
    return sortedIds(this.s.shardsOf.get(cluster));
  }

  /** Node ids of a shard, ascending. */
  nodesOf(shard: number): number[] {
    return sortedIds(this.s.nodesOf.get(shard));
  }

  compsOf(cluster: number): number[] {
    return sortedIds(this.s.compsOf.get(cluster));
  }

  shardOf(node: number): number | null {
    return this.s.stores.node.get(node)?.c.shard ?? null;
  }

  primaryOf(shard: number): number | null {
    return this.s.stores.shard.get(shard)?.c.primary ?? null;
  }

  /** The node or compute node listening on host:port. */
  nodeAt(host: string, port: number): AggId | null {
    return this.s.endpoints.get(`${host}:${port}`) ?? null;
  }

  /** Ports used on a machine role (nodes for storage, compute nodes for computer). */
  usedPorts(host: string, role: 'storage' | 'computer'): number[] {
    return sortedIds(this.s.hostPorts.get(`${host}|${role}`));
  }

  lockHolder(lock: string): number | null {
    return this.s.locks.get(lock) ?? null;
  }

  /** Jobs that have not ended, ascending. */
  activeJobs(): number[] {
    return sortedIds(this.s.activeJobs);
  }

  isJobActive(id: number): boolean {
    const r = this.s.stores.job.get(id);
    return r !== undefined && jobActive(runnerOf('job').value(r.s));
  }

  /** Ids of one kind, ascending. */
  ids<K extends AggKind>(kind: K): Array<KeyOf<K>> {
    return [...(this.s.stores[kind] as Map<KeyOf<K>, unknown>).keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  count(kind: AggKind): number {
    return this.s.stores[kind].size;
  }

  /** The compute nodes' credentials, for reconcilers only (views redact the password). */
  clusterSecret(id: number): { user: string | null; password: string | null } | null {
    const c = this.s.stores.cluster.get(id)?.c;
    return c === undefined ? null : { user: c.compUser, password: c.compPassword === null ? null : this.openSecret(c.compPassword) };
  }

  /** The machine state value of an aggregate, or null if it does not exist. */
  stateOf(agg: AggId): StateValue | null {
    const ref = parseAgg(agg);
    if (ref === null) return null;
    const r = (this.s.stores[ref.kind] as AnyStore).get(ref.key);
    return r === undefined ? null : runnerOf(ref.kind).value(r.s);
  }

  /** XState's persisted snapshot of an aggregate (restorable with createActor(machine, { snapshot })). */
  persisted(agg: AggId): PersistedSnapshot<unknown> | null {
    const ref = parseAgg(agg);
    if (ref === null) return null;
    const r = (this.s.stores[ref.kind] as AnyStore).get(ref.key);
    return r === undefined ? null : runnerOf(ref.kind).persisted(r.s, r.c as never);
  }

  /**
   * A live XState actor restored from an aggregate's snapshot (not started), for tools that want the
   * XState API (`matches`, `can`, inspection). Sending it events does not change the world.
   */
  actor(agg: AggId): Actor<AnyStateMachine> | null {
    const ref = parseAgg(agg);
    const p = this.persisted(agg);
    if (ref === null || p === null) return null;
    return createActor(runnerOf(ref.kind).logic.machine, { snapshot: p as never });
  }
}

function sortedIds<T extends number | string>(s: Set<T> | undefined): T[] {
  return s === undefined ? [] : [...s].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
