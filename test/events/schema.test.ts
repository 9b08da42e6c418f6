import t from 'tap';
import { arr, bool, int, json, nullable, obj, oneOf, opt, rec, scalar, secret, secretPaths, str } from '../../src/events/schema.js';

t.test('scalars', (t) => {
  t.equal(str({ min: 1, max: 3 }).check('ab', 'x'), null);
  t.match(str({ min: 1 }).check('', 'x'), /x: shorter than 1/);
  t.match(str({ max: 3 }).check('abcd', 'x'), /longer than 3/);
  t.match(str({ pattern: /^a+$/ }).check('ab', 'x'), /does not match/);
  t.match(str().check(5, 'x'), /expected string, got number/);
  t.equal(int({ min: 1, max: 9 }).check(9, 'n'), null);
  t.match(int({ min: 1 }).check(0, 'n'), /out of range/);
  t.match(int().check(1.5, 'n'), /expected integer/);
  t.match(int().check(2 ** 60, 'n'), /expected integer/);
  t.equal(bool().check(false, 'b'), null);
  t.match(bool().check(0, 'b'), /expected boolean/);
  t.equal(oneOf(['a', 'b'] as const).check('b', 'e'), null);
  t.match(oneOf(['a', 'b'] as const).check('c', 'e'), /one of a\|b/);
  t.equal(nullable(int()).check(null, 'n'), null);
  t.equal(scalar().check(null, 's'), null);
  t.match(scalar().check({}, 's'), /expected scalar/);
  t.match(scalar().check(NaN, 's'), /finite/);
  t.end();
});

t.test('objects are closed, optional keys may be absent but not undefined', (t) => {
  const s = obj({ a: int(), b: opt(str()) });
  t.equal(s.check({ a: 1 }, 'd'), null);
  t.equal(s.check({ a: 1, b: 'x' }, 'd'), null);
  t.match(s.check({ a: 1, c: 2 }, 'd'), /d\.c: unknown field/);
  t.match(s.check({ b: 'x' }, 'd'), /d\.a: missing/);
  t.match(s.check({ a: 1, b: undefined }, 'd'), /undefined/);
  t.match(s.check([1], 'd'), /expected object, got array/);
  t.match(s.check({ a: 'x' }, 'd'), /d\.a: expected integer/);
  t.end();
});

t.test('arrays, records, json', (t) => {
  t.equal(arr(int(), { max: 2 }).check([1, 2], 'a'), null);
  t.match(arr(int(), { max: 2 }).check([1, 2, 3], 'a'), /more than 2/);
  t.match(arr(int()).check([1, 'x'], 'a'), /a\[1\]: expected integer/);
  t.equal(rec(scalar()).check({ errno: 2003, ok: false }, 'f'), null);
  t.match(rec(scalar()).check({ 'bad key': 1 }, 'f'), /bad key/);
  t.equal(json().check({ a: [1, { b: null }], c: 'x' }, 'j'), null);
  t.match(json().check({ a: undefined }, 'j'), /undefined/);
  t.match(json({ maxDepth: 2 }).check({ a: { b: { c: 1 } } }, 'j'), /deeper/);
  t.match(json().check({ a: new Date() }, 'j'), /not JSON/);
  t.end();
});

t.test('secret paths are found through objects, optional and nullable fields', (t) => {
  const s = obj({ user: str(), pw: secret(str()), inner: opt(obj({ key: nullable(secret(str())) })) });
  t.same(secretPaths(s), ['pw', 'inner.key']);
  t.match(s.doc(), /user, pw, inner\?/);
  t.end();
});
