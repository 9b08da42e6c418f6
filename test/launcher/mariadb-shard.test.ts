// A real 1-primary-2-replica MariaDB shard: replication, semi-sync on the primary only, read-only
// replicas, kill -9 and restart, pause and resume.
import t from 'tap';
import type { RowDataPacket } from 'mysql2/promise';
import { makeRunDir, startShard, type LaunchedShard } from '../../src/launcher/index.js';
import { globalStatus, globalVariable, replicaStatus } from '../../src/storage-node/replication.js';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const admin = { user: 'clustmgr', password: 'admin-pw' };
const repl = { user: 'repl', password: 'repl-pw' };
const dir = makeRunDir('shard-test');
let shard: LaunchedShard;

t.before(async () => {
  const t0 = Date.now();
  shard = await startShard({ dir, nodes: 3, admin, repl });
  t.comment(`3-node MariaDB shard started and wired in ${Date.now() - t0} ms`);
});
t.teardown(async () => {
  await Promise.all(shard?.nodes.map((n) => n.kill9()) ?? []);
  rmSync(dir, { recursive: true, force: true });
});

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

t.test('a write on the primary reaches both replicas', async (t) => {
  const p = await shard.primary.connect();
  await p.query('CREATE DATABASE IF NOT EXISTS app');
  await p.query('CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))');
  await p.query('INSERT INTO app.t VALUES (?, ?)', [1, 'hello']);
  await p.end();
  for (const r of shard.replicas) {
    const c = await r.connect();
    const rows = await waitFor(`row on ${r.address}`, async () => {
      const [rs] = await c.query<RowDataPacket[]>('SELECT v FROM app.t WHERE id = ?', [1]);
      return rs.length ? rs : undefined;
    });
    t.equal(rows[0]!.v, 'hello', `replica ${r.address} has the row`);
    await c.end();
  }
});

t.test('semi-sync: the primary has 2 semi-sync clients, master side on the primary only', async (t) => {
  const p = await shard.primary.connect();
  t.equal(await globalStatus(p, 'Rpl_semi_sync_master_clients'), '2');
  t.equal(await globalVariable(p, 'rpl_semi_sync_master_enabled'), 'ON');
  t.equal(await globalStatus(p, 'Rpl_semi_sync_master_status'), 'ON');
  t.equal(await globalVariable(p, 'read_only'), 'OFF', 'the primary is writable');
  await p.end();
  for (const r of shard.replicas) {
    const c = await r.connect();
    t.equal(await globalVariable(c, 'rpl_semi_sync_master_enabled'), 'OFF', `${r.address} master side off`);
    t.equal(await globalVariable(c, 'rpl_semi_sync_slave_enabled'), 'ON', `${r.address} slave side on`);
    t.equal(await globalStatus(c, 'Rpl_semi_sync_slave_status'), 'ON', `${r.address} acks`);
    await c.end();
  }
});

t.test('replicas start read-only and refuse writes', async (t) => {
  const p = await shard.primary.connect();
  await p.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', ['app', '%', 'app-pw']);
  await p.query('GRANT ALL ON app.* TO ?@?', ['app', '%']);
  await p.end();
  for (const r of shard.replicas) {
    await t.rejects(r.connect({ user: 'nobody', password: 'x' }), /Access denied/, 'unknown accounts are refused');
    const a = await r.connect();
    t.equal(await globalVariable(a, 'read_only'), 'ON', `${r.address} is read-only`);
    await a.end();
    // The admin account has SUPER and could bypass read_only; an ordinary account cannot.
    const u = await waitFor('app user replicated', () => r.connect({ user: 'app', password: 'app-pw' }));
    await t.rejects(u.query('INSERT INTO app.t VALUES (?, ?)', [100, 'x']), /read-only|READ_ONLY|read_only/);
    await u.end();
  }
});

t.test('GTID replication: replicas use slave_pos, IO and SQL threads run', async (t) => {
  for (const r of shard.replicas) {
    const c = await r.connect();
    const st = await replicaStatus(c);
    t.ok(st, 'configured as a replica');
    t.equal(st!.ioRunning, 'Yes');
    t.equal(st!.sqlRunning, 'Yes');
    t.equal(st!.masterPort, shard.primary.port);
    const [rows] = await c.query<RowDataPacket[]>('SHOW SLAVE STATUS');
    t.equal(rows[0]!.Using_Gtid, 'Slave_Pos');
    await c.end();
  }
});

t.test('kill -9 a replica, write meanwhile, restart: it catches up', async (t) => {
  const victim = shard.replicas[0]!;
  const pid = victim.proc.pid;
  await victim.kill9();
  t.notOk(victim.running, 'the replica is down');
  t.throws(() => process.kill(pid!, 0), 'its process is gone');
  const p = await shard.primary.connect();
  await p.query('INSERT INTO app.t VALUES (?, ?)', [2, 'while-down']);
  await p.end();
  await victim.start();
  t.ok(victim.running, 'restarted');
  const c = await victim.connect();
  t.equal(await globalVariable(c, 'read_only'), 'ON', 'comes back read-only');
  const rows = await waitFor('catch-up', async () => {
    const [rs] = await c.query<RowDataPacket[]>('SELECT v FROM app.t WHERE id = ?', [2]);
    return rs.length ? rs : undefined;
  });
  t.equal(rows[0]!.v, 'while-down');
  await c.end();
});

t.test('kill -9 the primary and restart it: it comes back read-only', async (t) => {
  const p = shard.primary;
  await p.kill9();
  await p.start();
  const c = await p.connect();
  t.equal(await globalVariable(c, 'read_only'), 'ON', 'a restarted primary does not take writes on its own');
  const [rows] = await c.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM app.t');
  t.equal(Number(rows[0]!.n), 2, 'acknowledged rows survived kill -9');
  await c.query('SET GLOBAL read_only = OFF');
  await c.query('SET GLOBAL rpl_semi_sync_master_enabled = ON');
  await c.end();
});

t.test('pause (SIGSTOP) makes a node hang; resume brings it back', async (t) => {
  const r = shard.replicas[1]!;
  r.pause();
  const started = Date.now();
  await t.rejects(r.connect({ connectTimeout: 1_000 }), 'a paused server does not answer');
  t.ok(Date.now() - started >= 900, 'the connect attempt hung until its timeout');
  r.resume();
  const c = await waitFor('resumed', () => r.connect());
  const [rows] = await c.query<RowDataPacket[]>('SELECT 1 AS one');
  t.equal(rows[0]!.one, 1);
  await c.end();
});
