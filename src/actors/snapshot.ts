// The Raft state-machine snapshot: every live aggregate's XState persisted snapshot (sorted by id),
// the id counters, the leader, the chain head and the applied index, in canonical MessagePack.
// Indexes are not stored: restore rebuilds them from the records with the same code apply uses.
import type { StateValue } from 'xstate';
import { decodeMsgpack, encodeCanonical } from '../events/canonical.js';
import { AGG_KINDS, type AggKind } from '../events/envelope.js';
import { reindex } from './indexes.js';
import { runnerOf, type Ctxs, type KeyOf } from './logics.js';
import { WorldState, type Counters, type Leader, type ProjectionFailure, type Rec } from './state.js';
import { Tx } from './tx.js';

export const SNAPSHOT_FORMAT = 1;

export class SnapshotError extends Error {}

interface Persisted {
  status: 'active' | 'done';
  value: StateValue;
  context: unknown;
}

interface SnapshotDoc {
  format: number;
  applied: number;
  seq: number;
  head: Uint8Array;
  next: Counters;
  leader: Leader | null;
  /** Absent in snapshots written before the projection reported failing rows: none. */
  projectionFailures?: ProjectionFailure[];
  aggs: Record<AggKind, Array<[number | string, Persisted]>>;
}

const byKey = (a: [number | string, unknown], b: [number | string, unknown]): number =>
  a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;

export function encodeWorld(w: WorldState): Uint8Array {
  const aggs = {} as SnapshotDoc['aggs'];
  for (const kind of AGG_KINDS) {
    const runner = runnerOf(kind);
    const list: Array<[number | string, Persisted]> = [];
    for (const [key, rec] of w.stores[kind] as Map<number | string, Rec<unknown>>) {
      list.push([key, { status: runner.status(rec.s), value: runner.value(rec.s), context: rec.c }]);
    }
    aggs[kind] = list.sort(byKey);
  }
  const doc: SnapshotDoc = {
    format: SNAPSHOT_FORMAT,
    applied: w.applied,
    seq: w.seq,
    head: Buffer.from(w.head, 'latin1'),
    next: w.next,
    leader: w.leader,
    projectionFailures: [...w.projectionFailures],
    aggs,
  };
  return encodeCanonical(doc);
}

function fail(reason: string): never {
  throw new SnapshotError(`snapshot: ${reason}`);
}

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

export function decodeWorld(bytes: Uint8Array): WorldState {
  let doc: SnapshotDoc;
  try {
    doc = decodeMsgpack(bytes) as SnapshotDoc;
  } catch (err) {
    return fail(`not MessagePack: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null) fail('expected a map');
  if (doc.format !== SNAPSHOT_FORMAT) fail(`unknown format ${String(doc.format)}`);
  if (!isInt(doc.applied) || !isInt(doc.seq)) fail('bad applied/seq');
  if (!(doc.head instanceof Uint8Array) || doc.head.length !== 32) fail('bad head');
  const w = new WorldState();
  w.applied = doc.applied;
  w.seq = doc.seq;
  w.head = Buffer.from(doc.head).toString('latin1');
  const next = doc.next;
  for (const k of ['cluster', 'shard', 'node', 'comp', 'job', 'task'] as const) {
    if (!isInt(next[k]) || next[k] < 1) fail(`bad counter ${k}`);
  }
  w.next = { cluster: next.cluster, shard: next.shard, node: next.node, comp: next.comp, job: next.job, task: next.task };
  if (doc.leader !== null) {
    if (typeof doc.leader.member !== 'string' || !isInt(doc.leader.term)) fail('bad leader');
    w.leader = { member: doc.leader.member, term: doc.leader.term };
  }
  const failures = doc.projectionFailures ?? [];
  if (!Array.isArray(failures)) fail('bad projectionFailures');
  for (const f of failures) {
    const texts = typeof f === 'object' && f !== null && [f.table, f.key, f.reason, f.by].every((x) => typeof x === 'string');
    if (!texts || !isInt(f.since)) fail('bad projectionFailures entry');
  }
  w.projectionFailures = failures.map((f) => ({ table: f.table, key: f.key, reason: f.reason, since: f.since, by: f.by }));
  const tx = new Tx();
  for (const kind of AGG_KINDS) {
    // Snapshots written before backup storages existed have no list for them: none.
    const list = doc.aggs[kind] ?? (kind === 'backup_storage' ? [] : undefined);
    if (!Array.isArray(list)) fail(`missing ${kind} list`);
    restoreKind(w, kind, list, tx);
  }
  tx.commit();
  return w;
}

function restoreKind<K extends AggKind>(
  w: WorldState,
  kind: K,
  list: Array<[number | string, Persisted]>,
  tx: Tx,
): void {
  const runner = runnerOf(kind);
  const store = w.stores[kind] as Map<KeyOf<K>, Rec<Ctxs[K]>>;
  const numbered = kind !== 'machine' && kind !== 'manager' && kind !== 'backup_storage';
  for (const item of list) {
    if (!Array.isArray(item) || item.length !== 2) fail(`bad ${kind} entry`);
    const [key, p] = item;
    if (numbered ? !isInt(key) : typeof key !== 'string') fail(`bad ${kind} key ${String(key)}`);
    if (typeof p !== 'object' || p === null || typeof p.context !== 'object' || p.context === null) {
      fail(`bad ${kind}/${key} snapshot`);
    }
    let s: number;
    try {
      s = runner.restore(p.value, p.context as Ctxs[K]);
    } catch (err) {
      return fail(`${kind}/${key}: ${(err as Error).message}`);
    }
    if (runner.status(s) !== p.status || runner.isGone(s) || s === runner.absent) fail(`${kind}/${key}: bad state`);
    const rec: Rec<Ctxs[K]> = { s, c: p.context as Ctxs[K] };
    store.set(key as KeyOf<K>, rec);
    reindex(w, kind, key as KeyOf<K>, undefined, rec, tx);
  }
}
