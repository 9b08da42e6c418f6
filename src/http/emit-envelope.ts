// The request envelope of POST /HttpService/Emit and the three answer shapes clients are written
// against: async "accept", immediate "failed", and a sync result with five keys lifted out of the
// attachment. Answers are compact JSON with keys in alphabetical order (the original's JSON writer did
// that, and at least one client script depends on it), followed by a newline.
import { E, errorMessage } from './error-codes.js';
import { setOwn, tooDeepAt, tooDeepReason } from '../events/json-limits.js';

export interface Envelope {
  version: string;
  job_id: string;
  job_type: string;
  timestamp: string;
  user_name: string;
  paras: unknown;
}

export type EnvelopeResult = { ok: true; env: Envelope } | { ok: false; answer: EmitAnswer };

export type EmitAnswer = Record<string, unknown>;

export function parseEnvelope(body: string): EnvelopeResult {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (e) {
    // Only the position: the parser's own message quotes the body, which may hold a password.
    const at = /position (\d+)/.exec((e as Error).message)?.[1];
    return { ok: false, answer: failed(E.INVALID_REQUEST, `JSON parse error: the request body is not valid JSON ${at !== undefined ? `(at byte ${at} of ${body.length})` : `(${body.length} bytes)`}`) };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { ok: false, answer: failed(E.INVALID_REQUEST, 'the request body must be a JSON object') };
  }
  const d = doc as Record<string, unknown>;
  if (!Object.hasOwn(d, 'job_type')) return { ok: false, answer: failed(E.INVALID_REQUEST, 'missing `job_type` key-value pair in the request body') };
  if (typeof d.job_type !== 'string' || d.job_type === '') {
    return { ok: false, answer: failed(E.INVALID_REQUEST, 'The field `job_type` in Body must be a non empty valid string') };
  }
  // Before anything walks it (answers, the event codec and secret filters recurse).
  const deep = tooDeepAt(doc);
  if (deep !== null) return { ok: false, answer: failed(E.INVALID_REQUEST, `${JSON.stringify(d.job_type).slice(1, -1).slice(0, 80)}: ${tooDeepReason(deep)}`) };
  const str = (k: string): string => {
    const v = Object.hasOwn(d, k) ? d[k] : undefined;
    return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
  };
  return {
    ok: true,
    env: {
      version: str('version') || '1.0',
      job_id: str('job_id'),
      job_type: d.job_type,
      timestamp: str('timestamp'),
      user_name: str('user_name'),
      paras: Object.hasOwn(d, 'paras') ? d.paras : undefined,
    },
  };
}

export function accepted(jobId: string): EmitAnswer {
  return { version: '1.0', error_code: '0', error_info: '', status: 'accept', job_id: jobId, attachment: null };
}

export function failed(code: number, info?: string, extra: Record<string, unknown> = {}): EmitAnswer {
  return { version: '1.0', error_code: String(code), error_info: info ?? errorMessage(code), status: 'failed', attachment: null, ...extra };
}

/** A sync job's answer: these keys of the result go to the top level, the rest is the attachment. */
export function syncAnswer(result: {
  status: string;
  error_code?: number | string;
  error_info?: string;
  job_id?: string;
  job_type?: string;
  attachment?: Record<string, unknown> | null;
}): EmitAnswer {
  return {
    version: '1.0',
    status: result.status,
    error_code: String(result.error_code ?? 0),
    error_info: result.error_info ?? '',
    job_id: result.job_id ?? '',
    job_type: result.job_type ?? '',
    attachment: result.attachment ?? null,
  };
}

/** Compact JSON, object keys sorted at every depth, and a newline. */
export function serializeAnswer(a: EmitAnswer): string {
  return `${JSON.stringify(sortKeys(a))}\n`;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  const obj = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) setOwn(out, k, sortKeys(obj[k]));
  return out;
}

/** The original also sent `access-control-allow-origin: *` with credentials: any web page could drive
 *  the API. Cross-origin grants are cors.ts's, for the origins in api_allowed_origins only. */
export const EMIT_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/plain; charset=utf-8',
};
