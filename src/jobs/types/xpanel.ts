// The get_status attachment keys XPanel reads (clients-and-agent.md §2.3, cluster_mgr-api.md §1.6, §3),
// built from a job's recorded steps, its child jobs and the world: the original kept them in the job
// row's memo. Shared by the definitions in this folder; each definition declares its keys' schema.
import type { JobView, World } from '../../actors/index.js';
import type { Json } from '../../events/schema.js';
import type { JsonSchema } from '../definition.js';

/** storage_state / computer_state: the original's prepare | dispatch | done | failed. */
export type PartState = 'prepare' | 'dispatch' | 'done' | 'failed';

export const PART_STATE: JsonSchema = { type: 'string', enum: ['prepare', 'dispatch', 'done', 'failed'] };
/** "ip_port;ip_port;": XPanel drops the last character, so the last ";" stays. */
export const HOST_LIST: JsonSchema = { type: 'string', suffix: ';', description: '"ip_port;ip_port;" (empty when none)' };
export const JOB_ID: JsonSchema = { type: 'string', description: 'a job id, for the install details (mysql_pg_install_log.general_log_id)' };
export const NAMED_IDS: JsonSchema = { type: 'array', items: { type: 'object', additionalProperties: { type: 'string' } }, description: '[{<shard name>: <shard id>}]' };
export const NAMED_HOSTS: JsonSchema = { type: 'array', items: { type: 'object', additionalProperties: HOST_LIST }, description: '[{<shard name or id>: "ip_port;…;"}]' };

/** The state of a job (or of one part of it, by whether its steps have begun and ended). */
export function partState(job: JobView, began: boolean, ended: boolean): PartState {
  if (ended) return 'done';
  if (job.status === 'failed') return 'failed';
  if (job.status === 'done') return 'done';
  return began ? 'dispatch' : 'prepare';
}

export const stepBegan = (job: JobView, name: string): boolean => job.step?.name === name || job.steps.some((s) => s.step === name);
export const stepDone = (job: JobView, name: string): boolean => job.steps.some((s) => s.step === name && s.ok);

/** The whole job's state: dispatch once its first step began. */
export const jobState = (job: JobView): PartState => partState(job, job.step !== null || job.steps.length > 0, false);

export function hostList(addrs: readonly { hostaddr: string; port: number }[]): string {
  return addrs.map((a) => `${a.hostaddr}_${a.port};`).join('');
}

/** The child jobs of a job, oldest first (children have higher ids than their parent). */
export function childJobs(world: World, job: JobView): JobView[] {
  const out: JobView[] = [];
  for (const id of world.ids('job')) {
    if (Number(id) <= job.id) continue;
    const j = world.job(Number(id));
    if (j?.parent === job.id) out.push(j);
  }
  return out;
}

/** The nodes of a shard as "ip_port;…;". */
export function shardHosts(world: World, shard: number): string {
  return hostList(world.nodesOf(shard).flatMap((id) => world.node(id) ?? []));
}

/** A request value as an object, for the definitions' build functions. */
export function requestOf(job: JobView): { [k: string]: Json } {
  const r = job.request;
  return r !== null && typeof r === 'object' && !Array.isArray(r) ? r : {};
}

/** A string of a request, or "" (values captured when the job was accepted). */
export function text(r: { [k: string]: Json }, key: string): string {
  const v = r[key];
  return typeof v === 'string' ? v : '';
}
