// Declarative specs of each job type's `paras`: one table drives validation (with the original's error
// number per field and a message naming the field and the reason), the typed result, and the JSON
// Schema published in the OpenAPI document. Numbers are accepted as JSON strings (what XPanel and the
// original's clients send) and as JSON numbers.
import { HOST_RE } from './para-limits.js';

export { HOST_RE };

/** The original's "Parameter Error" (src/http/error-codes.ts E.PARAMETER_ERROR): a field without its own number. */
const PARAMETER_ERROR = 70_005;

export type FieldSpec =
  | { kind: 'int'; min: number; max: number; required?: boolean; def?: number; missing?: number; bad?: number; /** when a number is out of range (default bad) */ range?: number; help?: string }
  | { kind: 'enum'; values: readonly string[]; required?: boolean; def?: string; missing?: number; bad?: number; help?: string }
  | { kind: 'string'; maxLen: number; pattern?: RegExp; patternHelp?: string; required?: boolean; def?: string; missing?: number; bad?: number; secret?: boolean; help?: string }
  | { kind: 'host'; required?: boolean; missing?: number; bad?: number; help?: string }
  | { kind: 'hostList'; required?: boolean; missing?: number; bad?: number; help?: string }
  /** An array of strings, each matching `pattern` (expand_cluster's table_list); duplicates removed. */
  | { kind: 'stringList'; pattern: RegExp; patternHelp: string; maxLen: number; maxItems: number; required?: boolean; missing?: number; bad?: number; help?: string }
  | { kind: 'ipPort'; required?: boolean; missing?: number; bad?: number; help?: string }
  | { kind: 'idOrAll'; required?: boolean; missing?: number; bad?: number; help?: string }
  /** A non-empty array of objects, each checked with `items` (rebuild_node's rb_nodes). */
  | { kind: 'list'; items: ParasSpec; maxItems: number; required?: boolean; missing?: number; bad?: number; help?: string };

export type ParasSpec = Readonly<Record<string, FieldSpec>>;

export interface FieldError {
  code: number;
  field: string;
  reason: string;
}

export type ParasValue = string | number | string[] | ParasObject[] | undefined;
export interface ParasObject {
  [k: string]: ParasValue;
}

export function validateParas(
  raw: unknown,
  spec: ParasSpec,
  missingParasCode: number,
): { ok: true; value: Record<string, ParasValue> } | { ok: false; error: FieldError } {
  if (raw === undefined || raw === null) {
    if (Object.values(spec).some((f) => f.required)) {
      return fail(missingParasCode, 'paras', 'is missing');
    }
    raw = {};
  }
  // PHP turns an empty object into [], so an empty array means "no paras".
  if (Array.isArray(raw) && raw.length === 0) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) return fail(missingParasCode, 'paras', 'must be a JSON object');
  const obj = raw as Record<string, unknown>;
  const out: Record<string, ParasValue> = {};
  for (const [name, f] of Object.entries(spec)) {
    // Own properties only: a request's `constructor` or `__proto__` is data, never the prototype's.
    const r = checkField(name, Object.hasOwn(obj, name) ? obj[name] : undefined, f);
    if ('error' in r) return { ok: false, error: r.error };
    if (r.value !== undefined) out[name] = r.value;
  }
  return { ok: true, value: out };
}

function fail(code: number, field: string, reason: string): { ok: false; error: FieldError } {
  return { ok: false, error: { code, field, reason } };
}

