// Reading a job's stored request (already validated when the job was accepted): typed accessors that
// fail the job with a clear error if a field is unexpectedly missing.
import type { Json } from '../../events/schema.js';
import { JOB_INTERNAL_ERROR, JobError, type JobContext } from '../engine.js';

export type Obj = { [k: string]: Json };

export function obj(v: Json): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new JobError(JOB_INTERNAL_ERROR, 'job request is not an object');
  return v;
}

export function req(ctx: JobContext): Obj {
  return obj(ctx.job.request);
}

export function str(r: Obj, k: string): string {
  const v = r[k];
  if (typeof v !== 'string') throw new JobError(JOB_INTERNAL_ERROR, `job request: ${k} is not a string`);
  return v;
}

export function num(r: Obj, k: string): number {
  const v = optNum(r, k);
  if (v === null) throw new JobError(JOB_INTERNAL_ERROR, `job request: ${k} is not a number`);
  return v;
}

export function optNum(r: Obj, k: string): number | null {
  const v = r[k];
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return null;
}

export function strList(r: Obj, k: string): string[] {
  const v = r[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new JobError(JOB_INTERNAL_ERROR, `job request: ${k} is not a list`);
  return v as string[];
}
