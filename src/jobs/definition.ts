// The one definition of a job type: its paras (the spec the Emit edge and the leader's command check
// both validate with), its check against the world, its declared steps, its handler and rollback, the
// shape of its get_status attachment and the metadata tables it writes. src/jobs/types holds one file
// per type or small family and the explicit list (types/index.ts); HTTP validation, the command check,
// the engine, the OpenAPI document and docs/api.md's job list all read that list.
import type { JobAcceptor, JobCatalog, JobView, World } from '../actors/index.js';
import type { ParasSpec } from '../actors/commands/paras-spec.js';
import type { Role } from '../config/api-tokens.js';
import type { Config } from '../config/load.js';
import type { Json } from '../events/schema.js';
import type { JobHandler, RollbackHook } from './engine.js';

/** The subset of JSON Schema an attachment is described with (OpenAPI, docs, the golden test). */
export interface JsonSchema {
  type?: 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array' | 'null' | readonly ('string' | 'integer' | 'null' | 'object')[];
  description?: string;
  enum?: readonly (string | number)[];
  properties?: Readonly<Record<string, JsonSchema>>;
  /** Objects whose keys are names or ids (`{<shard_name>: <id>}`): every value has this schema. */
  additionalProperties?: JsonSchema;
  items?: JsonSchema;
  /** A string that ends with this text (the original's "ip_port;ip_port;" lists keep the last ";"). */
  suffix?: string;
  /** An attachment key present only in some states (e.g. an error text on failure). */
  optional?: boolean;
}

/** What get_status adds to the common attachment keys for this type, as XPanel reads them. */
export interface AttachmentShape {
  description: string;
  /** The type's own keys; the common keys (cluster_id, step, progress …) are in COMMON_ATTACHMENT. */
  keys: Readonly<Record<string, JsonSchema>>;
  /** Builds those keys from the job (request, steps, result, child jobs) and the world; absent: the result's keys. */
  build?(job: JobView, world: World): Record<string, unknown>;
  /** The attachment holds only these keys, not the common ones: XPanel reads every key of a
   *  rebuild_node attachment but job_step as a rebuilt node. */
  only?: boolean;
  /** get_status's top-level status when not the job's own (expand_cluster: the move's stage, as the original answered). */
  status?(job: JobView): string;
}

interface Common {
  readonly name: string;
  readonly summary: string;
  /** Error number when `paras` itself is missing. */
  readonly missingParas: number;
  readonly paras: ParasSpec;
}

/** A job: accepted by the leader's command check, run by the engine. */
export interface JobTypeDefinition extends Common, JobAcceptor {
  readonly kind: 'job';
  /** Who may start it through the API (src/http/route-roles.ts explains the roles). */
  readonly role: Role;
  /** Answered in the HTTP response (set_variable waits for its job), or "accept" + job_id. */
  readonly sync: boolean;
  readonly internal: boolean;
  readonly accept?: JobAcceptor['accept'];
  /** A check of the paras against the configuration of the member that receives the request, at the
   *  Emit edge before the job exists (e.g. a storage kind that needs a client it has not configured). */
  readonly configCheck?: (paras: Readonly<Record<string, unknown>>, cfg: Config) => { field: string; reason: string; errno: number } | null;
  /** Every name run() may pass to ctx.step (or ctx.child); the engine refuses any other. */
  readonly steps: readonly string[];
  readonly run: JobHandler;
  readonly rollback?: RollbackHook;
  readonly attachment: AttachmentShape;
  /** The kunlun_metadata_db tables its effects end in (through the projection or directly); a per-cluster
   *  table by its template (commit_log_template_table for commit_log_<cluster>). */
  readonly writes: readonly string[];
}

/** A sync query answered from the world or the metadata shard: no job, nothing written. */
export interface QueryDefinition extends Common {
  readonly kind: 'query';
  /** Who may ask (src/http/route-roles.ts explains the roles). */
  readonly role: Role;
  readonly sync: true;
  readonly internal: false;
  readonly attachment: AttachmentShape;
}