function checkField(name: string, v: unknown, f: FieldSpec, field = `paras.${name}`): { value: ParasValue } | { error: FieldError } {
  const missingCode = f.missing ?? PARAMETER_ERROR;
  const badCode = f.bad ?? f.missing ?? PARAMETER_ERROR;
  const bad = (reason: string) => ({ error: { code: badCode, field, reason } });
  if (v === undefined || v === null || v === '') {
    if (f.required) return { error: { code: missingCode, field, reason: 'is required' } };
    return { value: 'def' in f ? f.def : undefined };
  }
  const shown = JSON.stringify(v).slice(0, 80);
  switch (f.kind) {
    case 'int': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && /^[0-9]{1,15}$/.test(v) ? Number(v) : NaN;
      if (!Number.isSafeInteger(n)) return bad(`must be a whole number (digits, as a string or a number), got ${shown}`);
      if (n < f.min || n > f.max) return { error: { code: f.range ?? badCode, field, reason: `must be from ${f.min} to ${f.max}, got ${n}` } };
      return { value: n };
    }
    case 'enum':
      if (typeof v !== 'string' || !f.values.includes(v)) return bad(`must be one of ${f.values.join(', ')}, got ${shown}`);
      return { value: v };
    case 'string': {
      if (typeof v !== 'string') return bad(`must be a string, got ${typeof v}`);
      if (v.length > f.maxLen) return bad(`must be at most ${f.maxLen} characters, got ${v.length}`);
      if ([...v].some((ch) => ch.charCodeAt(0) < 0x20)) return bad('must not contain control characters');
      if (f.pattern && !f.pattern.test(v)) return bad(`must be ${f.patternHelp ?? `like ${f.pattern.source}`}, got ${f.secret ? 'a value that is not' : shown}`);
      return { value: v };
    }
    case 'host':
      if (typeof v !== 'string' || !HOST_RE.test(v)) return bad(`must be a host name or IP address, got ${shown}`);
      return { value: v };
    case 'hostList': {
      if (!Array.isArray(v)) return bad(`must be an array of host addresses, got ${typeof v}`);
      if (v.length > 1024) return bad('has more than 1024 hosts');
      for (const [i, h] of v.entries()) {
        if (typeof h !== 'string' || !HOST_RE.test(h)) {
          return { error: { code: badCode, field: `${field}[${i}]`, reason: `must be a host name or IP address, got ${JSON.stringify(h).slice(0, 80)}` } };
        }
      }
      return { value: [...new Set(v as string[])] };
    }
    case 'stringList': {
      if (!Array.isArray(v)) return bad(`must be an array of strings, got ${typeof v}`);
      if (v.length > f.maxItems) return bad(`has more than ${f.maxItems} items`);
      for (const [i, x] of v.entries()) {
        if (typeof x !== 'string' || x.length > f.maxLen || !f.pattern.test(x)) {
          return { error: { code: badCode, field: `${field}[${i}]`, reason: `must be ${f.patternHelp}, got ${JSON.stringify(x).slice(0, 80)}` } };
        }
      }
      return { value: [...new Set(v as string[])] };
    }
    case 'ipPort': {
      // The original's "ip_port" notation (e.g. "10.0.0.5_57001").
      const m = typeof v === 'string' ? /^(.+)_(\d{1,5})$/.exec(v) : null;
      const port = m ? Number(m[2]) : 0;
      if (!m || !HOST_RE.test(m[1]!) || port < 1 || port > 65_535) return bad(`must be "host_port" (e.g. "10.0.0.5_57001"), got ${shown}`);
      return { value: v as string };
    }
    case 'idOrAll': {
      if (v === 'all') return { value: 'all' };
      const n = typeof v === 'number' ? v : typeof v === 'string' && /^[0-9]{1,15}$/.test(v) ? Number(v) : NaN;
      if (!Number.isSafeInteger(n) || n < 0) return bad(`must be a whole number or "all", got ${shown}`);
      return { value: n };
    }
    case 'list': {
      if (!Array.isArray(v) || v.length === 0) return bad(`must be a non-empty array of objects, got ${Array.isArray(v) ? 'an empty array' : typeof v}`);
      if (v.length > f.maxItems) return bad(`has more than ${f.maxItems} items`);
      const out: ParasObject[] = [];
      for (const [i, item] of (v as unknown[]).entries()) {
        const at = `${field}[${i}]`;
        if (typeof item !== 'object' || item === null || Array.isArray(item)) return { error: { code: badCode, field: at, reason: 'must be an object' } };
        const o: ParasObject = {};
        for (const [k, sub] of Object.entries(f.items)) {
          const r = checkField(k, Object.hasOwn(item, k) ? (item as Record<string, unknown>)[k] : undefined, sub, `${at}.${k}`);
          if ('error' in r) return r;
          if (r.value !== undefined) o[k] = r.value;
        }
        out.push(o);
      }
      return { value: out };
    }
  }
}

/** error_info of a refusal: the job, the field and the reason (the code keeps the original's number). */
export function refusalText(jobType: string, field: string | undefined, reason: string): string {
  return `${jobType}: ${field !== undefined ? `${field}: ` : ''}${reason}`;
}

export function describeFieldError(jobType: string, e: FieldError): string {
  return refusalText(jobType, e.field, e.reason);
}

/** JSON Schema of a paras spec, for the OpenAPI document. */
export function parasJsonSchema(spec: ParasSpec): Record<string, unknown> {
  return objectSchema(spec);
}

function objectSchema(spec: ParasSpec): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const [name, f] of Object.entries(spec)) {
    if (f.required) required.push(name);
    const description = f.help;
    switch (f.kind) {
      case 'int':
        properties[name] = {
          oneOf: [{ type: 'string', pattern: '^[0-9]+$' }, { type: 'integer', minimum: f.min, maximum: f.max }],
          description: `${description ?? ''} (${f.min}..${f.max})`.trim(),
        };
        break;
      case 'enum':
        properties[name] = { type: 'string', enum: [...f.values], description };
        break;
      case 'string':
        properties[name] = { type: 'string', maxLength: f.maxLen, description, ...(f.secret ? { format: 'password' } : {}) };
        break;
      case 'host':
        properties[name] = { type: 'string', description: description ?? 'host name or IP address' };
        break;
      case 'hostList':
        properties[name] = { type: 'array', items: { type: 'string' }, description };
        break;
      case 'stringList':
        properties[name] = { type: 'array', maxItems: f.maxItems, items: { type: 'string', maxLength: f.maxLen, pattern: f.pattern.source }, description };
        break;
      case 'ipPort':
        properties[name] = { type: 'string', pattern: '^.+_[0-9]{1,5}$', description: description ?? '"host_port"' };
        break;
      case 'idOrAll':
        properties[name] = { oneOf: [{ type: 'string' }, { type: 'integer' }], description: description ?? 'an id or "all"' };
        break;
      case 'list':
        properties[name] = { type: 'array', minItems: 1, maxItems: f.maxItems, items: objectSchema(f.items), description };
        break;
    }
  }
  return { type: 'object', properties, ...(required.length ? { required } : {}) };
}
