// connectWritableMeta against real MariaDB servers: the writable seed is found whatever its place in
// meta_group_seeds; a lone seed is taken read-only or not; none writable names every seed and why.
import t from 'tap';
import type { RowDataPacket } from 'mysql2/promise';
import { freePort } from '../../src/launcher/index.js';
import { connectWritableMeta, type MetaConnectOptions } from '../../src/metadata/index.js';
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
