// The answers jobs give and the lookups they share: one place for the wording of the common failures.
import type { InstanceKind } from './paths.js';
import type { Answer, FailureReason } from './protocol.js';
import type { InstanceRecord, Registry } from './registry.js';

export const ok = (info: Answer['info'] = 'success', extra?: string): Answer => ({ status: 'success', info, extra });
export const failed = (info: string, extra?: string, reason?: FailureReason): Answer => ({ status: 'failed', info, extra, ...(reason ? { reason } : {}) });

export function kindName(kind: InstanceKind): string {
  return kind === 'storage' ? 'storage (MySQL)' : 'computer (PostgreSQL)';
}

export function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.slice(0, 500);
}

/** The installed instance of `kind` on `p`, or a failed answer saying why there is none. */
export function target(ctx: { registry: Registry }, p: number, kind?: InstanceKind): InstanceRecord | Answer {
  const rec = ctx.registry.get(p);
  if (!rec) return failed(`no ${kind ? kindName(kind) : ''} instance is installed on port ${p}`.replace('  ', ' '));
  if (kind && rec.kind !== kind) return failed(`port ${p} holds a ${kindName(rec.kind)} instance, not a ${kindName(kind)} one`);
  if (rec.phase !== 'installed') return failed(`the instance on port ${p} is being ${rec.phase === 'installing' ? 'installed' : 'uninstalled'}`);
  return rec;
}

export const isAnswer = (x: InstanceRecord | Answer): x is Answer => 'status' in x;
