// node_mgr's wire format. Request: a JSON object with `cluster_mgr_request_id`, `job_type`, `paras`
// (required) and `task_spec_info` (echoed). Answer (node_mgr's RequestDealer::FetchResponse, written
// by jsoncpp's FastWriter): one JSON object with keys in byte order, no trailing newline,
//   {"Extra":"<ip>_<port>","cluster_mgr_request_id":"…","info":…,"status":"success"|"failed","task_spec_info":"…"}
// `Extra` only for the jobs that add it; `info` is a JSON value when it is one, otherwise a message
// with quotes, tabs and line breaks turned into spaces (node_mgr's TrimResponseInfo). This agent adds
// `reason` to a failed answer whose cause a caller can act on (FAILURE_REASONS; docs/agent.md).
import { setOwn, tooDeepAt, tooDeepReason } from '../events/json-limits.js';
import { describe } from './validate.js';

export interface Envelope {
  requestId: string;
  taskSpecInfo: string;
  jobType: string;
  paras: Record<string, unknown>;
}

export type Status = 'success' | 'failed';

export interface Answer {
  status: Status;
  /** A message, or a JSON object for the jobs that report data. */
  info: string | Record<string, unknown>;
  /** node_mgr's `Extra`: "<ip>_<port>" of the instance an install/uninstall was about. */
  extra?: string;
  /** This agent's addition to a `failed` answer: a stable machine-readable cause (see FAILURE_REASONS). */
  reason?: FailureReason;
}

/**
 * Causes of a `failed` answer a caller can act on, sent as the answer's top-level `reason` key (an
 * original manager ignores unknown keys). `port_in_use`: a port the server would bind cannot be bound
 * (held by another program, or by an outgoing connection): install on another port. `unknown_copy`:
 * get_copy_status / abort_copy name a copy this agent has no record of: it never started here.
 */
export const FAILURE_REASONS = ['port_in_use', 'unknown_copy'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export class EnvelopeError extends Error {
  constructor(
    message: string,
    /** What can still be echoed back, so the caller can match the answer to its request. */
    readonly requestId: string,
    readonly taskSpecInfo: string,
  ) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

const MAX_ID_CHARS = 256;
const MAX_SPEC_CHARS = 1024;

/** Parses and checks the envelope; `paras` themselves are checked by each job. */
export function parseEnvelope(body: string): Envelope {
  let root: unknown;
  try {
    root = JSON.parse(body);
  } catch (e) {
    // Not the parser's message: it quotes the body, which may hold a password.
    const at = /position (\d+)/.exec((e as Error).message)?.[1];
    const where = at !== undefined ? ` (error at byte ${at} of ${body.length})` : ` (${body.length} bytes)`;
    throw new EnvelopeError(`request body is not valid JSON${where}`, '', '');
  }
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    throw new EnvelopeError(`request body must be a JSON object, got ${describe(root)}`, '', '');
  }
  // Before anything walks it: answers and logs recurse into what they are given.
  const deep = tooDeepAt(root);
  if (deep !== null) throw new EnvelopeError(`request body: ${tooDeepReason(deep)}`, '', '');
  const r = root as Record<string, unknown>;
  // Echo what is usable even when something else is wrong.
  const idOk = typeof r.cluster_mgr_request_id === 'string' || Number.isSafeInteger(r.cluster_mgr_request_id);
  const requestId = idOk ? String(r.cluster_mgr_request_id).slice(0, MAX_ID_CHARS) : '';
  const specOk = r.task_spec_info === undefined || typeof r.task_spec_info === 'string';
  const taskSpecInfo = specOk && typeof r.task_spec_info === 'string' ? r.task_spec_info.slice(0, MAX_SPEC_CHARS) : '';
  const bad = (msg: string): never => {
    throw new EnvelopeError(msg, requestId, taskSpecInfo);
  };
  // The first three messages are node_mgr's own words.
  if (!Object.hasOwn(r, 'cluster_mgr_request_id')) bad("'cluster_mgr_request_id' field is missing");
  if (!Object.hasOwn(r, 'paras')) bad("'paras' field missing");
  if (!Object.hasOwn(r, 'job_type')) bad('job_type field missing');
  if (!idOk) bad(`cluster_mgr_request_id must be a string or an integer, got ${describe(r.cluster_mgr_request_id)}`);
  if (String(r.cluster_mgr_request_id).length > MAX_ID_CHARS) {
    bad(`cluster_mgr_request_id is longer than ${MAX_ID_CHARS} characters`);
  }
  if (!specOk) bad(`task_spec_info must be a string, got ${describe(r.task_spec_info)}`);
  if (typeof r.task_spec_info === 'string' && r.task_spec_info.length > MAX_SPEC_CHARS) {
    bad(`task_spec_info is longer than ${MAX_SPEC_CHARS} characters`);
  }
  if (typeof r.job_type !== 'string' || !/^[a-z_]{1,64}$/.test(r.job_type)) {
    bad(`job_type must be a job name (lower-case letters and "_"), got ${describe(r.job_type)}`);
  }
  let paras = r.paras;
  // "No paras" arrives as null (the original manager's ping_pong sends a default jsoncpp value) or as [].
  if (paras === null || (Array.isArray(paras) && paras.length === 0)) paras = {};
  if (paras === null || typeof paras !== 'object' || Array.isArray(paras)) {
    bad(`paras must be a JSON object, got ${describe(paras)}`);
  }
  return { requestId, taskSpecInfo, jobType: r.job_type as string, paras: paras as Record<string, unknown> };
}

/** node_mgr's TrimResponseInfo: the message must not break the manager's own JSON handling. */
export function trimInfo(s: string): string {
  return s.replace(/["\r\n\t]/g, ' ');
}

/** jsoncpp keeps object members in a std::map: byte order of keys, at every depth. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort(byteOrder)) setOwn(out, k, sortKeys((v as Record<string, unknown>)[k]));
  return out;
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export function formatAnswer(requestId: string, taskSpecInfo: string, a: Answer): string {
  const root: Record<string, unknown> = {
    cluster_mgr_request_id: requestId,
    task_spec_info: taskSpecInfo,
    status: a.status,
    info: typeof a.info === 'string' ? trimInfo(a.info) : a.info,
  };
  if (a.extra !== undefined) root.Extra = a.extra;
  if (a.reason !== undefined) root.reason = a.reason;
  return JSON.stringify(sortKeys(root));
}
