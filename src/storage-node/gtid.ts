// GTID arithmetic, pure. MariaDB positions are lists of `domain-server-seq`, one per replication
// domain (the last transaction of that domain); MariaDB's binlog state lists the last seq of every
// (domain, server) pair. MySQL's uuid:interval sets are a different algebra, so the decision logic
// talks to the small `GtidMath` interface and each flavor brings its own implementation.

/** The operations failover decisions need, over a flavor's textual GTID notation. */
export interface GtidMath {
  readonly flavor: string;
  /** Throws a GtidParseError naming the problem when `text` is not a valid position. */
  validatePosition(text: string): void;
  /** True when every transaction of position `b` is also in position `a`. */
  contains(a: string, b: string): boolean;
  /** The smallest position containing both; per domain the later transaction. */
  union(a: string, b: string): string;
  /** How many transactions `received` has that `executed` does not (the apply backlog). */
  backlog(executed: string, received: string): number;
  /**
   * Transactions of `history` that `referenceHistory` lacks, in the flavor's notation; empty when the
   * node's history is a prefix of the reference's. Histories are what the node binlogged
   * (MariaDB: gtid_binlog_state; MySQL: gtid_executed). Transactions written by `referenceWriter`
   * (the reference node's own server id / uuid) are never errant: the reference wrote them, they are
   * only newer than the sample of its history.
   */
  errant(history: string, referenceHistory: string, referenceWriter?: number | string): string[];
}

export class GtidParseError extends Error {
  override readonly name = 'GtidParseError';
}

export interface MariaGtid {
  domain: number;
  server: number;
  seq: bigint;
}

/** One GTID per domain, sorted by domain. */
export type MariaPosition = readonly MariaGtid[];
/** One GTID per (domain, server), sorted by domain then server. */
export type MariaState = readonly MariaGtid[];

const U32 = 0xffff_ffff;
const U64 = (1n << 64n) - 1n;

export function parseGtid(text: string): MariaGtid {
  const m = /^(\d{1,10})-(\d{1,10})-(\d{1,20})$/.exec(text.trim());
  if (!m) throw new GtidParseError(`"${text}" is not a MariaDB GTID (domain-server-seq)`);
  const domain = Number(m[1]);
  const server = Number(m[2]);
  const seq = BigInt(m[3]!);
  if (domain > U32) throw new GtidParseError(`GTID "${text}": domain ${domain} exceeds 32 bits`);
  if (server > U32) throw new GtidParseError(`GTID "${text}": server_id ${server} exceeds 32 bits`);
  if (seq > U64) throw new GtidParseError(`GTID "${text}": seq exceeds 64 bits`);
  return { domain, server, seq };
}

export function formatGtid(g: MariaGtid): string {
  return `${g.domain}-${g.server}-${g.seq}`;
}

function splitList(text: string): string[] {
  const t = text.trim();
  if (t === '') return [];
  return t.split(',').map((s) => s.trim());
}

/** gtid_binlog_pos, gtid_slave_pos, gtid_current_pos, Gtid_IO_Pos: at most one GTID per domain. */
export function parsePosition(text: string): MariaPosition {
  const out = splitList(text).map(parseGtid);
  out.sort((a, b) => a.domain - b.domain);
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.domain === out[i - 1]!.domain) {
      throw new GtidParseError(`position "${text}" names domain ${out[i]!.domain} twice`);
    }
  }
  return out;
}

/** gtid_binlog_state: at most one GTID per (domain, server). */
export function parseState(text: string): MariaState {
  const out = splitList(text).map(parseGtid);
  out.sort((a, b) => a.domain - b.domain || a.server - b.server);
  for (let i = 1; i < out.length; i++) {
    const a = out[i - 1]!;
    const b = out[i]!;
    if (a.domain === b.domain && a.server === b.server) {
      throw new GtidParseError(`binlog state "${text}" names ${a.domain}-${a.server} twice`);
    }
  }
  return out;
}

export function formatList(list: readonly MariaGtid[]): string {
  return list.map(formatGtid).join(',');
}

function byDomain(p: MariaPosition): Map<number, MariaGtid> {
  return new Map(p.map((g) => [g.domain, g]));
}