/** A type of the original this manager refuses, with the reason, until its issue lands. */
export interface RefusedDefinition extends Common {
  readonly kind: 'refused';
  readonly sync: false;
  readonly internal: boolean;
  readonly refused: string;
}

export type JobDefinition = JobTypeDefinition | QueryDefinition | RefusedDefinition;

/** Attachment keys every job's get_status answer has (src/http/sync-answers.ts jobAttachment). */
export const COMMON_ATTACHMENT: Readonly<Record<string, JsonSchema>> = {
  cluster_id: { type: 'string', description: 'the cluster the job concerns (always a string)' },
  cluster_name: { type: 'string' },
  computer_user: { type: 'string' },
  step: { type: 'string', description: 'name of the current step (the last recorded one once the job has ended; "" before the first)' },
  progress: { type: 'object', properties: { done: { type: 'integer' }, total: { type: 'integer' } } },
  steps: { type: 'array', items: { type: 'object', properties: { step: { type: 'string' }, ok: { type: 'boolean' }, info: { type: 'string' } } } },
  skipped_ports: { type: 'array', description: 'ports an install could not bind and moved away from (absent when none)' },
  when_started: { type: 'integer' },
  when_ended: { type: ['integer', 'null'] },
};

/** Steps the engine records itself for every job: the failure marker and the rollback. */
export const ENGINE_STEPS: readonly string[] = ['failed', 'rollback'];

/** The explicit list as a lookup, for the command check (JobCatalog), the engine and HTTP. */
export class JobDefinitions implements JobCatalog {
  private readonly byName = new Map<string, JobDefinition>();

  constructor(readonly all: readonly JobDefinition[]) {
    for (const d of all) {
      if (this.byName.has(d.name)) throw new Error(`job type ${d.name} is defined twice`);
      this.byName.set(d.name, d);
    }
  }

  get(jobType: string): JobDefinition | undefined {
    return this.byName.get(jobType);
  }

  /** A job the engine can run (a type with a handler), or undefined. */
  job(jobType: string): JobTypeDefinition | undefined {
    const d = this.byName.get(jobType);
    return d?.kind === 'job' ? d : undefined;
  }

  /** Types a client may send to the Emit endpoint (every one not internal). */
  public(): JobDefinition[] {
    return this.all.filter((d) => !d.internal);
  }

  /** The public types this manager serves (not refused), by name: the OpenAPI document and docs list these. */
  served(): Record<string, JobTypeDefinition | QueryDefinition> {
    return Object.fromEntries(this.all.flatMap((d) => (d.internal || d.kind === 'refused' ? [] : [[d.name, d] as const])));
  }

  /** A catalog with more definitions (tests add their own job types). */
  with(extra: readonly JobDefinition[]): JobDefinitions {
    return new JobDefinitions([...this.all, ...extra]);
  }
}

/** The attachment keys a definition's get_status answer may hold (common and its own). */
export function attachmentKeys(d: JobDefinition): Record<string, JsonSchema> {
  return d.kind === 'refused' ? {} : d.kind === 'query' || d.attachment.only === true ? { ...d.attachment.keys } : { ...COMMON_ATTACHMENT, ...d.attachment.keys };
}

/** Standard JSON Schema for the OpenAPI document: `suffix` becomes a pattern, `optional` is dropped. */
export function openApiSchema(s: JsonSchema): Record<string, unknown> {
  const { suffix, optional: _optional, properties, items, additionalProperties, ...rest } = s;
  const out: Record<string, unknown> = { ...rest };
  if (suffix !== undefined) out.pattern = `(^$|${suffix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$)`;
  if (properties !== undefined) out.properties = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, openApiSchema(v)]));
  if (items !== undefined) out.items = openApiSchema(items);
  if (additionalProperties !== undefined) out.additionalProperties = openApiSchema(additionalProperties);
  return out;
}

export type { Json };
