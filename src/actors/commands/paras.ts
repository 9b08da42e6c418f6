// Reading the `paras` of an Emit request strictly: numbers may come as digit strings (the original's
// contract) or JSON integers; every failure names the field and carries the original error number.
import type { Json } from '../../events/schema.js';
import { setOwn } from '../../events/json-limits.js';
import { HOST_RE, STR_LIMITS } from './para-limits.js';
import { refuse, type Refusal } from './common.js';

export type Paras = Readonly<Record<string, unknown>>;

export class ParaError extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.reason);
  }
}

function bad(field: string, reason: string, errno?: number): never {
  throw new ParaError(refuse('invalid_argument', reason, `paras.${field}`, errno));
}

export interface IntOpts {
  min?: number;
  max?: number;
  /** Error number when missing or not a number. */
  errno?: number;
  /** Error number when out of range (defaults to errno). */
  rangeErrno?: number;
}

const DIGITS = /^[0-9]{1,15}$/;

/** A bad value in a message: its type, or at most 40 characters of a string or number (never a password: those are only length-checked). */
function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

export class ParaReader {
  constructor(private readonly p: Paras) {}

  /** Own properties only: `constructor` or `__proto__` in a request is data, never the prototype's. */
  private get(key: string): unknown {
    return Object.hasOwn(this.p, key) ? this.p[key] : undefined;
  }

  has(key: string): boolean {
    const v = this.get(key);
    return v !== undefined && v !== null && v !== '';
  }

  int(key: string, opts: IntOpts = {}): number {
    const v = this.get(key);
    if (v === undefined || v === null || v === '') bad(key, 'is required', opts.errno);
    let n: number;
    if (typeof v === 'number' && Number.isSafeInteger(v)) n = v;
    else if (typeof v === 'string' && DIGITS.test(v)) n = Number(v);
    else return bad(key, `must be a non-negative integer (digits), got ${shown(v)}`, opts.errno);
    const min = opts.min ?? 0;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    if (n < min || n > max) bad(key, `must be from ${min} to ${max}, got ${n}`, opts.rangeErrno ?? opts.errno);
    return n;
  }

  /** The original reads a non-digit value of some keys (dbcfg) as the default instead of failing. */
  lenientInt(key: string, dflt: number): number {
    const v = this.get(key);
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
    return typeof v === 'string' && DIGITS.test(v) ? Number(v) : dflt;
  }

  optInt(key: string, dflt: number, opts: IntOpts = {}): number {
    return this.has(key) ? this.int(key, opts) : dflt;
  }

  str(key: string, opts: { errno?: number; max?: number; pattern?: RegExp; patternHelp?: string } = {}): string {
    const v = this.get(key);
    if (v === undefined || v === null || v === '') bad(key, 'is required', opts.errno);
    if (typeof v !== 'string') return bad(key, `must be a string, got ${shown(v)}`, opts.errno);
    const max = opts.max ?? 512;
    if (v.length > max) bad(key, `must be at most ${max} characters, got ${v.length}`, opts.errno);
    if (opts.pattern !== undefined && !opts.pattern.test(v)) bad(key, `is malformed (${opts.patternHelp ?? `must match ${opts.pattern.source}`})`, opts.errno);
    return v;
  }

  optStr(key: string, dflt: string, opts: { max?: number; pattern?: RegExp; patternHelp?: string } = {}): string {
    return this.has(key) ? this.str(key, opts) : dflt;
  }

  oneOf<const V extends string>(key: string, values: readonly V[], opts: { errno?: number; rangeErrno?: number } = {}): V {
    const v = this.str(key, { errno: opts.errno });
    if (!(values as readonly string[]).includes(v)) {
      bad(key, `must be one of ${values.join(', ')}, got ${shown(v)}`, opts.rangeErrno ?? opts.errno);
    }
    return v as V;
  }

  host(key: string, errno?: number): string {
    return this.str(key, { errno, pattern: HOST_RE, patternHelp: 'a host name or IP address', max: STR_LIMITS.hostaddr });
  }

  /** "ip_port" as the original writes node addresses. */
  hostPort(key: string, errno?: number): { host: string; port: number } {
    const v = this.str(key, { errno });
    const m = /^(.+)_([0-9]{1,5})$/.exec(v);
    const port = m === null ? NaN : Number(m[2]);
    if (m === null || !HOST_RE.test(m[1]!) || port < 1 || port > 65535) bad(key, `must be "host_port" (e.g. "10.0.0.5_57001"), got ${shown(v)}`, errno);
    return { host: m[1]!, port };
  }

  hostList(key: string, errno?: number): string[] {
    const v = this.get(key);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.length > 1024) bad(key, 'must be an array of at most 1024 host addresses', errno);
    const out: string[] = [];
    for (const [i, h] of v.entries()) {
      if (typeof h !== 'string' || !HOST_RE.test(h)) bad(`${key}[${i}]`, `is not a host address, got ${shown(h)}`, errno);
      if (out.includes(h)) bad(`${key}[${i}]`, `lists ${h} a second time`, errno);
      out.push(h);
    }
    return out;
  }

  /** "0"/"1" flags. */
  flag(key: string, dflt: boolean): boolean {
    if (!this.has(key)) return dflt;
    const v = this.get(key);
    if (v === '1' || v === 1 || v === true) return true;
    if (v === '0' || v === 0 || v === false) return false;
    return bad(key, `must be "0" or "1", got ${shown(v)}`);
  }

  array(key: string, errno?: number): Paras[] {
    const v = this.get(key);
    if (!Array.isArray(v) || v.length === 0) bad(key, 'must be a non-empty array', errno);
    if (v.length > 256) bad(key, 'has more than 256 items', errno);
    return v.map((x, i) => {
      if (typeof x !== 'object' || x === null || Array.isArray(x)) bad(`${key}[${i}]`, 'must be an object', errno);
      return x as Paras;
    });
  }
}

const SECRET_KEY = /pass(word|wd)?$|pwd$|secret|encrypt_key$|token$/i;

/** A JSON copy of a request with every secret-looking key removed (for job.created). */
export function withoutSecrets(x: unknown, depth = 0): Json {
  if (depth > 8) return null;
  if (x === null || typeof x === 'string' || typeof x === 'boolean') return x;
  if (typeof x === 'number') return Number.isFinite(x) ? x : null;
  if (Array.isArray(x)) return x.map((v) => withoutSecrets(v, depth + 1));
  if (typeof x === 'object') {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(x as Record<string, unknown>)) {
      if (SECRET_KEY.test(k) || v === undefined) continue;
      setOwn(out, k, withoutSecrets(v, depth + 1));
    }
    return out;
  }
  return null;
}
