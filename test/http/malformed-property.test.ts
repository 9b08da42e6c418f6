// Property: take a valid request of any job type, break one constrained field with a value drawn from
// a pool of hostile or mistyped values (seeded, so a failure replays), and the endpoint must answer
// `failed`, name that field in error_info, and never reach the backend (nothing is written).
import t from 'tap';
import { handleEmit, type EmitBackend } from '../../src/http/emit-route.js';
import { JOB_DEFINITIONS } from '../../src/jobs/types/index.js';

const JOB_TYPES = JOB_DEFINITIONS.served();
import { HOST_RE, type FieldSpec } from '../../src/actors/commands/paras-spec.js';

const SEED = Number(process.env.PROPERTY_SEED ?? 20261125);
function mulberry32(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

let reached = 0;
const backend: EmitBackend = {
  submit: () => {
    reached++;
    return Promise.resolve({ jobId: '1' });
  },
  sync: () => {
    reached++;
    return Promise.resolve({ status: 'done' });
  },
};

/** A valid value for a field (numbers as strings half of the time, as XPanel sends them). */
function good(f: FieldSpec): unknown {
  switch (f.kind) {
    case 'int': {
      const n = Math.min(f.max, Math.max(f.min, 1));
      return rnd() < 0.5 ? n : String(n);
    }
    case 'enum':
      return f.values[0];
    case 'string':
      // The first of these the field's pattern takes (an S3 endpoint URL, an environment variable prefix …).
      return ['1', '/data/x', 'a1', '1-2', 'h:1', 'http://10.0.0.1:9000', 'A1'].find((v) => f.pattern === undefined || f.pattern.test(v)) ?? 'x';
    case 'host':
      return '10.0.0.1';
    case 'hostList':
      return ['10.0.0.1'];
    case 'stringList':
      return ['postgres.public.t1'].filter((x) => f.pattern.test(x));
    case 'ipPort':
      return '10.0.0.1_57001';
    case 'idOrAll':
      return 'all';
    case 'list':
      return [Object.fromEntries(Object.entries(f.items).flatMap(([k, sub]) => (sub.required === true || rnd() < 0.5 ? [[k, good(sub)]] : [])))];
  }
}

const HOSTILE: readonly unknown[] = [
  "'; DROP TABLE db_clusters; --",
  '$(rm -rf /)',
  '`reboot`',
  '../../etc/passwd',
  'a\nb',
  'x'.repeat(5000),
  -1,
  1.5,
  '1.5',
  '-7',
  '99999999999999999999',
  1e300,
  true,
  {},
  { $gt: '' },
  [1, 2],
  '\u0000',
];

/** Whether `v` is really invalid for the field (some hostile strings are fine free text). */
function invalidFor(f: FieldSpec, v: unknown): boolean {
  switch (f.kind) {
    case 'string':
      if (typeof v !== 'string') return true;
      if (v.length > f.maxLen || [...v].some((c) => c.charCodeAt(0) < 0x20)) return true;
      return f.pattern !== undefined && !f.pattern.test(v);
    case 'host':
      // Digit labels ("1.5") are host names; the command layer refuses hosts it does not know.
      return typeof v !== 'string' || !HOST_RE.test(v);
    case 'hostList':
      return true; // none of the pool is an array of host names
    case 'idOrAll':
      return !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
    default:
      return true;
  }
}

t.test(`a broken field is refused, named, and never reaches the backend (seed ${SEED})`, async (t) => {
  const types = Object.keys(JOB_TYPES);
  let checked = 0;
  for (let i = 0; i < 600; i++) {
    const type = pick(types);
    const spec = JOB_TYPES[type]!.paras;
    const fields = Object.keys(spec);
    if (fields.length === 0) continue;
    const paras: Record<string, unknown> = {};
    for (const [k, f] of Object.entries(spec)) if (f.required === true || rnd() < 0.5) paras[k] = good(f);
    const field = pick(fields);
    const bad = pick(HOSTILE);
    if (!invalidFor(spec[field]!, bad)) continue;
    paras[field] = bad;
    const before = reached;
    const a = await handleEmit(JSON.stringify({ version: '1.0', job_id: '', job_type: type, user_name: 'prop', paras }), backend);
    const ctx = `${type}.${field} = ${JSON.stringify(bad).slice(0, 40)}`;
    if (a.status !== 'failed' || !String(a.error_info).includes(`paras.${field}`) || reached !== before) {
      t.fail(ctx, { answer: a });
      continue;
    }
    checked++;
  }
  t.ok(checked > 300, `${checked} broken requests refused with the field named`);
  t.equal(reached, 0, 'the backend was never called');
});

t.test('the same requests unbroken reach the backend (the generator makes valid ones)', async (t) => {
  let accepted = 0;
  for (const [type, def] of Object.entries(JOB_TYPES)) {
    const paras: Record<string, unknown> = {};
    for (const [k, f] of Object.entries(def.paras)) if (f.required === true) paras[k] = good(f);
    const a = await handleEmit(JSON.stringify({ version: '1.0', job_type: type, paras }), backend);
    t.not(a.status, 'failed', `${type}: ${String(a.error_info)}`);
    accepted++;
  }
  t.equal(reached, accepted);
});
