// A request answered synchronously although its work is a job (set_variable): wait for the job's end
// in the applied world, a bounded time, and answer with its outcome and its id.
import { setTimeout as delay } from 'node:timers/promises';
import type { JobView, World } from '../actors/index.js';
import { E } from './error-codes.js';
import type { SyncResult } from './emit-route.js';
import { refusalText } from '../actors/commands/paras-spec.js';

/** The job once it has ended, or null when it has not within `withinMs` (it goes on regardless). */
export async function waitForJobEnd(src: { readonly world: World }, id: number, withinMs: number, everyMs = 50): Promise<JobView | null> {
  const end = Date.now() + withinMs;
  for (;;) {
    const j = src.world.job(id);
    if (j !== null && (j.status === 'done' || j.status === 'failed')) return j;
    if (Date.now() >= end) return null;
    await delay(everyMs);
  }
}

function resultOf(j: JobView): Record<string, unknown> {
  return j.result !== null && typeof j.result === 'object' && !Array.isArray(j.result) ? j.result : {};
}

/**
 * The original's sync answer (`attachment.result` "true" or "false") with the job's id and its result;
 * a job still running after the wait is answered `ongoing` with its id, to be followed with get_status.
 */
export function jobOutcomeAnswer(jobType: string, jobId: string, j: JobView | null, waitedMs: number): SyncResult {
  const ids = { job_id: jobId, job_type: jobType };
  if (j === null) {
    return {
      status: 'ongoing',
      error_code: E.OK,
      error_info: refusalText(jobType, undefined, `job ${jobId} has not ended within ${waitedMs / 1000} s; it goes on: follow it with get_status (job_id ${jobId})`),
      ...ids,
      attachment: { result: 'false' },
    };
  }
  if (j.status === 'failed') return { status: 'failed', error_code: j.errorCode, error_info: refusalText(jobType, undefined, j.errorInfo), ...ids, attachment: { result: 'false' } };
  return { status: 'done', error_code: E.OK, error_info: '', ...ids, attachment: { result: 'true', ...resultOf(j) } };
}
