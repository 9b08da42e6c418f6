import net from 'node:net';
import { Packr } from 'msgpackr';
import t from 'tap';
import { frameHeader, PROTOCOL_VERSION, TcpTransport, type TcpTransportOptions } from '../../../src/raft/transport/index.js';
import type { RaftLogger } from '../../../src/raft/storage/index.js';
import { setTimeout as sleep } from 'node:timers/promises';

interface Msg {
  type: string;
  n: number;
  data?: Uint8Array;
}

const packr = new Packr({ useRecords: false });
const LOOPBACK = '127.0.0.1';

function capture(): { logger: RaftLogger; lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> } {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => lines.push({ level, obj, msg });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

function node(
  t: Tap,
  id: string,
  inbox: Array<{ from: string; msg: Msg }>,
  extra: Partial<TcpTransportOptions<Msg>> = {},
): TcpTransport<Msg> {
  const tr = new TcpTransport<Msg>({
    id,
    clusterId: 'test-cluster',
    listen: { host: LOOPBACK, port: 0 },
    onMessage: (from, msg) => inbox.push({ from, msg }),
    backoffMinMs: 20,
    backoffMaxMs: 200,
    ...extra,
  });
  t.teardown(() => tr.stop());
  return tr;
}

interface Tap {
  teardown: (fn: () => unknown) => void;
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

void t.test('messages round-trip both ways, in order, with binary payloads', async (t) => {
  const inA: Array<{ from: string; msg: Msg }> = [];
  const inB: Array<{ from: string; msg: Msg }> = [];
  const a = node(t, 'a', inA);
  const b = node(t, 'b', inB);
  const pa = await a.start();
  const pb = await b.start();
  a.addPeer('b', { host: LOOPBACK, port: pb });
  b.addPeer('a', { host: LOOPBACK, port: pa });
  for (let i = 0; i < 500; i++) a.send('b', { type: 'app', n: i, data: new Uint8Array([i & 0xff, 1, 2]) });
  b.send('a', { type: 'resp', n: 7 });
  await until('500 messages at b', () => inB.length === 500);
  await until('reply at a', () => inA.length === 1);
  t.same(inB.map((x) => x.msg.n), [...Array(500).keys()], 'order kept');
  t.ok(inB.every((x) => x.from === 'a'));
  t.same([...(inB[3]!.msg.data ?? [])], [3, 1, 2]);
  t.same(inA[0], { from: 'b', msg: { type: 'resp', n: 7 } });
  const m = a.metrics();
  t.equal(m.sent, 500);
  t.equal(m.dropped, 0);
  t.equal(b.metrics().received, 500);
  t.equal(m.peers.b?.connected, true);
});

void t.test('a peer that restarts is redialed and queued messages are delivered', async (t) => {
  const inB: Array<{ from: string; msg: Msg }> = [];
  const a = node(t, 'a', []);
  let b = node(t, 'b', inB);
  await a.start();
  const pb = await b.start();
  let ups = 0;
  let downs = 0;
  const a2 = node(t, 'a2', [], { onPeerUp: () => ups++, onPeerDown: () => downs++ });
  await a2.start();
  a2.addPeer('b', { host: LOOPBACK, port: pb });
  a2.send('b', { type: 'x', n: 1 });
  await until('first message', () => inB.length === 1);
  await b.stop();
  await until('link down', () => downs === 1);
  a2.send('b', { type: 'x', n: 2 });
  a2.send('b', { type: 'x', n: 3 });
  await sleep(150); // a few failed redials
  b = node(t, 'b', inB, { listen: { host: LOOPBACK, port: pb } });
  await b.start();
  await until('queued messages after restart', () => inB.length === 3);
  t.same(inB.map((x) => x.msg.n), [1, 2, 3]);
  const pm = a2.metrics().peers.b!;
  t.equal(pm.reconnects, 1);
  t.ok(pm.connectFailures >= 1, `failed redials counted (${pm.connectFailures})`);
  t.equal(ups, 2);
});

void t.test('a paused peer cannot grow the sender without bound', async (t) => {
  // A listener that completes the handshake and then stops reading, like a stopped process.
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.once('data', () => {
      const w = packr.pack({ t: 'welcome' });
      s.write(Buffer.concat([frameHeader(w.length), w]));
      s.pause();
    });
  });
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const port = (server.address() as net.AddressInfo).port;
  const a = node(t, 'a', [], {
    maxQueueBytes: 1024 * 1024,
    socketHighWater: 256 * 1024,
  });
  await a.start();
  a.addPeer('slow', { host: LOOPBACK, port });
  await until('connected', () => a.metrics().peers.slow?.connected === true);
  const before = process.memoryUsage();
  const blob = new Uint8Array(64 * 1024);
  for (let i = 0; i < 3000; i++) {
    a.send('slow', { type: 'append', n: i, data: blob });
    if (i % 100 === 0) await new Promise((r) => setImmediate(r));
  }
  await sleep(50);
  const pm = a.metrics().peers.slow!;
  const grown = process.memoryUsage().rss - before.rss;
  t.ok(pm.queuedBytes <= 1024 * 1024, `queue within its limit (${pm.queuedBytes})`);
  t.ok(pm.dropped > 2500, `most appends dropped (${pm.dropped} of 3000)`);
  t.ok(pm.sentBytes < 40 * 1024 * 1024, `only what the socket took was written (${pm.sentBytes} bytes)`);
  t.ok(grown < 100 * 1024 * 1024, `memory grew ${Math.round(grown / 1e6)} MB for 196 MB offered`);
  t.equal(pm.connected, true, 'the link stays up; only the queue overflowed');
});

