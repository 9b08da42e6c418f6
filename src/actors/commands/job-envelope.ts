// cluster_general_job_log.job_info is the request envelope as the client sent it ({version, job_id,
// job_type, timestamp, user_name, paras} with every value as sent: XPanel's operation log and alarms
// read job_info.paras.*), secrets removed. It travels in job.created, so every member, a new leader and
// a rebuilt projection write the same row. A job started by a job (or by the manager itself) gets the
// envelope its parent builds: its internal job type, user_name internal_user, paras as strings.
import type { Cause } from '../../events/envelope.js';
import type { Json } from '../../events/schema.js';
import { JOB_INFO_MAX_BYTES, INTERNAL_USER, jobInfoText, jobUserName } from '../../metadata/jobs.js';
import { refuse, type Refusal } from './common.js';
import { withoutSecrets } from './paras.js';

export interface EnvelopeSource {
  jobType: string;
  request: unknown;
  /** The Emit body as received (parsed); absent for jobs the manager starts. */
  envelope?: unknown;
  parent?: number;
}

/** Request keys that are the manager's bookkeeping, not what a client would have sent. */
const BOOKKEEPING = new Set(['parent_step']);

/** Scalars as the original's clients send them: strings (numbers and flags included). */
function asSent(x: Json): Json {
  if (typeof x === 'number' || typeof x === 'boolean') return String(x);
  if (Array.isArray(x)) return x.map(asSent);
  if (x !== null && typeof x === 'object') {
    const out: { [k: string]: Json } = {};
    for (const [k, v] of Object.entries(x)) if (!BOOKKEEPING.has(k)) out[k] = asSent(v);
    return out;
  }
  return x;
}

/** The envelope job.created carries, or a refusal when job_info could not hold it. */
export function jobEnvelope(src: EnvelopeSource, cause: Cause, at: number): { ok: true; envelope: Json } | Refusal {
  let envelope: Json;
  if (src.envelope !== undefined && src.parent === undefined) {
    if (typeof src.envelope !== 'object' || src.envelope === null || Array.isArray(src.envelope)) {
      return refuse('invalid_argument', 'the request envelope must be a JSON object', 'job_info');
    }
    envelope = withoutSecrets(src.envelope);
  } else {
    const userName = src.parent !== undefined ? INTERNAL_USER : (jobUserName({ user: 'user' in cause ? cause.user : null, system: 'system' in cause ? cause.system : null }) ?? '');
    envelope = { version: '1.0', job_id: '', job_type: src.jobType, timestamp: String(at), user_name: userName, paras: asSent(withoutSecrets(src.request)) };
  }
  const size = jobInfoText(envelope).length;
  if (size > JOB_INFO_MAX_BYTES) {
    return refuse('invalid_argument', `the request is ${size} bytes as stored, over the ${JOB_INFO_MAX_BYTES} bytes cluster_general_job_log.job_info holds`, 'paras', 70001);
  }
  return { ok: true, envelope };
}
