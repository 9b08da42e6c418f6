// Where new compute nodes go (cluster_mgr-api.md §4.1): on registered `computer` machines (the listed
// ones when the request lists hosts), skipping dead ones, the least used host first so nodes spread;
// each node takes three consecutive ports of the machine's range (P postgres, P+1 MySQL protocol,
// P+2 exporter), the lowest slot clear of every port already used there.
import type { World } from '../actors/index.js';

/** Ports per compute instance. */
export const COMP_PORTS = 3;

export interface Slot {
  hostaddr: string;
  port: number;
}

/** `count` slots, or null when the machines have too few free ones. `taken` are slots chosen but not yet recorded. */
export function placeComps(world: World, hosts: readonly string[], count: number, taken: readonly Slot[] = []): Slot[] | null {
  const candidates = (hosts.length > 0 ? [...hosts] : world.ids('machine').map(String)).filter((h) => {
    const m = world.machine(h);
    return m?.roles.computer !== undefined && m.stats !== 'dead';
  });
  const used = new Map<string, number[]>();
  for (const h of candidates) used.set(h, [...world.usedPorts(h, 'computer'), ...taken.filter((t) => t.hostaddr === h).map((t) => t.port)]);
  const out: Slot[] = [];
  for (let i = 0; i < count; i++) {
    const order = [...candidates].sort((a, b) => used.get(a)!.length - used.get(b)!.length || (a < b ? -1 : a > b ? 1 : 0));
    let slot: Slot | null = null;
    for (const h of order) {
      const port = freeSlot(world, h, used.get(h)!);
      if (port !== null) {
        slot = { hostaddr: h, port };
        break;
      }
    }
    if (slot === null) return null;
    used.get(slot.hostaddr)!.push(slot.port);
    out.push(slot);
  }
  return out;
}

function freeSlot(world: World, host: string, used: readonly number[]): number | null {
  const range = world.machine(host)!.roles.computer!.portRange;
  const sorted = [...used].sort((a, b) => a - b);
  for (let p = range.lo; p + COMP_PORTS - 1 <= range.hi; ) {
    // Another node's block [u, u+2] overlaps ours [p, p+2] when |p - u| < 3.
    const clash = sorted.find((u) => Math.abs(p - u) < COMP_PORTS);
    if (clash === undefined) return p;
    p = clash + COMP_PORTS;
  }
  return null;
}
