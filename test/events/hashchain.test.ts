import t from 'tap';
import type { DomainEvent } from '../../src/events/catalog.js';
import { decodeMsgpack, encodeCanonical } from '../../src/events/canonical.js';
import { encodeEvent } from '../../src/events/codec.js';
import { chainHash, GENESIS_HASH, hashableBytes, verifyChain, type ChainRecord } from '../../src/events/hashchain.js';
import { redactRaw } from '../../src/events/redact.js';

const ev = (i: number): DomainEvent => ({
  type: 'node.status_changed',
  v: 1,
  agg: `node/${i}`,
  at: 1000 + i,
  cause: { system: 'test' },
  data: { status: i % 2 === 0 ? 'active' : 'inactive' },
});

function chain(events: DomainEvent[]): ChainRecord[] {
  let h: Uint8Array = GENESIS_HASH;
  return events.map((e, i) => {
    const bytes = encodeEvent(e);
    h = chainHash(h, hashableBytes(e.type, bytes));
    return { seq: i + 1, type: e.type, bytes, hash: Buffer.from(h).toString('hex') };
  });
}

t.test('a chain verifies, and any tampered event is reported at its position', (t) => {
  const recs = chain(Array.from({ length: 50 }, (_, i) => ev(i + 1)));
  const ok = verifyChain(recs);
  t.match(ok, { ok: true, count: 50 });
  t.equal(ok.ok && ok.head, recs[49]!.hash);
  for (const at of [0, 17, 49]) {
    const copy = recs.map((r) => ({ ...r }));
    const bytes = Buffer.from(copy[at]!.bytes);
    const obj = decodeMsgpack(bytes) as DomainEvent & { data: { status: string } };
    obj.data.status = obj.data.status === 'active' ? 'manual_stop' : 'active';
    copy[at]!.bytes = encodeCanonical(obj);
    t.match(verifyChain(copy), { ok: false, seq: at + 1 }, `tampered at ${at + 1}`);
  }
  // Rewriting the recorded hash too only moves the break to the next link.
  const copy = recs.map((r) => ({ ...r }));
  copy[10]!.bytes = encodeEvent(ev(99));
  copy[10]!.hash = chain([...recs.slice(0, 10).map((r) => decodeMsgpack(r.bytes) as DomainEvent), ev(99)])[10]!.hash;
  t.match(verifyChain(copy), { ok: false, seq: 12 });
  // Dropped events are a gap.
  t.match(verifyChain([...recs.slice(0, 5), ...recs.slice(6)]), { ok: false, seq: 7, reason: /gap/ });
  t.end();
});

t.test('events with secrets hash in redacted form, so the redacted mirror verifies', (t) => {
  const e = {
    type: 'cluster.created',
    v: 1,
    agg: 'cluster/1',
    at: 1,
    cause: { user: 'u' },
    data: { name: 'c', nickName: '', haMode: 'rbr', owner: 'abc', business: 'kunlun', maxStorageSizeGB: 1, maxConnections: 1, cpuCores: 1, innodbSizeMB: 1, dbcfg: 0, compUser: 'abc', compPassword: 'pa55' },
  } as DomainEvent;
  const stored = encodeEvent(e);
  const mirrored = encodeCanonical(redactRaw(decodeMsgpack(stored)));
  t.notMatch(Buffer.from(mirrored).toString('latin1'), /pa55/);
  t.same(hashableBytes(e.type, stored), hashableBytes(e.type, mirrored));
  const h = chainHash(GENESIS_HASH, hashableBytes(e.type, stored)).toString('hex');
  t.match(verifyChain([{ seq: 1, type: e.type, bytes: mirrored, hash: h }]), { ok: true });
  t.end();
});
