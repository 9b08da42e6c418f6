// The JSON depth check that runs before anything recursive walks a request, and setOwn, which copies
// a `__proto__` key as data instead of replacing an object's prototype.
import t from 'tap';
import { MAX_JSON_DEPTH, setOwn, tooDeepAt, tooDeepReason } from '../../src/events/json-limits.js';
import { canonicalize } from '../../src/events/canonical.js';

const nest = (depth: number): unknown => JSON.parse(`${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`);

t.test('depth: at the limit passes, one deeper names the path', (t) => {
  t.equal(tooDeepAt(nest(MAX_JSON_DEPTH)), null);
  t.equal(tooDeepAt({ paras: { list: [1, 'x', { ok: true }] } }), null);
  t.equal(tooDeepAt(nest(MAX_JSON_DEPTH + 1)), Array<string>(MAX_JSON_DEPTH).fill('a').join('.'));
  t.equal(tooDeepAt({ paras: { x: [[[[1]]]] } }, 4), 'paras.x[0][0]');
  t.equal(tooDeepAt([[[]]], 2), '[0][0]', 'an array root: the path starts at the index');
  t.equal(tooDeepReason('paras.x[0]'), `paras.x[0]: JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  t.end();
});

t.test('depth: a million levels neither overflows the stack nor takes long', (t) => {
  const deep = JSON.parse(`${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`) as unknown;
  const t0 = Date.now();
  t.match(tooDeepAt({ paras: { f: deep } }), /^paras\.f(\[0\])+…?$/);
  t.ok(Date.now() - t0 < 1000, 'stops at the first value beyond the limit');
  t.end();
});

t.test('setOwn keeps __proto__ as data; canonicalize keeps it too', (t) => {
  const out: Record<string, unknown> = {};
  setOwn(out, '__proto__', { polluted: true });
  setOwn(out, 'b', 1);
  t.equal(Object.getPrototypeOf(out), Object.prototype, 'the prototype is unchanged');
  t.same(Object.keys(out), ['__proto__', 'b']);
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched');
  const parsed = JSON.parse('{"__proto__":{"x":1},"a":2}') as unknown;
  t.equal(JSON.stringify(canonicalize(parsed)), '{"__proto__":{"x":1},"a":2}');
  t.end();
});
