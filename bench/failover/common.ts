// Shared by the failover and switchover benchmarks: the settled-shard wait, the view, the table.
import { HaCluster, NODE_IDS, SHARD_ID, waitFor } from '../../test/helpers/ha-cluster.js';
import { realRole } from '../../test/switch/helpers.js';

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

/** Every node alive and healthy in the world, the replicas replicating from the primary for real. */
export async function settled(ha: HaCluster, timeoutMs: number): Promise<number> {
  return waitFor(
    'a settled 3-node shard',
    async () => {
      const v = await view(ha);
      const s = v?.shards.find((x) => x.id === SHARD_ID);
      if (!v || !s || s.primary === null || s.task !== null) return undefined;
      const nodes = v.nodes.filter((n) => n.shard === SHARD_ID);
      if (nodes.length !== 3 || nodes.some((n) => n.health !== 'alive' || n.repair !== 'ok')) return undefined;
      const p = ha.instance(s.primary);
      const roles = await Promise.all(NODE_IDS.filter((id) => id !== s.primary).map((id) => realRole(ha.instance(id))));
      return roles.every((r) => r.source === p.address && r.io === 'Yes' && r.sql === 'Yes' && r.readOnly === true) ? s.primary : undefined;
    },
    timeoutMs,
  );
}


export const fmt = (x: number | null): string => (x === null || !Number.isFinite(x) ? 'n/a' : String(Math.round(x)));
export const stat = (xs: (number | null)[], f: (v: number[]) => number): number | null => {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? null : Math.round(f(v));
};


export function printTable(all: string[][]): void {
  const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  for (const r of all) console.log(r.map((c, i) => c.padStart(widths[i]!)).join('  '));
}
