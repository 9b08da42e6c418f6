// Checks for the `paras` of every job: each field has a type and a strict pattern or range, unknown
// fields are refused, and the message names the field and says what was wrong and what is allowed.
// The original manager sends numbers as strings ("3306"); both forms are accepted where it does.

export class ParaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParaError';
  }
}

export type Check<T> = (v: unknown, field: string) => T;

export interface Field<T, O extends boolean> {
  check: Check<T>;
  optional: O;
}

export const req = <T>(check: Check<T>): Field<T, false> => ({ check, optional: false });
export const opt = <T>(check: Check<T>): Field<T, true> => ({ check, optional: true });

export type Spec = Record<string, Field<unknown, boolean>>;
export type Parsed<S extends Spec> = {
  [K in keyof S]: S[K] extends Field<infer T, infer O> ? (O extends true ? T | undefined : T) : never;
};

/** A short, safe rendering of a bad value for a message: type, and at most 40 characters of it. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') {
    const shown = v.length > 40 ? `${v.slice(0, 40)}…` : v;
    // Control characters would break a one-line message; show them (and quotes) escaped.
    let out = '';
    for (const c of shown) out += isControl(c) || c === "'" || c === '\\' ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c;
    return `'${out}'`;
  }
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${v}`;
  return typeof v;
}

function isControl(c: string): boolean {
  const code = c.charCodeAt(0);
  return code < 0x20 || code === 0x7f;
}

function fail(field: string, v: unknown, allowed: string): never {
  throw new ParaError(`paras.${field}: got ${describe(v)}; expected ${allowed}`);
}

/** An integer, as a JSON number or a decimal string without sign, spaces or leading zeros. */
export const intIn =
  (min: number, max: number): Check<number> =>
  (v, field) => {
    const allowed = `an integer from ${min} to ${max} (a number or a string of digits)`;
    let n: number;
    if (typeof v === 'number') n = v;
    else if (typeof v === 'string' && /^(0|[1-9][0-9]{0,15})$/.test(v)) n = Number(v);
    else return fail(field, v, allowed);
    if (!Number.isSafeInteger(n) || n < min || n > max) return fail(field, v, allowed);
    return n;
  };

/** A TCP port an instance may use: unprivileged, so it can never be a system service's port. */
export const port: Check<number> = intIn(1024, 65_535);

/** A port field the original sends but this agent does not use (exporters, group replication): 0 or a port. */
export const sparePort: Check<number> = (v, field) => {
  if (v === '' || v === 0 || v === '0') return 0;
  return intIn(1, 65_535)(v, field);
};

export const oneOf =
  <T extends string>(values: readonly T[]): Check<T> =>
  (v, field) => {
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
    return fail(field, v, `one of ${values.map((x) => `'${x}'`).join(', ')}`);
  };

export const matching =
  (re: RegExp, help: string): Check<string> =>
  (v, field) => {
    if (typeof v === 'string' && re.test(v)) return v;
    return fail(field, v, help);
  };

/** Database account names: short identifiers, never quoted anywhere, valid in MariaDB and PostgreSQL. */
export const accountName = matching(
  /^[A-Za-z_][A-Za-z0-9_]{0,31}$/,
  'an account name: a letter or _ then up to 31 letters, digits or _',
);

/** Passwords go only into parameters and a 0600 file read by initdb; a line break would cut it short there. */
export const password: Check<string> = (v, field) => {
  if (typeof v !== 'string') return fail(field, v, 'a string of 1 to 128 printable characters');
  if (v.length < 1 || v.length > 128 || [...v].some(isControl)) {
    // Never echo a password, not even a bad one.
    throw new ParaError(`paras.${field}: must be 1 to 128 printable characters (no control characters)`);
  }
  return v;
};

/** A physical copy's one-time ticket (prepare_copy_source): a secret, so a bad one is not echoed either. */
export const copyTicket: Check<string> = (v, field) => {
  if (typeof v === 'string' && /^[0-9a-f]{64}$/.test(v)) return v;
  throw new ParaError(`paras.${field}: expected a ticket from the source agent's prepare_copy_source (64 hex digits); the value is not shown`);
};

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6 = /^[0-9A-Fa-f:]{2,39}$/;

export const hostAddr: Check<string> = (v, field) => {
  if (typeof v === 'string' && (IPV4.test(v) || HOSTNAME.test(v) || (v.includes(':') && IPV6.test(v)))) return v;
  return fail(field, v, 'an IPv4/IPv6 address or a host name');
};

/** Script names the original sends (install-mysql-mgr.py, …); recorded, never run. */
export const commandName = matching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a script file name (letters, digits, dot, _ and -)');

/** "0"/"1" flags; numbers are accepted as well. */
export const flag01: Check<boolean> = (v, field) => {
  if (v === '1' || v === 1) return true;
  if (v === '0' || v === 0) return false;
  return fail(field, v, "'0' or '1'");
};

export const onOff: Check<boolean> = (v, field) => {
  if (v === 'on' || v === true || v === '1' || v === 1) return true;
  if (v === 'off' || v === false || v === '0' || v === 0) return false;
  return fail(field, v, "'on' or 'off'");
};

/** Group replication seed list "ip:port,ip:port" (or empty): recorded, not used. */
export const seedList = matching(
  /^$|^[A-Za-z0-9.:-]{1,253}:\d{1,5}(,[A-Za-z0-9.:-]{1,253}:\d{1,5}){0,63},?$/,
  'empty or a comma-separated list of host:port',
);

// The original reads it from /proc/sys/kernel/random/uuid, which ends with a line break.
export const uuidOrEmpty = matching(
  /^$|^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\n?$/,
  'empty or a UUID',
);

/**
 * Checks every field of `paras` against `spec`; refuses unknown fields. All problems are reported
 * at once (joined by "; ") so a caller fixes a request in one go.
 */
export function parseParas<S extends Spec>(job: string, paras: Record<string, unknown>, spec: S): Parsed<S> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(spec)) {
    const v = Object.hasOwn(paras, name) ? paras[name] : undefined;
    if (v === undefined) {
      if (!f.optional) problems.push(`paras.${name}: missing (required by ${job})`);
      continue;
    }
    try {
      out[name] = f.check(v, name);
    } catch (e) {
      if (!(e instanceof ParaError)) throw e;
      problems.push(e.message);
    }
  }
  const unknown = Object.keys(paras).filter((k) => !Object.hasOwn(spec, k));
  for (const k of unknown) {
    problems.push(`paras.${describe(k).slice(1, -1)}: not a field of ${job} (known: ${Object.keys(spec).join(', ') || 'none'})`);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 6);
    if (problems.length > shown.length) shown.push(`and ${problems.length - shown.length} more`);
    throw new ParaError(shown.join('; '));
  }
  return out as Parsed<S>;
}