/**
 * Does `a` contain every transaction of `b`? Per domain, a's seq must be at least b's. At equal seq
 * the server_id must match: the same seq from two servers means two different transactions, the
 * histories forked. A higher seq in `a` is taken to contain b's transaction, which is exact when both
 * come from one stream (replicas of the same primaries under gtid_strict_mode); to prove it across
 * forks, compare binlog states with `errantTransactions`.
 */
export function positionContains(a: MariaPosition, b: MariaPosition): boolean {
  const am = byDomain(a);
  for (const g of b) {
    const x = am.get(g.domain);
    if (!x) return false;
    if (x.seq < g.seq) return false;
    if (x.seq === g.seq && x.server !== g.server) return false;
  }
  return true;
}

export type PositionOrder = 'equal' | 'a-contains-b' | 'b-contains-a' | 'diverged';

export function comparePositions(a: MariaPosition, b: MariaPosition): PositionOrder {
  const ab = positionContains(a, b);
  const ba = positionContains(b, a);
  if (ab && ba) return 'equal';
  if (ab) return 'a-contains-b';
  if (ba) return 'b-contains-a';
  return 'diverged';
}

/** Per domain the later GTID; at equal seq `a`'s entry is kept (contains() still reports a fork). */
export function positionUnion(a: MariaPosition, b: MariaPosition): MariaPosition {
  const m = byDomain(a);
  for (const g of b) {
    const x = m.get(g.domain);
    if (!x || g.seq > x.seq) m.set(g.domain, g);
  }
  return [...m.values()].sort((x, y) => x.domain - y.domain);
}

/** Transactions in `received` beyond `executed`, summed over domains (seq distance; saturates). */
export function positionBacklog(executed: MariaPosition, received: MariaPosition): number {
  const em = byDomain(executed);
  let total = 0n;
  for (const g of received) {
    const e = em.get(g.domain);
    const d = g.seq - (e?.seq ?? 0n);
    if (d > 0n) total += d;
  }
  return total > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(total);
}

/** Transactions by `server` in `domain` after `afterSeq` (null: none known) up to `lastSeq`. */
export interface ErrantRange {
  domain: number;
  server: number;
  afterSeq: bigint | null;
  lastSeq: bigint;
}

export function formatErrant(r: ErrantRange): string {
  const from = r.afterSeq === null ? '' : String(r.afterSeq + 1n);
  return `${r.domain}-${r.server}-${from}..${r.lastSeq}`;
}

/**
 * Errant transactions: what `node` binlogged that `reference` never did. Per (domain, server) the
 * binlog state holds the last seq that server wrote in that domain; under gtid_strict_mode seqs only
 * grow within a domain, so the reference holds all of a server's transactions up to its own entry.
 * Anything the node has beyond that entry (or for a pair the reference never saw) is errant. This
 * catches the classic case a position comparison misses: the old primary's 0-1-100 never reached the
 * replicas, which went on to 0-2-150 — 150 > 100, yet 0-1-100 is not in the new history.
 */
export function errantTransactions(node: MariaState, reference: MariaState, referenceServer?: number): ErrantRange[] {
  const ref = new Map(reference.map((g) => [`${g.domain}-${g.server}`, g.seq]));
  const out: ErrantRange[] = [];
  for (const g of node) {
    if (g.server === referenceServer) continue;
    const have = ref.get(`${g.domain}-${g.server}`);
    if (have === undefined) out.push({ domain: g.domain, server: g.server, afterSeq: null, lastSeq: g.seq });
    else if (have < g.seq) out.push({ domain: g.domain, server: g.server, afterSeq: have, lastSeq: g.seq });
  }
  return out;
}

export const mariadbGtid: GtidMath = {
  flavor: 'mariadb',
  validatePosition(text) {
    parsePosition(text);
  },
  contains(a, b) {
    return positionContains(parsePosition(a), parsePosition(b));
  },
  union(a, b) {
    return formatList(positionUnion(parsePosition(a), parsePosition(b)));
  },
  backlog(executed, received) {
    return positionBacklog(parsePosition(executed), parsePosition(received));
  },
  errant(history, referenceHistory, referenceWriter) {
    const server = typeof referenceWriter === 'number' ? referenceWriter : undefined;
    return errantTransactions(parseState(history), parseState(referenceHistory), server).map(formatErrant);
  },
};
