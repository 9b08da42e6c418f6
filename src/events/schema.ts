// Small runtime validators whose TypeScript types are inferred, so the catalog is written once and is
// both the compile-time union and the decode-time check. No dependency: the hot replay path calls
// these for every event, and closures over plain checks are cheap.

/** What failed: the message, and the keys leading to it (innermost first; built only on failure). */
export class Fail {
  readonly keys: string[] = [];

  constructor(readonly msg: string) {}

  /** Adds a step on the way out: `.name` or `[3]`. */
  at(key: string): this {
    this.keys.push(key);
    return this;
  }

  format(path: string): string {
    let p = path;
    for (let i = this.keys.length - 1; i >= 0; i--) p += this.keys[i]!;
    return `${p}: ${this.msg}`;
  }
}

/**
 * A validator. `test` returns null when `x` is valid, or a Fail; `check` formats it with a path. The
 * replay path validates every event, so success allocates nothing (paths are built only on failure).
 */
export interface Schema<T> {
  readonly _t?: T;
  /** Marks values that must never leave the manager in clear (redaction, audit output). */
  readonly secret: boolean;
  test(x: unknown): Fail | null;
  check(x: unknown, path: string): string | null;
  /** A short type description for docs/events.md. */
  doc(): string;
}

/** An object key that may be absent (never `undefined`: canonical encoding has no undefined). */
export interface Optional<T> {
  readonly optional: Schema<T>;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

type Shape = Record<string, Schema<unknown> | Optional<unknown>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type InferShape<S extends Shape> = Simplify<
  { [K in keyof S as S[K] extends Optional<unknown> ? never : K]: S[K] extends Schema<infer T> ? T : never } & {
    [K in keyof S as S[K] extends Optional<unknown> ? K : never]?: S[K] extends Optional<infer T> ? T : never;
  }
>;

function make<T>(test: (x: unknown) => Fail | null, doc: () => string, secret = false): Schema<T> {
  return {
    secret,
    test,
    check: (x, path) => {
      const f = test(x);
      return f === null ? null : f.format(path);
    },
    doc,
  };
}

const fail = (msg: string): Fail => new Fail(msg);
const typeName = (x: unknown): string => (x === null ? 'null' : Array.isArray(x) ? 'array' : typeof x);

export function str(opts: { min?: number; max?: number; pattern?: RegExp } = {}): Schema<string> {
  const min = opts.min ?? 0;
  const max = opts.max ?? 4096;
  const re = opts.pattern;
  return make(
    (x) => {
      if (typeof x !== 'string') return fail(`expected string, got ${typeName(x)}`);
      if (x.length < min) return fail(`shorter than ${min}`);
      if (x.length > max) return fail(`longer than ${max}`);
      if (re !== undefined && !re.test(x)) return fail(`does not match ${String(re)}`);
      return null;
    },
    () => (re !== undefined ? `string ${String(re)}` : min > 0 ? `string (${min}..${max})` : 'string'),
  );
}

export function int(opts: { min?: number; max?: number } = {}): Schema<number> {
  const min = opts.min ?? Number.MIN_SAFE_INTEGER;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  return make(
    (x) => {
      if (typeof x !== 'number' || !Number.isSafeInteger(x)) return fail(`expected integer, got ${typeName(x)}`);
      if (x < min || x > max) return fail(`${x} out of range ${min}..${max}`);
      return null;
    },
    () => (opts.min !== undefined || opts.max !== undefined ? `int ${opts.min ?? ''}..${opts.max ?? ''}` : 'int'),
  );
}

export function bool(): Schema<boolean> {
  return make(
    (x) => (typeof x === 'boolean' ? null : fail(`expected boolean, got ${typeName(x)}`)),
    () => 'boolean',
  );
}

export function oneOf<const V extends readonly string[]>(values: V): Schema<V[number]> {
  const set = new Set<string>(values);
  return make(
    (x) => (typeof x === 'string' && set.has(x) ? null : fail(`expected one of ${values.join('|')}`)),
    () => values.map((v) => `'${v}'`).join(' \\| '),
  );
}

export function nullable<T>(s: Schema<T>): Schema<T | null> {
  return make(
    (x) => (x === null ? null : s.test(x)),
    () => `${s.doc()} \\| null`,
    s.secret,
  );
}

export function arr<T>(s: Schema<T>, opts: { max?: number } = {}): Schema<T[]> {
  const max = opts.max ?? 10_000;
  return make(
    (x) => {
      if (!Array.isArray(x)) return fail(`expected array, got ${typeName(x)}`);
      if (x.length > max) return fail(`more than ${max} items`);
      for (let i = 0; i < x.length; i++) {
        const f = s.test(x[i]);
        if (f !== null) return f.at(`[${i}]`);
      }
      return null;
    },
    () => `${s.doc()}[]`,
  );
}

export function opt<T>(s: Schema<T>): Optional<T> {
  return { optional: s };
}

function isOptional(s: Schema<unknown> | Optional<unknown>): s is Optional<unknown> {
  return 'optional' in s;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null) return false;
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A closed object: unknown keys are refused, so a tampered or misspelled field never slips through. */
export function obj<S extends Shape>(shape: S): Schema<InferShape<S>> & { shape: S } {
  const keys = Object.keys(shape);
  const fields = new Map<string, { s: Schema<unknown>; optional: boolean }>();
  let required = 0;
  for (const k of keys) {
    const f = shape[k]!;
    if (isOptional(f)) fields.set(k, { s: f.optional, optional: true });
    else {
      fields.set(k, { s: f, optional: false });
      required++;
    }
  }
  const schema = make<InferShape<S>>(
    (x) => {
      if (!isPlainObject(x)) return fail(`expected object, got ${typeName(x)}`);
      // One pass over the value's own keys; a missing required key shows as a short count.
      let seen = 0;
      for (const k in x) {
        const f = fields.get(k);
        if (f === undefined) return fail('unknown field').at(`.${k}`);
        const v = x[k];
        if (v === undefined) return fail('undefined').at(`.${k}`);
        if (!f.optional) seen++;
        const e = f.s.test(v);
        if (e !== null) return e.at(`.${k}`);
      }
      if (seen !== required) {
        for (const k of keys) if (!isOptional(shape[k]!) && x[k] === undefined) return fail('missing').at(`.${k}`);
      }
      return null;
    },
    () => `{ ${keys.map((k) => (isOptional(shape[k]!) ? `${k}?` : k)).join(', ')} }`,
  );
  return Object.assign(schema, { shape });
}

/** A map from string keys (restricted) to values, e.g. evidence facts. */
export function rec<T>(s: Schema<T>, opts: { maxKeys?: number; key?: RegExp } = {}): Schema<Record<string, T>> {
  const maxKeys = opts.maxKeys ?? 64;
  const keyRe = opts.key ?? /^[A-Za-z0-9_.:-]{1,64}$/;
  return make(
    (x) => {
      if (!isPlainObject(x)) return fail(`expected object, got ${typeName(x)}`);
      let n = 0;
      for (const k in x) {
        if (++n > maxKeys) return fail(`more than ${maxKeys} keys`);
        if (!keyRe.test(k)) return fail(`bad key ${JSON.stringify(k)}`);
        const e = s.test(x[k]);
        if (e !== null) return e.at(`.${k}`);
      }
      return null;
    },
    () => `{ [key]: ${s.doc()} }`,
  );
}

/** A primitive scalar: string, finite number, boolean or null. */
export type Scalar = string | number | boolean | null;
export function scalar(): Schema<Scalar> {
  return make(
    (x) => {
      if (x === null || typeof x === 'boolean') return null;
      if (typeof x === 'string') return x.length <= 4096 ? null : fail('string too long');
      if (typeof x === 'number') return Number.isFinite(x) ? null : fail('not a finite number');
      return fail(`expected scalar, got ${typeName(x)}`);
    },
    () => 'scalar',
  );
}

export type Json = Scalar | Json[] | { [k: string]: Json };
/** Any JSON value within size limits (job requests and results are free-form). */
export function json(opts: { maxDepth?: number; maxNodes?: number } = {}): Schema<Json> {
  const maxDepth = opts.maxDepth ?? 8;
  const maxNodes = opts.maxNodes ?? 2000;
  return make(
    (x) => {
      let nodes = 0;
      const walk = (v: unknown, depth: number): Fail | null => {
        if (++nodes > maxNodes) return fail(`more than ${maxNodes} values`);
        if (depth > maxDepth) return fail(`nested deeper than ${maxDepth}`);
        if (v === null || typeof v === 'boolean') return null;
        if (typeof v === 'string') return v.length <= 65536 ? null : fail('string too long');
        if (typeof v === 'number') return Number.isFinite(v) ? null : fail('not a finite number');
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) {
            const e = walk(v[i], depth + 1);
            if (e !== null) return e.at(`[${i}]`);
          }
          return null;
        }
        if (isPlainObject(v)) {
          for (const k in v) {
            if (v[k] === undefined) return fail('undefined').at(`.${k}`);
            const e = walk(v[k], depth + 1);
            if (e !== null) return e.at(`.${k}`);
          }
          return null;
        }
        return fail(`not JSON (${typeName(v)})`);
      };
      return walk(x, 0);
    },
    () => 'json',
  );
}

