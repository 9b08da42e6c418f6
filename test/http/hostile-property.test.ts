// Property (fast-check) against a real member: for every Emit job type, paras with at least one field
// broken by a hostile value (wrong types, huge strings, deep nesting, control characters, numbers out
// of range), prototype keys and random extra keys, and random job types: the answer is HTTP 200 and
// JSON, never a crash or a stack-overflow text; a refusal names the job and the field; and the
// member's applied index and world digest do not move. Seeded: PROPERTY_SEED replays a failure.
import t from 'tap';
import fc from 'fast-check';
import { rmSync } from 'node:fs';
import { makeRunDir } from '../../src/launcher/index.js';
import { JOB_DEFINITIONS } from '../../src/jobs/types/index.js';

const JOB_TYPES = JOB_DEFINITIONS.served();
import type { FieldSpec } from '../../src/actors/commands/paras-spec.js';
import { MemberGroup, waitFor, type MemberProc } from '../helpers/member-group.js';

const SEED = Number(process.env.PROPERTY_SEED ?? 20261211);
const RUNS = Number(process.env.PROPERTY_RUNS ?? 60);
const dir = makeRunDir('http-hostile-property');
const group = new MemberGroup(dir, ['nats_url=']);
let member: MemberProc;

t.before(async () => {
  await group.init(1);
  group.startAll();
  member = await waitFor('the leader', async () => {
    const r = await group.fetch(group.members[0]!, '/api/v1/leader').catch(() => null);
    return r?.status === 200 ? group.members[0] : undefined;
  });
  // A new leader records itself (manager.add) just after it is elected: wait for that entry, so the
  // state compared before and after the requests moves only if a request moved it.
  await waitFor('the member recorded in the world', async () => {
    const v = (await (await group.fetch(member, '/api/v1/view')).json()) as { managers?: unknown[] };
    return (v.managers?.length ?? 0) > 0 ? true : undefined;
  });
});
t.teardown(async () => {
  await group.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer { status: string; error_code: string; error_info: string }
interface MemberState { applied: number; digest: string }

async function post(body: string): Promise<{ http: number; text: string }> {
  const res = await group.fetch(member, '/HttpService/Emit', { method: 'POST', body, headers: { 'content-type': 'text/plain' }, signal: AbortSignal.timeout(20_000) });
  return { http: res.status, text: await res.text() };
}
async function state(): Promise<MemberState> {
  const res = await group.fetch(member, '/api/v1/member');
  const m = (await res.json()) as MemberState;
  return { applied: m.applied, digest: m.digest };
}

/** Replaced in the serialized body by text nested this deep (JSON.stringify itself would overflow). */
const DEEP = '\u0000deep-marker\u0000';
const deepText = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'] as const;

/** Values no field of any kind accepts (null and "" mean "absent" and are not here). */
const neverValid: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(DEEP),
  fc.boolean(),
  fc.integer({ min: -(2 ** 53), max: -1 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)),
  fc.string({ minLength: 2000, maxLength: 6000 }),
  fc.tuple(fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom('\u0000', '\n', '\u001b')).map(([s, c]) => `${s}${c}`),
  fc.dictionary(fc.oneof(fc.string(), fc.constantFrom(...PROTO_KEYS)), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
  fc.array(fc.oneof(fc.integer(), fc.object({ maxDepth: 2 }), fc.boolean())).filter((a) => a.length > 0),
);

/** Anything JSON: hostile or not, may happen to be valid for the field. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  neverValid,
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.integer(),
  fc.constantFrom('1', '0', '-1', 'all', '99999999999999999999', '1e3', ' 1', '1.5', '10.0.0.1', '10.0.0.1_3306', 'a:1', '/data'),
  fc.constant(null),
);

/** The paras of a request to `spec`: one field surely broken, the others random, plus extra keys. */
function hostileParas(spec: Readonly<Record<string, FieldSpec>>): fc.Arbitrary<{ paras: Record<string, unknown>; broken: string | null }> {
  const fields = Object.keys(spec);
  const broken = fields.length > 0 ? fc.constantFrom(...fields) : fc.constant(null);
  const others = fc.record(Object.fromEntries(fields.map((f) => [f, anyValue])), { requiredKeys: [] });
  const extra = fc.dictionary(fc.oneof(fc.constantFrom(...PROTO_KEYS), fc.string({ maxLength: 12 })), anyValue, { maxKeys: 3 });
  return fc.tuple(broken, neverValid, others, extra).map(([b, bad, rest, more]) => {
    const paras: Record<string, unknown> = {};
    // defineProperty: `__proto__` must be an own key of the request, as JSON.parse makes it.
    const put = (k: string, v: unknown) => Object.defineProperty(paras, k, { value: v, enumerable: true, writable: true, configurable: true });
    for (const [k, v] of Object.entries(more)) put(k, v);
    for (const [k, v] of Object.entries(rest)) put(k, v);
    if (b !== null) put(b, bad);
    return { paras, broken: b };
  });
}

const CRASH = /Maximum call stack|Cannot convert undefined|is not a function|Cannot read propert|undefined or null|TypeError|RangeError/;

function checkAnswer(res: { http: number; text: string }, what: string): Answer {
  if (res.http !== 200) throw new Error(`${what}: HTTP ${res.http}: ${res.text.slice(0, 200)}`);
  const a = JSON.parse(res.text) as Answer;
  if (CRASH.test(a.error_info)) throw new Error(`${what}: a crash text: ${a.error_info.slice(0, 200)}`);
  return a;
}

t.test(`every job type: broken paras are refused naming the job and the field, nothing changes (seed ${SEED}, ${RUNS} runs each)`, async (t) => {
  const before = await state();
  let requests = 0;
  const t0 = Date.now();
  for (const [type, def] of Object.entries(JOB_TYPES)) {
    await fc.assert(
      fc.asyncProperty(hostileParas(def.paras), fc.integer({ min: 33, max: 30_000 }), async ({ paras, broken }, depth) => {
        const body = JSON.stringify({ version: '1.0', job_id: '', job_type: type, timestamp: '1', user_name: 'prop', paras }).split(JSON.stringify(DEEP)).join(deepText(depth));
        requests++;
        const a = checkAnswer(await post(body), type);
        if (broken === null) return; // no field to break: a read answers, or a refusal without a field
        if (a.status !== 'failed') throw new Error(`${type}: paras.${broken} broken, answered ${a.status}`);
        if (!a.error_info.startsWith(`${type}: paras`)) throw new Error(`${type}: the refusal does not name the job and the field: ${a.error_info.slice(0, 200)}`);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  }
  t.comment(`${requests} requests in ${Date.now() - t0} ms`);
  t.same(await state(), before, 'the applied index and the world digest did not move');
});

t.test('random job types and envelopes: answered failed (or a read), never a crash, nothing changes', async (t) => {
  const before = await state();
  const jobType = fc.oneof(fc.constantFrom(...PROTO_KEYS, '__defineGetter__', 'isPrototypeOf'), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.jsonValue({ maxDepth: 2 }));
  await fc.assert(
    fc.asyncProperty(jobType, fc.jsonValue({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 2 }), async (jt, paras, version) => {
      const a = checkAnswer(await post(JSON.stringify({ version, job_type: jt, paras })), `job_type ${JSON.stringify(jt).slice(0, 40)}`);
      const known = typeof jt === 'string' && Object.hasOwn(JOB_TYPES, jt);
      if (!known && a.status !== 'failed') throw new Error(`unknown job type ${JSON.stringify(jt)} answered ${a.status}`);
      if (!known && typeof jt === 'string' && jt !== '' && !a.error_info.includes('job_type')) throw new Error(`the refusal does not name job_type: ${a.error_info}`);
    }),
    { seed: SEED, numRuns: RUNS * 4 },
  );
  t.same(await state(), before, 'the applied index and the world digest did not move');
});
