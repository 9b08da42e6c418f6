// The audit replay: filter a timeline, verify the hash chain, rebuild the world at any index or time,
// and compare with a live member.
import { World } from '../actors/index.js';
import { verifyChain, type ChainCheck } from '../events/index.js';
import type { ReplayInput, ReplayRecord } from './sources.js';
import { viewDigest } from './view-digest.js';

export interface TimelineFilter {
  agg?: string;
  /** Exact type, or a prefix ending in "*" (e.g. "shard.*", "shard.failover_*"). */
  type?: string;
  fromIndex?: number;
  toIndex?: number;
  since?: number;
  until?: number;
}

export function matches(r: ReplayRecord, f: TimelineFilter): boolean {
  if (f.agg && r.agg !== f.agg && !r.agg.startsWith(`${f.agg}/`)) return false;
  if (f.type) {
    if (f.type.endsWith('*') ? !r.type.startsWith(f.type.slice(0, -1)) : r.type !== f.type) return false;
  }
  if (f.fromIndex !== undefined && r.index < f.fromIndex) return false;
  if (f.toIndex !== undefined && r.index > f.toIndex) return false;
  if (f.since !== undefined && r.at < f.since) return false;
  if (f.until !== undefined && r.at > f.until) return false;
  return true;
}

export function verify(input: ReplayInput): ChainCheck {
  const recs = input.records;
  if (recs.length === 0) return { ok: true, count: 0, head: '' };
  const first = recs[0]!;
  // A stream or log that starts after a snapshot continues a chain whose previous hash is known only
  // from the snapshot (data dir) or not at all; then verification starts at the second record.
  if (first.seq === 1) return verifyChain(recs.map(rec));
  if (input.snapshot) {
    const base = World.restore(input.snapshot);
    return verifyChain(recs.map(rec), Buffer.from(base.head, 'hex'));
  }
  return verifyChain(recs.slice(1).map(rec), Buffer.from(first.hash, 'hex'));
}

function rec(r: ReplayRecord) {
  return { seq: r.seq, type: r.type, bytes: r.bytes, hash: r.hash };
}

export interface Rebuilt {
  world: World;
  /** Index of the last entry applied. */
  index: number;
  events: number;
  digest: string;
  refused: { index: number; reason: string }[];
}

/** Applies the records (grouped by log entry) up to an index or a time, on the snapshot if any. */
export function rebuild(input: ReplayInput, upTo: { index?: number; time?: number } = {}): Rebuilt {
  const world = input.snapshot ? World.restore(input.snapshot) : new World();
  const refused: { index: number; reason: string }[] = [];
  let events = 0;
  const recs = input.records;
  for (let i = 0; i < recs.length; ) {
    const index = recs[i]!.index;
    let j = i;
    while (j < recs.length && recs[j]!.index === index) j++;
    const group = recs.slice(i, j);
    i = j;
    if (upTo.index !== undefined && index > upTo.index) break;
    if (upTo.time !== undefined && group[0]!.at > upTo.time) break;
    if (index <= world.applied) continue;
    const r = world.applyBatch(index, group.map((g) => g.event), group.map((g) => g.bytes));
    if (r.ok) events += group.length;
    else refused.push({ index, reason: r.reason });
  }
  return { world, index: world.applied, events, digest: viewDigest(world), refused };
}

/** One line of a timeline table. */
export function formatRecord(r: ReplayRecord): string {
  const data = JSON.stringify(r.event.data);
  const cause = 'user' in r.event.cause ? `user ${r.event.cause.user}` : `system: ${r.event.cause.system}`;
  const job = r.event.cause.job ? ` job ${r.event.cause.job}` : '';
  return [
    `${r.index}.${r.pos}`.padEnd(10),
    String(r.seq).padStart(6),
    new Date(r.at).toISOString(),
    r.agg.padEnd(20),
    r.type.padEnd(28),
    `(${cause}${job})`,
    data.length > 160 ? `${data.slice(0, 157)}...` : data,
  ].join('  ');
}
