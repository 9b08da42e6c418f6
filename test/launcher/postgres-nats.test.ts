// Real PostgreSQL 15 and nats-server with JetStream, started by the launcher.
import t from 'tap';
import { rmSync } from 'node:fs';
import pgLib from 'pg';
import { StringCodec, type JetStreamManager } from 'nats';
import { makeRunDir, NatsInstance, PostgresInstance } from '../../src/launcher/index.js';

const dir = makeRunDir('pg-nats-test');
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('PostgreSQL accepts a query, survives kill -9 and restart', async (t) => {
  const pg = new PostgresInstance({ dir: `${dir}/pg`, admin: { user: 'kunlun', password: 'pg-pw' } });
  t.teardown(() => pg.kill9());
  const t0 = Date.now();
  await pg.start();
  t.comment(`postgres ready in ${Date.now() - t0} ms`);
  let c = await pg.connect();
  const r = await c.query<{ v: string }>('SELECT $1::text AS v', ['ok']);
  t.equal(r.rows[0]!.v, 'ok');
  await c.query('CREATE TABLE kv (k text PRIMARY KEY, v text)');
  await c.query('INSERT INTO kv VALUES ($1, $2)', ['a', '1']);
  await c.end();
  const bad = new pgLib.Client({ host: pg.host, port: pg.port, user: 'kunlun', password: 'wrong', database: 'postgres' });
  await t.rejects(bad.connect(), /password authentication failed/, 'a wrong password is refused');
  await pg.kill9();
  t.notOk(pg.running);
  await pg.start();
  c = await pg.connect();
  const again = await c.query<{ v: string }>('SELECT v FROM kv WHERE k = $1', ['a']);
  t.equal(again.rows[0]!.v, '1', 'committed row survived kill -9');
  await c.end();
  await pg.stop();
  t.notOk(pg.running, 'stopped');
});

t.test('JetStream stores and returns a message, also after a restart', async (t) => {
  const nats = new NatsInstance({ dir: `${dir}/nats` });
  t.teardown(() => nats.kill9());
  await nats.start();
  let nc = await nats.connect();
  let jsm: JetStreamManager = await nc.jetstreamManager();
  await jsm.streams.add({ name: 'T', subjects: ['t.>'] });
  const sc = StringCodec();
  const ack = await nc.jetstream().publish('t.one', sc.encode('hello'), { msgID: 'm1' });
  t.equal(ack.seq, 1);
  const dup = await nc.jetstream().publish('t.one', sc.encode('hello'), { msgID: 'm1' });
  t.ok(dup.duplicate, 'the same message id is deduplicated');
  await nc.close();
  await nats.kill9();
  await nats.start();
  nc = await nats.connect();
  jsm = await nc.jetstreamManager();
  const m = await jsm.streams.getMessage('T', { seq: 1 });
  t.equal(sc.decode(m.data), 'hello', 'the message survived kill -9 (file storage)');
  await nc.close();
});
