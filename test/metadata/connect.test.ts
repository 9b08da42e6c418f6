// connectWritableMeta against real MariaDB servers: the writable seed is found whatever its place in
// meta_group_seeds; a lone seed is taken read-only or not; none writable names every seed and why.
// probeMetaNode: each node's role, and a node that does not answer reported within the deadline.
import t from 'tap';
import { createServer, type Socket } from 'node:net';
import type { RowDataPacket } from 'mysql2/promise';
import { freePort } from '../../src/launcher/index.js';
import { connectWritableMeta, type MetaConnectOptions } from '../../src/metadata/index.js';
import { probeMetaNode } from '../../src/metadata/connect.js';
import { ADMIN, startMetaServer, type MetaServer } from './fixtures.js';

let a: MetaServer;
let b: MetaServer;
t.before(async () => {
  [a, b] = await Promise.all([startMetaServer('meta-connect-a'), startMetaServer('meta-connect-b')]);
  const c = await a.connect();
  await c.query('SET GLOBAL read_only = ON'); // a is a replica now, b the writable node
  await c.end();
});
t.teardown(async () => {
  await Promise.all([a?.destroy(), b?.destroy()]);
});

const seed = (m: MetaServer) => ({ host: m.server.host, port: m.server.port });
const opts = (seeds: MetaConnectOptions['seeds']): MetaConnectOptions => ({ seeds, ...ADMIN, connectTimeoutMs: 2_000 });

async function serverPort(o: MetaConnectOptions): Promise<number> {
  const c = await connectWritableMeta(o);
  try {
    const [rows] = await c.query<RowDataPacket[]>('SELECT @@port AS p');
    return Number(rows[0]!.p);
  } finally {
    await c.end();
  }
}

void t.test('the writable node is chosen, passing over dead and read-only seeds', async (t) => {
  const dead = { host: '127.0.0.1', port: await freePort() };
  t.equal(await serverPort(opts([dead, seed(a), seed(b)])), b.server.port, 'b, the only writable one');
  t.equal(await serverPort(opts([seed(b), seed(a)])), b.server.port, 'b also when it comes first');
});

void t.test('a lone seed is taken even when read-only', async (t) => {
  t.equal(await serverPort(opts([seed(a)])), a.server.port);
});

void t.test('no writable node: the error names each seed and the reason', async (t) => {
  const dead = { host: '127.0.0.1', port: await freePort() };
  await t.rejects(
    connectWritableMeta(opts([seed(a), dead])),
    new RegExp(`no writable metadata node among meta_group_seeds \\(127\\.0\\.0\\.1:${a.server.port} is read-only; 127\\.0\\.0\\.1:${dead.port}: .*ECONNREFUSED`),
  );
  await t.rejects(connectWritableMeta(opts([])), /no writable metadata node among meta_group_seeds \(none configured\)/);
  const ac = new AbortController();
  ac.abort(new Error('leadership lost'));
  await t.rejects(connectWritableMeta(opts([seed(b)]), ac.signal), /leadership lost/, 'an aborted signal stops before connecting');
});

void t.test('probeMetaNode: read-only, writable, refused, and a node that never answers within the deadline', async (t) => {
  const o = { ...ADMIN, connectTimeoutMs: 2_000, deadlineMs: 1_500 };
  const ra = await probeMetaNode(seed(a), { ...o, mode: true });
  t.same([ra.online, ra.readOnly, ra.error], [true, true, null], 'a answers, read-only');
  const rb = await probeMetaNode(seed(b), o);
  t.same([rb.online, rb.readOnly, rb.mode], [true, false, null], 'b answers, writable; meta_ha_mode not asked');
  const dead = { host: '127.0.0.1', port: await freePort() };
  const rd = await probeMetaNode(dead, o);
  t.same([rd.online, rd.readOnly], [false, null]);
  t.match(rd.error?.message, /ECONNREFUSED/, 'refused');
  // Accepts the TCP connection and never sends the server greeting (a stopped server looks like this).
  const sockets: Socket[] = [];
  const mute = createServer((sock) => void sockets.push(sock));
  await new Promise<void>((res) => mute.listen(0, '127.0.0.1', res));
  const port = (mute.address() as { port: number }).port;
  const t0 = Date.now();
  const rm = await probeMetaNode({ host: '127.0.0.1', port }, { ...o, deadlineMs: 400 });
  const ms = Date.now() - t0;
  t.equal(rm.online, false);
  t.ok(ms < 1_500, `a mute node is given up after the deadline (${ms} ms)`);
  for (const sock of sockets) sock.destroy();
  await new Promise<void>((res) => mute.close(() => res()));
});
