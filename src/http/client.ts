// The one client of a member's public HTTP API, used by `cluster-mgr status` and the playground:
// JSON GETs, the compatible Emit endpoint, and finding the leader from any member.
export interface ApiOptions {
  /** Bearer token (config api_token), when the members require one. */
  token?: string | null;
  timeoutMs?: number;
}

export interface EmitAnswer {
  version?: string;
  error_code: string;
  error_info: string;
  status: string;
  job_id?: string;
  job_type?: string;
  attachment?: Record<string, unknown> | null;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly httpStatus: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function headers(o: ApiOptions, json = false): Record<string, string> {
  const h: Record<string, string> = {};
  if (o.token) h.authorization = `Bearer ${o.token}`;
  if (json) h['content-type'] = 'application/json';
  return h;
}

/** GET a JSON document; non-2xx answers with a JSON body are returned too when `anyStatus`. */
export async function getJson<T>(url: string, o: ApiOptions = {}, anyStatus = false): Promise<T> {
  let r: Response;
  try {
    r = await fetch(url, { headers: headers(o), signal: AbortSignal.timeout(o.timeoutMs ?? 3_000) });
  } catch (e) {
    throw new ApiError(`GET ${url}: ${(e as Error).message}`, null, );
  }
  if (!r.ok && !anyStatus) throw new ApiError(`GET ${url}: HTTP ${r.status}`, r.status);
  try {
    return (await r.json()) as T;
  } catch (e) {
    throw new ApiError(`GET ${url}: HTTP ${r.status}, not JSON (${(e as Error).message})`, r.status);
  }
}

/** The Emit request body as XPanel sends it (numbers as strings). */
export function emitBody(jobType: string, paras: Record<string, unknown>, jobId = ''): string {
  return JSON.stringify({
    version: '1.0',
    job_id: jobId,
    job_type: jobType,
    timestamp: String(Math.floor(Date.now() / 1000)),
    user_name: 'playground',
    paras,
  });
}

/** POST /HttpService/Emit on `base` (http://host:port). */
export async function emit(base: string, jobType: string, paras: Record<string, unknown>, jobId = '', o: ApiOptions = {}): Promise<EmitAnswer> {
  let r: Response;
  try {
    r = await fetch(`${base}/HttpService/Emit`, {
      method: 'POST',
      headers: headers(o, true),
      body: emitBody(jobType, paras, jobId),
      signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
    });
  } catch (e) {
    throw new ApiError(`${jobType} on ${base}: ${(e as Error).message}`);
  }
  if (r.status === 404) throw new ApiError(`${base} does not serve POST /HttpService/Emit (HTTP 404)`, 404);
  const text = await r.text();
  try {
    return JSON.parse(text) as EmitAnswer;
  } catch {
    throw new ApiError(`${jobType} on ${base}: HTTP ${r.status}, not JSON: ${text.slice(0, 200)}`, r.status);
  }
}

export interface LeaderAnswer {
  is_leader: boolean;
  leader: string | null;
  leader_url: string | null;
  term: number;
}

/** Asks each URL in turn for the leader; the first answer naming one wins. */
export async function findLeader(urls: string[], o: ApiOptions = {}): Promise<LeaderAnswer | null> {
  for (const u of urls) {
    try {
      const a = await getJson<LeaderAnswer>(`${u}/api/v1/leader`, o, true);
      if (a.leader !== null && a.leader_url) return a;
    } catch {
      // Try the next member.
    }
  }
  return null;
}
