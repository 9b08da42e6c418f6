// Proposing HA commands from the leader's reconcilers: one helper that turns refusals into either
// "nothing to do" (no_change) or an error the reconciler host retries.
import type { Command } from '../actors/index.js';
import type { Proposer } from '../ports/index.js';
import { checkLeading, type LeaderContext } from '../reconcile/host.js';

export class ProposeError extends Error {
  override readonly name = 'ProposeError';
}

/** true when applied, false when the world already was so (no_change). */
export async function propose(rt: Proposer, cmd: Command, why: string, ctx: LeaderContext): Promise<boolean> {
  checkLeading(ctx.signal);
  const r = await rt.execute(cmd, { system: why.slice(0, 128) });
  if (r.ok) return true;
  if (r.kind === 'refused' && r.refusal.code === 'no_change') return false;
  const detail = r.kind === 'refused' ? `${r.refusal.code}: ${r.refusal.reason}` : r.kind === 'not_leader' ? 'not the leader' : r.reason;
  throw new ProposeError(`${cmd.kind} not applied (${detail})`);
}
