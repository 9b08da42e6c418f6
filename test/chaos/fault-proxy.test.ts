// The fault proxy in front of a real MariaDB: pass, latency, drop, blackhole (stall and heal), cut;
// and the continuous writer through it: an outage shows as an unavailability window, every
// acknowledged write is on the node, and the checker notices a missing one.
import t from 'tap';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import mysql from 'mysql2/promise';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { MariaDbInstance, makeRunDir } from '../../src/launcher/index.js';
import { FaultProxy } from './fault-proxy.js';
import { ContinuousWriter, checkAcknowledged } from './writer.js';
import { setTimeout as sleep } from 'node:timers/promises';

const admin = { user: 'clustmgr', password: 'admin-pw' };
const app = { user: 'app', password: 'app-pw' };
const dir = makeRunDir('proxy-test');
const db = new MariaDbInstance({ dir: join(dir, 'node'), serverId: 1, admin });
let proxy: FaultProxy;

function viaProxy(extra: Partial<mysql.ConnectionOptions> = {}): Promise<Connection> {
  return mysql.createConnection({ host: proxy.host, port: proxy.port, ...admin, connectTimeout: 600, ...extra });
}

async function rtt(c: Connection): Promise<number> {
  const t0 = performance.now();
  await c.query('SELECT 1');
  return performance.now() - t0;
}

t.before(async () => {
  await db.start();
  const c = await db.connect();
  await c.query('SET GLOBAL read_only = OFF');
  await ContinuousWriter.ensureTable(c);
  await c.query('CREATE USER ?@? IDENTIFIED BY ?', [app.user, '%', app.password]);
  await c.query('GRANT SELECT, INSERT ON cmgr_chaos.* TO ?@?', [app.user, '%']);
  await c.end();
  proxy = await FaultProxy.start({ target: db });
});
t.teardown(async () => {
  await proxy?.close();
  await db.kill9();
  rmSync(dir, { recursive: true, force: true });
});

t.test('pass and latency', async (t) => {
  const c = await viaProxy();
  const [rows] = await c.query<RowDataPacket[]>('SELECT @@port AS port');
  t.equal(Number(rows[0]!.port), db.port, 'talks to the target');
  t.ok((await rtt(c)) < 100, 'fast when passing');
  proxy.setMode({ kind: 'latency', ms: 120 });
  const slow = await rtt(c);
  t.ok(slow >= 235, `round trip ${Math.round(slow)} ms with 120 ms each way`);
  const [seq] = await c.query<RowDataPacket[]>('SELECT 1 AS a UNION ALL SELECT 2 UNION ALL SELECT 3');
  t.same(seq.map((r) => Number(r.a)), [1, 2, 3], 'the stream stays in order');
  proxy.setMode({ kind: 'pass' });
  t.ok((await rtt(c)) < 100, 'fast again');
  t.throws(() => proxy.setMode({ kind: 'latency', ms: -1 }), RangeError);
  await c.end();
});

t.test('drop: new connections are reset, existing ones keep working', async (t) => {
  const c = await viaProxy();
  proxy.setMode({ kind: 'drop' });
  const t0 = performance.now();
  await t.rejects(viaProxy(), { code: /ECONNRESET|PROTOCOL_CONNECTION_LOST/ }, 'a new connection is reset');
  t.ok(performance.now() - t0 < 300, 'at once');
  t.ok((await rtt(c)) < 100, 'the existing connection still works');
  proxy.setMode({ kind: 'pass' });
  await c.end();
});

t.test('blackhole: new connections never get an answer, existing ones stall and heal', async (t) => {
  const c = await viaProxy();
  proxy.setMode({ kind: 'blackhole' });
  const t0 = performance.now();
  await t.rejects(viaProxy(), { code: 'ETIMEDOUT' }, 'the handshake never comes');
  t.ok(performance.now() - t0 >= 550, 'only the client timeout ends it');
  let done = false;
  const q = c.query<RowDataPacket[]>('SELECT 42 AS x').then(([r]) => {
    done = true;
    return Number(r[0]!.x);
  });
  await sleep(500);
  t.notOk(done, 'a query on an existing connection stalls');
  proxy.setMode({ kind: 'pass' });
  t.equal(await q, 42, 'and completes when the path heals (bytes were held, not lost)');
  await c.end();
});

t.test('cutExisting resets open connections; new ones work', async (t) => {
  const a = await viaProxy();
  const b = await viaProxy();
  a.on('error', () => undefined);
  b.on('error', () => undefined);
  const n = proxy.cutExisting();
  t.ok(n >= 2, `cut ${n} connections`);
  await t.rejects(a.query('SELECT 1'), 'the first is gone');
  await t.rejects(b.query('SELECT 1'), 'the second too');
  const c = await viaProxy();
  t.ok((await rtt(c)) < 100, 'a new connection works');
  await c.end();
  t.ok(proxy.stats.cut >= 2 && proxy.stats.accepted >= 3);
});

t.test('the writer through the proxy: an outage becomes an unavailability window, no acknowledged write lost', async (t) => {
  const writer = new ContinuousWriter({
    getPrimary: () => proxy.endpoint,
    credentials: app,
    connectTimeoutMs: 500,
    queryTimeoutMs: 1_000,
  });
  writer.start();
  await writer.waitForAcks(30, 10_000);
  const t0 = Date.now();
  proxy.setMode({ kind: 'drop' });
  proxy.cutExisting();
  await sleep(600);
  proxy.setMode({ kind: 'pass' });
  await writer.waitForAcks(30, 10_000);
  const report = await writer.stop();
  // An answer already on its way when the path was cut can still land in the first millisecond, splitting
  // off a tiny window: the outage is the longest window with failures.
  const outage = report.windows.filter((w) => w.failures > 0).sort((a, b) => b.ms - a.ms)[0];
  t.ok(outage, `a window with failures: ${JSON.stringify(report.windows)}`);
  t.ok(outage && outage.ms >= 550 && outage.from <= t0 + 50, `it spans the outage (${outage?.ms} ms)`);
  t.ok(report.failed > 0 && report.acked >= 60, `${report.acked} acknowledged, ${report.failed} failed`);
  const first = writer.firstAckAfter(t0 + 600);
  t.ok(first && first.at - t0 < 1_500, 'writes resume right after the path heals');
  const ids = writer.acked.map((a) => a.id);
  t.same(new Set(ids).size, ids.length, 'ids are unique');
  const c = await db.connect();
  const check = await checkAcknowledged(c, ids);
  t.same(check.missing, [], `all ${check.checked} acknowledged writes are there`);
  // The checker must be able to fail: remove one acknowledged row.
  const victim = ids[Math.floor(ids.length / 2)]!;
  await c.query('DELETE FROM cmgr_chaos.acked_writes WHERE id = ?', [victim]);
  t.same((await checkAcknowledged(c, ids)).missing, [victim], 'a missing acknowledged write is reported');
  await c.end();
  t.throws(() => new ContinuousWriter({ getPrimary: () => null, credentials: app, table: 'x; DROP TABLE y' }), RangeError);
});
