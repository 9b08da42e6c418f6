import t from 'tap';
import { catalog, EVENT_TYPES, SECRET_PATHS, type DomainEvent } from '../../src/events/catalog.js';
import { decodeMsgpack, encodeCanonical, isCanonical, canonicalize, CanonicalError } from '../../src/events/canonical.js';
import { decodeBatch, decodeEvent, DecodeError, encodeBatch, encodeBatchRaw, encodeEvent, splitBatch } from '../../src/events/codec.js';
import { parseAgg } from '../../src/events/envelope.js';
import { redactEvent, REDACTED } from '../../src/events/redact.js';
import { checkEvent } from '../../src/events/validate.js';

const health: DomainEvent = {
  type: 'node.health_changed',
  v: 1,
  agg: 'node/21',
  at: 1_764_000_000_123,
  cause: { system: 'probe' },
  data: { health: 'dead', evidence: { observer: 'm1', summary: '3 probes failed', facts: { errno: 2003, since: 1_764_000_000_000 } } },
};

const created: DomainEvent = {
  type: 'cluster.created',
  v: 1,
  agg: 'cluster/3',
  at: 1_764_000_000_000,
  cause: { user: 'kunlun_test', job: 7 },
  data: {
    name: 'cluster_1764000000_000003',
    nickName: 'c1',
    haMode: 'rbr',
    owner: 'abc',
    business: 'kunlun',
    maxStorageSizeGB: 20,
    maxConnections: 6,
    cpuCores: 8,
    innodbSizeMB: 128,
    dbcfg: 0,
    compUser: 'abc',
    compPassword: 'pa55',
  },
};

t.test('aggregate ids', (t) => {
  t.same(parseAgg('cluster/3'), { kind: 'cluster', key: 3 });
  t.same(parseAgg('machine/10.0.0.5'), { kind: 'machine', key: '10.0.0.5' });
  t.same(parseAgg('manager/m1'), { kind: 'manager', key: 'm1' });
  for (const kind of ['cluster', 'shard', 'node', 'comp', 'job'] as const) {
    t.same(parseAgg(`${kind}/2147483647`), { kind, key: 2147483647 }, kind);
  }
  // Near misses of every kind's name (same length, same first letters) are not aggregate ids.
  const near = ['clustex/1', 'xluster/1', 'shars/1', 'nodx/1', 'xode/1', 'comx/1', 'jox/1', 'machinx/1', 'managex/m1', 'mxnager/m1'];
  for (const bad of [...near, 'cluster/03', 'cluster/0', 'cluster/-1', 'cluster/x', 'cluster/', '/3', 'nope/3', 'cluster/99999999999', 'cluster/2147483648', 'machine/ bad', 'cluster3', 'node/1/2']) {
    t.equal(parseAgg(bad), null, bad);
  }
  t.end();
});

t.test('an event round-trips through canonical bytes', (t) => {
  const bytes = encodeEvent(health);
  t.ok(isCanonical(bytes));
  t.same(decodeEvent(bytes), health);
  // Key order of the input does not matter: the bytes are the same.
  const shuffled = { data: health.data, cause: health.cause, at: health.at, agg: health.agg, v: health.v, type: health.type } as DomainEvent;
  t.same(encodeEvent(shuffled), bytes);
  t.notOk(isCanonical(Buffer.from([0x82, 0xa1, 0x62, 0x01, 0xa1, 0x61, 0x02])), '{b,a} is not canonical');
  t.throws(() => canonicalize({ a: undefined }), { name: 'CanonicalError', message: /\$\.a: undefined/ });
  t.throws(() => canonicalize({ a: NaN }), { name: 'CanonicalError', message: /non-finite/ });
  t.throws(() => canonicalize(new Map()), { name: 'CanonicalError', message: /not a plain object/ });
  t.ok(new CanonicalError('x') instanceof Error);
  t.end();
});

t.test('validation refuses what does not fit the catalog', (t) => {
  const bad = (patch: Record<string, unknown>) => checkEvent({ ...health, ...patch });
  t.match(bad({ type: 'node.exploded' }), { ok: false, reason: /unknown event type/ });
  t.match(bad({ agg: 'shard/21' }), { ok: false, reason: /belongs to a node/ });
  t.match(bad({ agg: 'node/021' }), { ok: false, reason: /malformed aggregate/ });
  t.match(bad({ at: -1 }), { ok: false, reason: /event\.at/ });
  t.match(bad({ at: 1.5 }), { ok: false, reason: /event\.at/ });
  t.match(bad({ v: 2 }), { ok: false, reason: /versions 1\.\.1/ });
  t.match(bad({ cause: { who: 'x' } }), { ok: false, reason: /cause/ });
  t.match(bad({ cause: { user: '' } }), { ok: false, reason: /cause\.user/ });
  t.match(bad({ extra: 1 }), { ok: false, reason: /event\.extra: unknown field/ });
  t.match(bad({ data: { ...health.data, health: 'sleepy' } }), { ok: false, reason: /event\.data\.health/ });
  t.match(bad({ data: { health: 'dead' } }), { ok: false, reason: /evidence: missing/ });
  t.throws(() => encodeEvent({ ...health, data: { health: 'sleepy' } } as unknown as DomainEvent), { name: 'DecodeError' });
  t.throws(() => decodeEvent(Buffer.from([0x92, 0x01])), /not MessagePack/);
  t.throws(() => decodeEvent(encodeCanonical([1, 2])), /expected object/);
  t.end();
});

