// Shared by the benchmarks: the settled-shard wait, the view, the table, the figures' formats.
import type { HaCluster } from '../../test/helpers/ha-cluster.js';
export { settled } from '../../test/switch/helpers.js';

export type View = {
  shards: { id: number; primary: number | null; task: unknown; last: { task: number; outcome: string; primary: number | null; startedAt: number; endedAt: number } | null }[];
  nodes: { id: number; shard: number; health: string; repair: string; source: number | null }[];
};

export const log = (s: string): void => {
  process.stderr.write(`${new Date().toISOString()} ${s}\n`);
};

export async function view(ha: HaCluster): Promise<View | undefined> {
  return await ha.view();
}

export const fmt = (x: number | null): string => (x === null || !Number.isFinite(x) ? 'n/a' : String(Math.round(x)));
export const stat = (xs: (number | null)[], f: (v: number[]) => number): number | null => {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? null : Math.round(f(v));
};


const MIB = 1024 * 1024;
/** Figures as the data benches print them: MiB, seconds and MiB/s with one decimal. */
export const mib = (b: number): string => (b / MIB).toFixed(1);
export const secs = (ms: number): string => (ms / 1_000).toFixed(1);
export const rate = (bytes: number, ms: number): string => ((bytes / MIB) * 1_000 / ms).toFixed(1);

export function printTable(all: string[][]): void {
  const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  for (const r of all) console.log(r.map((c, i) => c.padStart(widths[i]!)).join('  '));
}
