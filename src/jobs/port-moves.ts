// Installs that move on: when a node agent answers `port_in_use` (the server could not bind the port,
// or the pre-install bind test failed: a port held by another program or an outgoing connection), the
// instance moves to the next free port of its machine's port_range and is installed there. The move is
// a command (node.move / comp.move, valid only while the instance is `creating`), so the Raft log holds
// the new port before the install is sent and a new leader resumes on it. The refused port is recorded
// in the job (job.port_skipped): its placements skip it, and get_status shows it.
import { AgentError } from '../agent/client.js';
import type { JobView } from '../actors/index.js';
import { JobError, type JobContext } from './engine.js';

/**
 * Moves per instance before the job fails: a machine where this many slots in a row cannot be bound
 * has a problem an operator must see (another service squatting the range), not one to walk around.
 */
export const MAX_PORT_MOVES = 8;

/** Moves lost to a sibling instance that took the same free port first, before giving up. */
const MAX_LOST_RACES = 5;

export interface Slot {
  hostaddr: string;
  port: number;
}

export interface MovableInstance {
  /** The aggregate: node/<id> or comp/<id>. */
  agg: `node/${number}` | `comp/${number}`;
  /** Where it is now (read from the world at every attempt). */
  at(): Slot | null;
  /** The next free port on `host` clear of `taken`, by the role's own placement; null when none. */
  nextPort(host: string, taken: Slot[]): number | null;
}

/** The agent said the port cannot be bound (this agent's `reason`; an original node_mgr never says it). */
export function portInUse(e: unknown): e is AgentError {
  return e instanceof AgentError && e.kind === 'failed' && e.reason === 'port_in_use';
}

/** Ports the job's instances could not use, as placement's `taken` slots. */
export function refusedSlots(job: JobView, host?: string): Slot[] {
  return job.skippedPorts.filter((s) => host === undefined || s.hostaddr === host).map((s) => ({ hostaddr: s.hostaddr, port: s.port }));
}

/**
 * Runs `install` at the instance's current port; on `port_in_use`, moves it to the next free port and
 * tries again, at most MAX_PORT_MOVES times per instance (counted in the job record, so a new leader
 * does not start counting again). Other errors pass through. `code` is the job's install error number.
 */
export async function installMovingOn<T>(ctx: JobContext, inst: MovableInstance, code: number, install: (at: Slot) => Promise<T>): Promise<T> {
  for (;;) {
    const at = inst.at();
    if (at === null) throw new JobError(code, `${inst.agg} is no longer in the world`);
    try {
      return await install(at);
    } catch (e) {
      if (!portInUse(e)) throw e;
      const skipped = ctx.job.skippedPorts.filter((s) => s.instance === inst.agg);
      const reason = String(typeof e.info === 'string' ? e.info : e.message).slice(0, 500);
      if (skipped.length >= MAX_PORT_MOVES) {
        const ports = [...skipped.map((s) => s.port), at.port].join(',');
        throw new JobError(code, `${inst.agg} on ${at.hostaddr}: ports ${ports} could not be bound (at most ${MAX_PORT_MOVES} moves per instance); last answer: ${reason}`.slice(0, 900), { cause: e });
      }
      await moveOn(ctx, inst, at, code, reason);
    }
  }
}

async function moveOn(ctx: JobContext, inst: MovableInstance, from: Slot, code: number, reason: string): Promise<void> {
  for (let lost = 0; ; lost++) {
    const taken = [...refusedSlots(ctx.job, from.hostaddr), from];
    const port = inst.nextPort(from.hostaddr, taken);
    if (port === null) {
      throw new JobError(code, `${inst.agg}: ${from.hostaddr}:${from.port} cannot be bound (${reason}) and no other port of ${from.hostaddr}'s port_range is free`.slice(0, 900));
    }
    const id = Number(inst.agg.split('/')[1]);
    const move = inst.agg.startsWith('node/')
      ? ({ kind: 'node.move', node: id, port, job: ctx.job.id, reason } as const)
      : ({ kind: 'comp.move', comp: id, port, job: ctx.job.id, reason } as const);
    try {
      await ctx.exec(move);
      ctx.log.warn({ instance: inst.agg, host: from.hostaddr, skipped: from.port, port, reason }, 'port cannot be bound on its machine; the instance moves to the next free port');
      return;
    } catch (e) {
      // A sibling instance of this job moved onto that port first: place again.
      if (!(e instanceof JobError) || ctx.world.nodeAt(from.hostaddr, port) === null || lost >= MAX_LOST_RACES) throw e;
    }
  }
}
