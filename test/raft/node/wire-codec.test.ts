import t from 'tap';
import { raftCodec, WireFormatError } from '../../../src/raft/node/wire-codec.js';
import type { Message } from '../../../src/raft/types.js';

const codec = raftCodec();
// Byte arrays as plain arrays, so a Buffer and a Uint8Array with the same bytes compare equal.
function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return [...x];
  if (Array.isArray(x)) return x.map(plain);
  if (typeof x === 'object' && x !== null) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]));
  return x;
}

void t.test('appends round-trip in the binary layout', (t) => {
  const m: Message = {
    type: 'app', from: 'm1', to: 'мембер-2', term: 7, index: 2 ** 40, logTerm: 6, commit: 123456789,
    entries: [
      { term: 7, index: 2 ** 40 + 1, kind: 'normal', data: new Uint8Array([1, 2, 3]) },
      { term: 7, index: 2 ** 40 + 2, kind: 'conf', data: new Uint8Array(0) },
      { term: 7, index: 2 ** 40 + 3, kind: 'noop', data: new Uint8Array(300).fill(9) },
    ],
  };
  const buf = codec.encode(m);
  t.equal(buf[0], 0x01, 'binary append');
  t.same(plain(codec.decode(buf)), plain(m));
  const empty: Message = { ...m, entries: [] };
  t.same(plain(codec.decode(codec.encode(empty))), plain(empty));
  t.end();
});

void t.test('other messages are msgpack and round-trip', (t) => {
  const msgs: Message[] = [
    { type: 'appResp', from: 'a', to: 'b', term: 3, index: 10, reject: false, rejectHint: 0, logTerm: 0 },
    { type: 'vote', from: 'a', to: 'b', term: 3, index: 10, logTerm: 2, transfer: false },
    { type: 'heartbeat', from: 'a', to: 'b', term: 3, commit: 9, readSeq: 4 },
    { type: 'snap', from: 'a', to: 'b', term: 3, snapshot: { meta: { index: 5, term: 2, conf: { voters: ['a', 'b'], learners: [] } }, data: new Uint8Array([4, 5]) } },
  ];
  for (const m of msgs) {
    const buf = codec.encode(m);
    t.not(buf[0], 0x01, `${m.type} is not tagged as an append`);
    t.same(plain(codec.decode(buf)), plain(m), m.type);
  }
  t.end();
});

void t.test('a damaged append is refused, not half-read', (t) => {
  const m: Message = { type: 'app', from: 'a', to: 'b', term: 1, index: 0, logTerm: 0, commit: 0, entries: [{ term: 1, index: 1, kind: 'normal', data: new Uint8Array(10) }] };
  const buf = codec.encode(m);
  t.throws(() => codec.decode(buf.subarray(0, buf.length - 1)), WireFormatError);
  t.throws(() => codec.decode(Buffer.concat([buf, Buffer.from([0])])), /trailing/);
  const badKind = Buffer.from(buf);
  badKind[1 + 1 + 1 + 1 + 1 + 36] = 9;
  t.throws(() => codec.decode(badKind), /unknown entry kind/);
  t.end();
});
