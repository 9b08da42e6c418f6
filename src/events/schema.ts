// Small runtime validators whose TypeScript types are inferred, so the catalog is written once and is
// both the compile-time union and the decode-time check. No dependency: the hot replay path calls
// these for every event, and closures over plain checks are cheap.

/** A validator: `check` returns null when `x` is valid, otherwise a message naming the path. */
export interface Schema<T> {
  readonly _t?: T;
  /** Marks values that must never leave the manager in clear (redaction, audit output). */
  readonly secret: boolean;
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

function make<T>(check: (x: unknown, path: string) => string | null, doc: () => string): Schema<T> {
  return { secret: false, check, doc };
}

const typeName = (x: unknown): string => (x === null ? 'null' : Array.isArray(x) ? 'array' : typeof x);

export function str(opts: { min?: number; max?: number; pattern?: RegExp } = {}): Schema<string> {
  const min = opts.min ?? 0;
  const max = opts.max ?? 4096;
  const re = opts.pattern;
  return make(
    (x, p) => {
      if (typeof x !== 'string') return `${p}: expected string, got ${typeName(x)}`;
      if (x.length < min) return `${p}: shorter than ${min}`;
      if (x.length > max) return `${p}: longer than ${max}`;
      if (re !== undefined && !re.test(x)) return `${p}: does not match ${String(re)}`;
      return null;
    },
    () => (re !== undefined ? `string ${String(re)}` : min > 0 ? `string (${min}..${max})` : 'string'),
  );
}

export function int(opts: { min?: number; max?: number } = {}): Schema<number> {
  const min = opts.min ?? Number.MIN_SAFE_INTEGER;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  return make(
    (x, p) => {
      if (typeof x !== 'number' || !Number.isSafeInteger(x)) return `${p}: expected integer, got ${typeName(x)}`;
      if (x < min || x > max) return `${p}: ${x} out of range ${min}..${max}`;
      return null;
    },
    () => (opts.min !== undefined || opts.max !== undefined ? `int ${opts.min ?? ''}..${opts.max ?? ''}` : 'int'),
  );
}

export function bool(): Schema<boolean> {
  return make(
    (x, p) => (typeof x === 'boolean' ? null : `${p}: expected boolean, got ${typeName(x)}`),
    () => 'boolean',
  );
}

export function oneOf<const V extends readonly string[]>(values: V): Schema<V[number]> {
  const set = new Set<string>(values);
  return make(
    (x, p) => (typeof x === 'string' && set.has(x) ? null : `${p}: expected one of ${values.join('|')}`),
    () => values.map((v) => `'${v}'`).join(' \\| '),
  );
}

export function nullable<T>(s: Schema<T>): Schema<T | null> {
  return {
    secret: s.secret,
    check: (x, p) => (x === null ? null : s.check(x, p)),
    doc: () => `${s.doc()} \\| null`,
  };
}

export function arr<T>(s: Schema<T>, opts: { max?: number } = {}): Schema<T[]> {
  const max = opts.max ?? 10_000;
  return make(
    (x, p) => {
      if (!Array.isArray(x)) return `${p}: expected array, got ${typeName(x)}`;
      if (x.length > max) return `${p}: more than ${max} items`;
      for (let i = 0; i < x.length; i++) {
        const e = s.check(x[i], `${p}[${i}]`);
        if (e !== null) return e;
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
  const known = new Set(keys);
  const schema = make<InferShape<S>>(
    (x, p) => {
      if (!isPlainObject(x)) return `${p}: expected object, got ${typeName(x)}`;
      let n = 0;
      for (const k in x) {
        if (!known.has(k)) return `${p}.${k}: unknown field`;
        n++;
      }
      let present = 0;
      for (const k of keys) {
        const s = shape[k]!;
        const v = x[k];
        if (isOptional(s)) {
          if (v === undefined) continue;
          present++;
          const e = s.optional.check(v, `${p}.${k}`);
          if (e !== null) return e;
        } else {
          if (v === undefined) return `${p}.${k}: missing`;
          present++;
          const e = s.check(v, `${p}.${k}`);
          if (e !== null) return e;
        }
      }
      // A key whose value is undefined counts in `n` but not in `present`.
      if (present !== n) return `${p}: undefined field value`;
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
    (x, p) => {
      if (!isPlainObject(x)) return `${p}: expected object, got ${typeName(x)}`;
      let n = 0;
      for (const k in x) {
        if (++n > maxKeys) return `${p}: more than ${maxKeys} keys`;
        if (!keyRe.test(k)) return `${p}: bad key ${JSON.stringify(k)}`;
        const e = s.check(x[k], `${p}.${k}`);
        if (e !== null) return e;
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
    (x, p) => {
      if (x === null || typeof x === 'boolean') return null;
      if (typeof x === 'string') return x.length <= 4096 ? null : `${p}: string too long`;
      if (typeof x === 'number') return Number.isFinite(x) ? null : `${p}: not a finite number`;
      return `${p}: expected scalar, got ${typeName(x)}`;
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
    (x, p) => {
      let nodes = 0;
      const walk = (v: unknown, path: string, depth: number): string | null => {
        if (++nodes > maxNodes) return `${p}: more than ${maxNodes} values`;
        if (depth > maxDepth) return `${path}: nested deeper than ${maxDepth}`;
        if (v === null || typeof v === 'boolean') return null;
        if (typeof v === 'string') return v.length <= 65536 ? null : `${path}: string too long`;
        if (typeof v === 'number') return Number.isFinite(v) ? null : `${path}: not a finite number`;
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) {
            const e = walk(v[i], `${path}[${i}]`, depth + 1);
            if (e !== null) return e;
          }
          return null;
        }
        if (isPlainObject(v)) {
          for (const k in v) {
            if (v[k] === undefined) return `${path}.${k}: undefined`;
            const e = walk(v[k], `${path}.${k}`, depth + 1);
            if (e !== null) return e;
          }
          return null;
        }
        return `${path}: not JSON (${typeName(v)})`;
      };
      return walk(x, p, 0);
    },
    () => 'json',
  );
}

/** Marks a field as secret: kept in the log (the manager needs it) but redacted everywhere else. */
export function secret<T>(s: Schema<T>): Schema<T> {
  return { ...s, secret: true, doc: () => `${s.doc()} (secret)` };
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