/** The form of a secret the leader sealed before proposing it (src/config/secret-box.ts): opaque here. */
const SEALED = /^enc:v1:[A-Za-z0-9+/=]{1,2048}$/;

/**
 * Marks a field as secret: kept in the log (sealed when the members have a secrets key) but redacted
 * everywhere else. A sealed value stands in for the clear one, whatever the clear one's limits.
 */
export function secret<T>(s: Schema<T>): Schema<T> {
  const test = (x: unknown): Fail | null => (typeof x === 'string' && SEALED.test(x) ? null : s.test(x));
  return {
    ...s,
    secret: true,
    test,
    check: (x, path) => {
      const f = test(x);
      return f === null ? null : f.format(path);
    },
    doc: () => `${s.doc()} (secret)`,
  };
}

/** A schema from a custom test (e.g. a union), with the standard check/format. */
export function custom<T>(test: (x: unknown) => Fail | null, doc: () => string): Schema<T> {
  return make(test, doc);
}

/** Paths (dot-separated, from the schema root) of every secret field, for redaction. */
export function secretPaths(s: Schema<unknown>, prefix = ''): string[] {
  if (s.secret) return [prefix];
  const shape = (s as { shape?: Shape }).shape;
  if (shape === undefined) return [];
  const out: string[] = [];
  for (const [k, f] of Object.entries(shape)) {
    const inner = isOptional(f) ? f.optional : f;
    out.push(...secretPaths(inner, prefix === '' ? k : `${prefix}.${k}`));
  }
  return out;
}
