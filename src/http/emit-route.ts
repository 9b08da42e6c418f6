// POST /HttpService/Emit: the original's job API. Unlike the original, a request is validated fully
// before a job exists: a bad request answers "failed" naming the field and nothing is written.
import type { FastifyInstance } from 'fastify';
import { E } from './error-codes.js';
import { accepted, failed, parseEnvelope, serializeAnswer, syncAnswer, EMIT_HEADERS, type EmitAnswer, type Envelope } from './emit-envelope.js';
import { JOB_DEFINITIONS } from '../jobs/types/index.js';
import { describeFieldError, refusalText, validateParas, type ParasValue } from '../actors/commands/paras-spec.js';

export interface ValidatedJob {
  jobType: string;
  paras: Record<string, ParasValue>;
  envelope: Envelope;
  /** The request as received, for cluster_general_job_log.job_info (secrets are removed by the backend). */
  raw: string;
  /** Relayed here by another member (which found this one to be the leader). */
  forwarded?: boolean;
}

export interface SyncResult {
  /** done or failed (or a job status for get_status). */
  status: string;
  error_code?: number;
  error_info?: string;
  job_id?: string;
  job_type?: string;
  attachment?: Record<string, unknown> | null;
}

/** What the endpoint needs from the manager. Errors carry the original's error number. */
export interface EmitBackend {
  submit(job: ValidatedJob): Promise<{ jobId: string } | { code: number; info: string }>;
  sync(job: ValidatedJob): Promise<SyncResult>;
  /** An answer relayed from the leader when this member must not serve the job itself; null: serve it. */
  forward?(job: ValidatedJob): Promise<EmitAnswer | null>;
}

/** Header set by a member relaying a request to the leader. */
export const FORWARDED_HEADER = 'x-cluster-mgr-forwarded';

/** Headers of a request a member relays to the leader: who relays it, and the API token when one is set. */
export function relayHeaders(selfId: string, apiToken: string, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { ...extra, [FORWARDED_HEADER]: selfId };
  if (apiToken !== '') h.authorization = `Bearer ${apiToken}`;
  return h;
}

export const EMIT_BODY_LIMIT = 1024 * 1024;
/** A body over the limit is still read (up to this much) so the client gets its answer instead of a
 *  connection reset while it is still sending; only a body beyond this is cut off. */
const EMIT_READ_LIMIT = 8 * EMIT_BODY_LIMIT;
const tooBigAnswer = (): EmitAnswer => failed(E.INVALID_REQUEST, `request body larger than ${EMIT_BODY_LIMIT} bytes`);

export function registerEmit(app: FastifyInstance, backend: EmitBackend): void {
  // The body is read as text whatever the content type: XPanel sends application/json, scripts often
  // send none or text/plain; a parse error must be answered in the envelope, not as HTTP 400.
  void app.register((scope, _opts, registered) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: EMIT_READ_LIMIT }, (_req, body, done) => done(null, body));
    scope.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
      const tooBig = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE';
      const answer = tooBig ? tooBigAnswer() : failed(E.INVALID_REQUEST, `bad request: ${err.message}`);
      void reply.code(200).headers(EMIT_HEADERS).send(serializeAnswer(answer));
    });
    scope.options('/HttpService/Emit', async (_req, reply) => reply.code(200).headers(EMIT_HEADERS).send(''));
    scope.get('/HttpService/Emit', async (_req, reply) =>
      reply.code(200).headers(EMIT_HEADERS).send(serializeAnswer(failed(E.INVALID_REQUEST, 'only POST is served on /HttpService/Emit'))),
    );
    scope.post('/HttpService/Emit', async (req, reply) => {
      const raw = typeof req.body === 'string' ? req.body : '';
      if (Buffer.byteLength(raw, 'utf8') > EMIT_BODY_LIMIT) return reply.code(200).headers(EMIT_HEADERS).send(serializeAnswer(tooBigAnswer()));
      const answer = await handleEmit(raw, backend, { forwarded: req.headers[FORWARDED_HEADER] !== undefined });
      return reply.code(200).headers(EMIT_HEADERS).send(serializeAnswer(answer));
    });
    registered();
  });
}

export async function handleEmit(raw: string, backend: EmitBackend, opts: { forwarded?: boolean } = {}): Promise<EmitAnswer> {
  const parsed = parseEnvelope(raw);
  if (!parsed.ok) return parsed.answer;
  const env = parsed.env;
  const def = JOB_DEFINITIONS.get(env.job_type);
  if (def === undefined || def.internal) {
    // The original's words first (clients may look for them), then the field and the reason.
    return failed(E.INVALID_REQUEST, `Unrecongnized job type: job_type: ${JSON.stringify(env.job_type).slice(0, 80)} is not a job type of cluster_mgr`);
  }
  if (def.kind === 'refused') return failed(E.INVALID_REQUEST, refusalText(env.job_type, 'job_type', `is not supported by this cluster_mgr: ${def.refused}`));
  const v = validateParas(env.paras, def.paras, def.missingParas);
  if (!v.ok) {
    const extra = def.sync ? { job_id: env.job_id.slice(0, 128), job_type: env.job_type } : {};
    return failed(v.error.code, describeFieldError(env.job_type, v.error), extra);
  }
  const job: ValidatedJob = { jobType: env.job_type, paras: v.value, envelope: env, raw, forwarded: opts.forwarded === true };
  const relayed = backend.forward ? await backend.forward(job) : null;
  if (relayed !== null) return relayed;
  if (def.sync) {
    const r = await backend.sync(job);
    return syncAnswer({ job_type: env.job_type, ...r });
  }
  const r = await backend.submit(job);
  if ('jobId' in r) return accepted(r.jobId);
  return failed(r.code, refusalText(env.job_type, undefined, r.info));
}
