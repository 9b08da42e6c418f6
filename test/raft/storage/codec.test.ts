import t from 'tap';
import { crc32c } from '../../../src/raft/storage/crc32c.js';
import { encodeBatch, readRecord, RecordType } from '../../../src/raft/storage/record.js';
import { describe, range } from './helpers.js';

void t.test('crc32c matches the standard check value', (t) => {
  t.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  t.equal(crc32c(Buffer.alloc(0)), 0);
  // Incremental use gives the same result as one pass.
  const b = Buffer.from('The quick brown fox jumps over the lazy dog, twice over the lazy dog');
  t.equal(crc32c(b, 20, b.length, crc32c(b, 0, 20)), crc32c(b));
  t.end();
});

void t.test('a batch decodes back to its entries and hard state', (t) => {
  const ents = range(1, 5, 3, 40);
  ents[2] = { ...ents[2]!, kind: 'conf' };
  ents[3] = { ...ents[3]!, kind: 'noop', data: new Uint8Array(0) };
  const buf = encodeBatch(ents, { term: 3, vote: 'm2', commit: 4 });
  const got = [];
  let off = 0;
  let hs = null;
  while (off < buf.length) {
    const r = readRecord(buf, off);
    if (!r.ok) throw new Error(r.reason);
    if (r.record.type === RecordType.Entry) got.push(r.record.entry);
    if (r.record.type === RecordType.HardState) hs = r.record.hardState;
    off = r.end;
  }
  t.same(describe(got), describe(ents));
  t.same(hs, { term: 3, vote: 'm2', commit: 4 });
  t.end();
});

void t.test('a null vote survives the round trip as null', (t) => {
  const buf = encodeBatch([], { term: 9, vote: null, commit: 0 });
  const r = readRecord(buf, 0);
  t.ok(r.ok);
  if (r.ok && r.record.type === RecordType.HardState) t.equal(r.record.hardState.vote, null);
  t.end();
});

void t.test('a damaged length or body is reported, a short buffer is incomplete', (t) => {
  const buf = encodeBatch(range(1, 1, 1, 30), null);
  const len = Buffer.from(buf);
  len[1] = len[1]! ^ 0x10;
  const r1 = readRecord(len, 0);
  t.match(r1, { ok: false, kind: 'invalid', reason: /length/ });
  const body = Buffer.from(buf);
  body[20] = body[20]! ^ 0x01;
  t.match(readRecord(body, 0), { ok: false, kind: 'invalid', reason: /checksum/ });
  t.match(readRecord(buf.subarray(0, buf.length - 1), 0), { ok: false, kind: 'incomplete' });
  t.match(readRecord(buf.subarray(0, 5), 0), { ok: false, kind: 'incomplete' });
  t.end();
});
