// What to do with one leftover prepared global transaction (HA reference §6.3), as pure functions of
// plain facts so they are tested in-process. The resolver gathers the facts (XA RECOVER, the commit
// log, how long this leader has seen the branch) and performs the answer.
import type { Windows } from '../config/xa-settings.js';
import type { TxnDecision } from '../metadata/commit-log.js';

export interface BranchFacts {
  /** 'storage': a shard of the cluster; 'metadata': the metadata shard (compute-node DDL 2PC). */
  on: 'storage' | 'metadata';
  /** The commit-log row for the key, or null when there is none. */
  stored: TxnDecision | null;
  /** How long this leader has seen the branch prepared, ms (its first-seen time is leader memory). */
  seenForMs: number;
  /** Now minus the xid's start_ts, ms (the compute node's clock; may even be negative). */
  sinceStartMs: number;
}

export type Action =
  | { do: 'commit' | 'rollback'; why: string }
  /** Insert the abort row first; roll back only when that insert succeeded (see afterClaim). */
  | { do: 'claim-abort'; why: string }
  | { do: 'wait'; why: string };

export function decideBranch(f: BranchFacts, w: Windows): Action {
  if (f.seenForMs < w.settleMs) return { do: 'wait', why: 'seen only once: the compute node may still be ending it' };
  if (f.stored === 'commit') return { do: 'commit', why: 'the commit log says commit' };
  if (f.stored === 'abort') return { do: 'rollback', why: 'the commit log says abort' };
  if (f.seenForMs < w.safetyMs) return { do: 'wait', why: 'no decision yet, inside the safety window: the compute node may still log a commit' };
  if (f.on === 'storage') return { do: 'claim-abort', why: 'no decision and older than the safety window' };
  // The metadata shard's branches are the compute nodes' DDL 2PC: no commit-log row is written for
  // them, so there is nothing to claim; wait out the window from the transaction's own start too.
  if (f.sinceStartMs < w.safetyMs) return { do: 'wait', why: 'metadata-shard branch younger than the safety window by its start_ts' };
  return { do: 'rollback', why: 'metadata-shard branch with no decision, older than the safety window' };
}

/** The outcome of the abort claim (the INSERT of the `abort` row) decides the rest. */
export function afterClaim(r: { claimed: true } | { claimed: false; stored: TxnDecision | null } | { claimed: false; noPartition: true }): Action {
  if (r.claimed) return { do: 'rollback', why: 'abort claimed in the commit log' };
  if ('noPartition' in r) {
    return { do: 'wait', why: 'the compute node has no commit-log partition: no claim can be stored; left for an operator' };
  }
  if (r.stored === 'commit') return { do: 'commit', why: 'the compute node logged commit first (duplicate key on the claim)' };
  if (r.stored === 'abort') return { do: 'rollback', why: 'an abort was already logged (duplicate key on the claim)' };
  return { do: 'wait', why: 'duplicate key on the claim but no row readable: retry next scan' };
}

/** First-seen times of prepared branches, per "<place>|<xid>"; forgets what is no longer prepared. */
export class FirstSeen {
  private readonly at = new Map<string, number>();

  /** Records the branches seen in one complete scan of `place` and returns, per xid, since when. */
  observe(place: string, xids: readonly string[], nowMs: number): Map<string, number> {
    const out = new Map<string, number>();
    const live = new Set(xids.map((x) => `${place}|${x}`));
    for (const k of [...this.at.keys()]) if (k.startsWith(`${place}|`) && !live.has(k)) this.at.delete(k);
    for (const x of xids) {
      const k = `${place}|${x}`;
      const t = this.at.get(k) ?? nowMs;
      this.at.set(k, t);
      out.set(x, t);
    }
    return out;
  }

  forget(place: string): void {
    for (const k of [...this.at.keys()]) if (k.startsWith(`${place}|`)) this.at.delete(k);
  }

  get size(): number {
    return this.at.size;
  }
}

/**
 * The commit-log prune bound: rows keyed before `now - retention` may go, but only when every shard of
 * the cluster was scanned (a prepared branch on an unscanned shard could still need its row).
 */
export function pruneBound(o: { nowSec: number; retentionSec: number; allShardsScanned: boolean }): { belowTxnId: bigint } | { skip: string } {
  if (!o.allShardsScanned) return { skip: 'not every shard primary was scanned; a prepared branch there may need its decision' };
  const ts = Math.floor(o.nowSec - o.retentionSec);
  if (ts <= 0) return { skip: 'retention reaches before the epoch' };
  return { belowTxnId: BigInt(ts) << 32n };
}