t.test('every catalog entry has a kind matching its type prefix and a consistent version history', (t) => {
  for (const type of EVENT_TYPES) {
    const def = catalog[type];
    t.equal(type.split('.')[0], def.kind, type);
    t.equal(def.v, def.past.length + 1, `${type} version`);
    def.past.forEach((p, i) => t.equal(p.v, i + 1, `${type} past[${i}]`));
  }
  t.end();
});

t.test('upcasting: shard.primary_changed v1 reads as v2 with term 0', (t) => {
  const v1 = { type: 'shard.primary_changed', v: 1, agg: 'shard/7', at: 5, cause: { system: 'ha' }, data: { node: 21, prev: 20 } };
  const bytes = encodeCanonical(v1);
  const e = decodeEvent(bytes);
  t.equal(e.v, 2);
  t.same(e.data, { node: 21, prev: 20, term: 0 });
  // The v1 schema is still enforced for v1 data: v1 never had `term`.
  t.match(checkEvent({ ...v1, data: { node: 21, prev: 20, term: 3 } }), { ok: false, reason: /v1.*term: unknown field/ });
  // A current-version event needs the new field.
  t.match(checkEvent({ ...v1, v: 2 }), { ok: false, reason: /term: missing/ });
  // The leader never writes an old version.
  t.throws(() => encodeEvent({ ...v1, v: 1 } as unknown as DomainEvent), /old version/);
  // Old and new versions mix in a batch; the stored bytes stay the v1 bytes.
  const batch = encodeBatchRaw([bytes, encodeEvent(health)]);
  const d = decodeBatch(batch);
  t.equal(d.events[0]!.v, 2);
  t.same(d.raws[0], bytes);
  t.end();
});

t.test('batches', (t) => {
  const bytes = encodeBatch([health, created]);
  const d = decodeBatch(bytes);
  t.same(d.events, [health, created]);
  t.same(d.raws.map((r) => Buffer.from(r)), [Buffer.from(encodeEvent(health)), Buffer.from(encodeEvent(created))]);
  t.equal(splitBatch(bytes).length, 2);
  t.throws(() => encodeBatch([]), /empty batch/);
  // A bad event is reported with its position.
  const badSecond = encodeBatchRaw([encodeEvent(health), encodeCanonical({ ...health, type: 'node.nope' })]);
  const err = (() => {
    try {
      decodeBatch(badSecond);
    } catch (e) {
      return e;
    }
    return null;
  })();
  t.ok(err instanceof DecodeError);
  t.match(err, { pos: 1, message: /event 1: .*unknown event type/ });
  // Truncated or padded entries are refused by the header count.
  t.throws(() => decodeBatch(bytes.subarray(0, bytes.length - 3)), { name: 'DecodeError' });
  t.throws(() => decodeBatch(Buffer.concat([bytes, encodeEvent(health)])), /header says 2 events, found 3/);
  t.throws(() => decodeBatch(encodeCanonical([2, 1])), /header/);
  t.throws(() => decodeBatch(Buffer.from('not msgpack at all')), { name: 'DecodeError' });
  t.end();
});

t.test('secrets are marked and redacted', (t) => {
  t.same(SECRET_PATHS.get('cluster.created'), ['compPassword']);
  t.same(SECRET_PATHS.get('cluster.adopted'), ['compPassword']);
  t.notOk(SECRET_PATHS.has('node.added'));
  const r = redactEvent(created);
  t.equal((r.data as { compPassword: string }).compPassword, REDACTED);
  t.equal((created.data as { compPassword: string }).compPassword, 'pa55', 'the original is untouched');
  t.notMatch(JSON.stringify(r), /pa55/);
  t.same(redactEvent(health), health, 'events without secrets are unchanged');
  const adopted = { type: 'cluster.adopted', v: 1, agg: 'cluster/1', at: 1, cause: { system: 'adopt' }, data: { name: 'c', nickName: '', haMode: 'rbr', owner: '', business: '', memo: null, compUser: null, compPassword: null } } as DomainEvent;
  t.same(redactEvent(adopted), adopted, 'a null secret stays null');
  t.same(decodeMsgpack(encodeCanonical(r)), r);
  t.end();
});
