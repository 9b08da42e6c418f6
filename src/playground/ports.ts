// The playground's ports: one block of 2,000 from a base port, laid out the same way whatever the base.
// The default block lies below the kernel's ephemeral range, because any outgoing connection of any
// process may hold a port of that range for a while, and a server that then tries to bind it fails
// (KunlunBase's usual 57000/58000/47000 ranges all lie inside Linux's default 32768-60999).
import { portBindable, rangeOverlap, type PortRange } from '../launcher/ports.js';
import { portHolder } from '../launcher/port-holder.js';

/**
 * 18000-19999: below Linux's (32768-) and IANA's (49152-) ephemeral starts, clear of the blocks test
 * runs claim for their instances (20000-32699, src/launcher/port-block.ts), and of no common service.
 */
export const DEFAULT_BASE_PORT = 18_000;
export const BLOCK_SIZE = 2_000;
/** The highest base whose whole block fits below 65536. */
export const MAX_BASE_PORT = 65_536 - BLOCK_SIZE;

export interface PortLayout {
  base: number;
  /** Member i: HTTP base+10i, Raft base+10i+1. */
  members: { http: number; raft: number }[];
  agent: number;
  nats: number;
  meta: number[];
  /** Where a taken port of the playground's own servers moves to. */
  spare: PortRange;
  /** The machine's computer port_range given to create_machine. */
  computer: PortRange;
  /** The machine's storage port_range given to create_machine. */
  storage: PortRange;
}

export function layout(base: number): PortLayout {
  return {
    base,
    members: [0, 1, 2].map((i) => ({ http: base + 10 * i, raft: base + 10 * i + 1 })),
    agent: base + 100,
    nats: base + 200,
    meta: [base + 301, base + 302, base + 303],
    spare: { lo: base + 400, hi: base + 499 },
    computer: { lo: base + 500, hi: base + 999 },
    storage: { lo: base + 1_000, hi: base + BLOCK_SIZE - 1 },
  };
}

/** The block of BLOCK_SIZE ports from `base` meets the ephemeral range. */
const blockOverlaps = (base: number, eph: PortRange): boolean => rangeOverlap({ lo: base, hi: base + BLOCK_SIZE - 1 }, eph) !== null;

/**
 * The base to use. Asked for one (`--base-port`): that one, with a warning when its block meets the
 * ephemeral range. Otherwise the default, unless this machine's ephemeral range covers it; then the
 * highest 1000-aligned block below the range, else the lowest above it; when the range leaves no room
 * at all, the default with a warning (the bind test still moves the playground's own servers).
 */
export function chooseBase(requested: number | null, eph: PortRange | null): { base: number; warning: string | null } {
  const range = eph ? `the ephemeral port range ${eph.lo}-${eph.hi} (/proc/sys/net/ipv4/ip_local_port_range)` : '';
  if (requested !== null) {
    const hit = eph !== null && blockOverlaps(requested, eph);
    return { base: requested, warning: hit ? `ports ${requested}-${requested + BLOCK_SIZE - 1} overlap ${range}: outgoing connections may hold some of them` : null };
  }
  if (eph === null || !blockOverlaps(DEFAULT_BASE_PORT, eph)) return { base: DEFAULT_BASE_PORT, warning: null };
  const below = Math.floor((eph.lo - BLOCK_SIZE) / 1_000) * 1_000;
  if (below >= 1_024) return { base: below, warning: null };
  const above = Math.ceil((eph.hi + 1) / 1_000) * 1_000;
  if (above <= MAX_BASE_PORT) return { base: above, warning: null };
  return { base: DEFAULT_BASE_PORT, warning: `${range} leaves no block of ${BLOCK_SIZE} ports outside it: outgoing connections may hold some of the playground's ports` };
}

/** "pid 812 (nginx), listening on …", or a plain "in use" when /proc does not show the socket. */
export function describeHolder(port: number): string {
  return portHolder(port) ?? 'in use (no socket on it in /proc/net/tcp: another network namespace?)';
}

/**
 * `preferred` when it can be bound and nobody here took it already, else the first such port of
 * `spare`. Throws a one-line error naming what holds `preferred` when the spare ports are gone too.
 */
export async function pickPort(what: string, preferred: number, spare: PortRange, taken: Set<number>, say: (l: string) => void): Promise<number> {
  if (!taken.has(preferred) && (await portBindable(preferred))) {
    taken.add(preferred);
    return preferred;
  }
  for (let p = spare.lo; p <= spare.hi; p++) {
    if (taken.has(p) || !(await portBindable(p))) continue;
    taken.add(p);
    say(`port ${preferred} (${what}) is taken: ${describeHolder(preferred)}; using ${p}`);
    return p;
  }
  throw new Error(`${what}: port 127.0.0.1:${preferred} is taken (${describeHolder(preferred)}) and so is every spare port ${spare.lo}-${spare.hi}`);
}

/** Throws a one-line error naming the holder of the first of `ports` that cannot be bound (a resumed playground's ports are fixed). */
export async function mustBind(ports: { what: string; port: number }[]): Promise<void> {
  for (const { what, port } of ports) {
    if (!(await portBindable(port))) throw new Error(`${what}: port 127.0.0.1:${port} is taken (${describeHolder(port)}); stop that program or start afresh without --keep`);
  }
}

/**
 * The start of an instance port range from `r.lo` on whose first `slots` slots of `stride` ports can
 * all be bound now, so the manager's first installs do not meet a port some program holds. Returns
 * the range to give create_machine and one line per held port skipped.
 */
export async function clearRange(r: PortRange, slots: number, stride: number): Promise<{ range: PortRange; skipped: string[] }> {
  const skipped: string[] = [];
  let lo = r.lo;
  for (let k = 0; k < slots; k++) {
    for (let p = lo + k * stride; p < lo + (k + 1) * stride; p++) {
      if (p > r.hi) return { range: { lo, hi: r.hi }, skipped };
      if (await portBindable(p)) continue;
      skipped.push(`${p}: ${describeHolder(p)}`);
      lo = p + 1;
      k = -1;
      break;
    }
  }
  return { range: { lo, hi: r.hi }, skipped };
}
