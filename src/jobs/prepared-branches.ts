// delete_cluster drops commit_log_<cluster>, the compute nodes' 2PC decisions. A prepared XA branch
// still on one of the cluster's shards needs its decision to end the right way (the XA resolver
// commits or rolls it back from that table), so the shards and the table go only once no KunlunBase
// branch is prepared on the shards' primaries: the job waits for the resolver to end them, then fails
// naming the branches rather than destroy a decision still needed.
import type { Connection } from 'mysql2/promise';
import { parseXid, xaRecover } from '../storage-node/xa.js';
import { checkLeading } from '../reconcile/host.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** delete_cluster's "delete shard failed". */
export const E_PREPARED_BRANCHES = 70100;

export interface BranchHost {
  shard: number;
  hostaddr: string;
  port: number;
}

export interface PreparedBranch extends BranchHost {
  xid: string;
}

export interface BranchScan {
  branches: PreparedBranch[];
  /** Primaries that could not be asked, with why: their instances are removed with the cluster. */
  unreachable: string[];
}

/** XA RECOVER on each host; only KunlunBase's global transaction branches count. */
export async function scanPreparedBranches(hosts: readonly BranchHost[], connect: (h: BranchHost) => Promise<Connection>): Promise<BranchScan> {
  const out: BranchScan = { branches: [], unreachable: [] };
  for (const h of hosts) {
    let c: Connection;
    try {
      c = await connect(h);
    } catch (e) {
      out.unreachable.push(`${h.hostaddr}:${h.port} (${(e as Error).message})`);
      continue;
    }
    try {
      for (const xid of await xaRecover(c)) if (parseXid(xid) !== null) out.branches.push({ ...h, xid });
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  return out;
}

/** The job's error text: the cluster, then each branch with its shard and node. */
export function preparedBranchesText(cluster: number, branches: readonly PreparedBranch[], waitedMs: number): string {
  const shown = branches.slice(0, 20).map((b) => `${b.xid} on shard ${b.shard} (${b.hostaddr}:${b.port})`);
  const more = branches.length > shown.length ? ` and ${branches.length - shown.length} more` : '';
  return (
    `cluster ${cluster}: ${branches.length} prepared XA branch(es) remain after ${Math.round(waitedMs / 1000)} s: ${shown.join(', ')}${more}; ` +
    'their commit-log decisions are still needed, so the shards and commit_log are kept: retry delete_cluster once the XA resolver has ended them'
  );
}

export interface AwaitOptions {
  hosts: readonly BranchHost[];
  connect: (h: BranchHost) => Promise<Connection>;
  /** The XA resolver's safety window plus two of its scans: by then it has ended every branch it can. */
  waitMs: number;
  pollMs: number;
  signal: AbortSignal;
}

/** Scans until no branch is left or waitMs has passed; what remains then is the caller's refusal. */
export async function awaitNoPreparedBranches(o: AwaitOptions): Promise<BranchScan & { waitedMs: number }> {
  const started = Date.now();
  for (;;) {
    checkLeading(o.signal);
    const scan = await scanPreparedBranches(o.hosts, o.connect);
    const waitedMs = Date.now() - started;
    if (scan.branches.length === 0 || waitedMs >= o.waitMs) return { ...scan, waitedMs };
    await sleep(o.pollMs);
  }
}