void t.test('malformed input closes the connection with a logged reason', async (t) => {
  const log = capture();
  const inA: Array<{ from: string; msg: Msg }> = [];
  const a = node(t, 'a', inA, { logger: log.logger, maxFrameBytes: 1024 });
  const port = await a.start();

  async function rawSession(frames: Buffer[]): Promise<Buffer> {
    const s = net.connect(port, LOOPBACK);
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    await new Promise<void>((r) => s.once('connect', () => r()));
    for (const f of frames) s.write(f);
    await new Promise<void>((r) => s.once('close', () => r()));
    return Buffer.concat(got);
  }
  const frame = (payload: Buffer) => Buffer.concat([frameHeader(payload.length), payload]);
  const hello = (over: Record<string, unknown> = {}) =>
    frame(packr.pack({ t: 'hello', v: PROTOCOL_VERSION, cluster: 'test-cluster', from: 'x', to: 'a', nonce: Buffer.alloc(32, 7), ...over }));

  // 0xc1 is the one byte msgpack never uses.
  await rawSession([hello(), frame(packr.pack({ type: 'ok', n: 1 })), frame(Buffer.from([0xc1, 0xc1]))]);
  t.equal(inA.length, 1, 'the good message before the bad frame was delivered');
  t.ok(log.lines.some((l) => l.level === 'warn' && /undecodable frame/.test(String(l.obj.reason))), 'undecodable frame logged');

  const big = Buffer.alloc(4);
  big.writeUInt32BE(1_000_000, 0);
  await rawSession([hello(), big]);
  t.ok(log.lines.some((l) => /exceeds the \d+-byte limit/.test(String(l.obj.reason))), "oversized frame logged");

  await rawSession([frame(packr.pack({ type: 'app', n: 1 }))]);
  t.ok(log.lines.some((l) => /not a handshake/.test(String(l.obj.reason))), 'missing handshake logged');

  const reply = await rawSession([hello({ cluster: 'other' })]);
  t.match(String((packr.unpack(reply.subarray(4)) as { reason: string }).reason), /cluster id "other" is not "test-cluster"/, 'the dialer is told why');
  t.ok(log.lines.some((l) => /handshake rejected: cluster id/.test(String(l.obj.reason))), 'rejection logged');

  await rawSession([hello({ to: 'b' })]);
  t.ok(log.lines.some((l) => /this member is "a", not "b"/.test(String(l.obj.reason))), 'wrong recipient logged');
  const m = a.metrics();
  t.equal(m.malformedFrames, 3);
  t.equal(m.rejectedConnections, 2);
  t.equal(inA.length, 1);
});

void t.test('a dialer rejected by the listener logs the reason and keeps retrying', async (t) => {
  const log = capture();
  const b = node(t, 'b', [], { clusterId: 'other-cluster' });
  const pb = await b.start();
  const a = node(t, 'a', [], { logger: log.logger });
  await a.start();
  a.addPeer('b', { host: LOOPBACK, port: pb });
  await until('two rejections', () => log.lines.filter((l) => /rejected our handshake/.test(l.msg)).length >= 2);
  t.match(String(log.lines.find((l) => /rejected/.test(l.msg))?.obj.reason), /cluster id/);
  t.equal(a.metrics().peers.b?.connected, false);
});

void t.test('a message above maxFrameBytes is not sent: the sender says why, once a minute per peer', async (t) => {
  const log = capture();
  const inB: Array<{ from: string; msg: Msg }> = [];
  const a = node(t, 'a', [], { logger: log.logger, maxFrameBytes: 4096 });
  const b = node(t, 'b', inB, { maxFrameBytes: 4096 });
  await a.start();
  const pb = await b.start();
  a.addPeer('b', { host: LOOPBACK, port: pb });
  t.equal(a.send('b', { type: 'snap', n: 1, data: new Uint8Array(8192) }), false, 'the oversized snapshot is refused at the sender');
  t.equal(a.send('b', { type: 'snap', n: 2, data: new Uint8Array(8192) }), false);
  t.equal(a.send('b', { type: 'app', n: 3, data: new Uint8Array(100) }), true, 'a message under the limit goes');
  await until('the small message at b', () => inB.length === 1);
  t.same(inB.map((x) => x.msg.n), [3], 'only the small message arrived (the connection was not dropped)');
  const errors = log.lines.filter((l) => l.level === 'error' && /raft_max_message_mb/.test(l.msg));
  t.equal(errors.length, 1, 'one error line for two refusals');
  t.match(errors[0]!.obj, { to: 'b', limit: 4096 });
});
