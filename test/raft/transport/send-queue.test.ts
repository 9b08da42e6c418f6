import t from 'tap';
import { SendQueue } from '../../../src/raft/transport/index.js';

const frame = (n: number, critical = false, tag = 0) => ({ payload: Buffer.alloc(n, tag), critical });

void t.test('non-critical messages are dropped once the queue is full', (t) => {
  const q = new SendQueue(1000);
  for (let i = 0; i < 9; i++) t.same(q.push(frame(96)), { accepted: true, dropped: { messages: 0, bytes: 0 } });
  t.equal(q.queuedBytes, 900);
  t.same(q.push(frame(196)), { accepted: false, dropped: { messages: 1, bytes: 200 } }, 'the new message is dropped');
  t.equal(q.length, 9);
  t.ok(q.queuedBytes <= 1000);
  t.end();
});

void t.test('a critical message evicts the oldest non-critical ones', (t) => {
  const q = new SendQueue(1000);
  q.push(frame(96, true, 1));
  for (let i = 0; i < 8; i++) q.push(frame(96, false, 2 + i));
  const d = q.push(frame(296, true, 99));
  t.same(d, { accepted: true, dropped: { messages: 2, bytes: 200 } });
  const order: number[] = [];
  for (let f = q.shift(); f; f = q.shift()) order.push(f.payload[0]!);
  t.same(order, [1, 4, 5, 6, 7, 8, 9, 99], 'the critical one stays, the two oldest non-critical are gone');
  t.equal(q.queuedBytes, 0);
  t.end();
});

void t.test('with only critical messages queued, the oldest critical ones go', (t) => {
  const q = new SendQueue(300);
  q.push(frame(96, true, 1));
  q.push(frame(96, true, 2));
  q.push(frame(96, true, 3));
  q.push(frame(96, true, 4));
  const order: number[] = [];
  for (let f = q.shift(); f; f = q.shift()) order.push(f.payload[0]!);
  t.same(order, [2, 3, 4]);
  t.end();
});

void t.test('one oversized message passes through an empty queue', (t) => {
  const q = new SendQueue(100);
  t.same(q.push(frame(5000)), { accepted: true, dropped: { messages: 0, bytes: 0 } });
  t.same(q.push(frame(10)), { accepted: false, dropped: { messages: 1, bytes: 14 } });
  t.equal(q.shift()?.payload.length, 5000);
  t.end();
});

void t.test('shifting many items keeps accounting exact', (t) => {
  const q = new SendQueue(10_000_000);
  for (let i = 0; i < 5000; i++) q.push(frame(i % 50));
  let n = 0;
  while (q.shift()) n++;
  t.equal(n, 5000);
  t.equal(q.queuedBytes, 0);
  t.equal(q.length, 0);
  t.end();
});
