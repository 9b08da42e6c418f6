// The playground's nats-server (started by the launcher) requires credentials: anonymous and wrong
// passwords are refused and logged by the server; the manager account publishes; the watcher account
// reads kunlun.> and the stream but cannot publish events or change the stream.
import { readFileSync, rmSync, statSync } from 'node:fs';
import { connect, type NatsConnection } from 'nats';
import t from 'tap';
import { makeRunDir, NatsInstance } from '../../src/launcher/index.js';
import { natsAuthOptions } from '../../src/mirror/nats-auth.js';
import { setTimeout as sleep } from 'node:timers/promises';

const dir = makeRunDir('nats-auth-test');
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const users = { manager: { user: 'cluster_mgr', password: 'mgr-pw-5d1c0a7e' }, watcher: { user: 'watcher', password: 'watch-pw-8b2f4e61' } };
const nats = new NatsInstance({ dir: `${dir}/nats`, users });
t.teardown(() => nats.kill9());

const as = (user: string, pass: string): Promise<NatsConnection> =>
  connect({ servers: nats.url, timeout: 2_000, reconnect: false, ...natsAuthOptions({ kind: 'password', user, pass }) });

void t.test('anonymous and wrong credentials are refused and logged; the passwords are on no command line', async (t) => {
  await nats.start();
  const conf = `${dir}/nats/nats-server.conf`;
  t.equal(statSync(conf).mode & 0o777, 0o600, 'the server config with the passwords is 0600');
  t.notMatch(readFileSync(`/proc/${nats.proc.pid}/cmdline`, 'utf8'), /mgr-pw|watch-pw/, 'no password in the command line');

  await t.rejects(connect({ servers: nats.url, timeout: 2_000, reconnect: false }), /Authorization Violation/i, 'anonymous refused');
  await t.rejects(as('watcher', 'wrong'), /Authorization Violation/i, 'wrong password refused');
  await t.rejects(as('nobody', users.manager.password), /Authorization Violation/i, 'unknown user refused');
  await sleep(200);
  const log = readFileSync(`${dir}/nats/nats-server.log`, 'utf8');
  t.match(log, /authentication error/i, 'the server logged the refusals');
  t.notMatch(log, /mgr-pw|watch-pw/, 'no password in its log');
});

void t.test('the manager publishes; the watcher reads kunlun.> and the stream but cannot publish or change it', async (t) => {
  const mgr = await as(users.manager.user, users.manager.password);
  const watcher = await as(users.watcher.user, users.watcher.password);
  t.teardown(async () => {
    await mgr.close();
    await watcher.close();
  });
  const jsm = await mgr.jetstreamManager();
  await jsm.streams.add({ name: 'KUNLUN_EVENTS', subjects: ['kunlun.events.>'] });

  const seenByWatcher: string[] = [];
  const sub = watcher.subscribe('kunlun.>', { callback: (_e, m) => seenByWatcher.push(m.subject) });
  const seenByMgr: string[] = [];
  mgr.subscribe('kunlun.>', { callback: (_e, m) => seenByMgr.push(m.subject) });
  await watcher.flush();
  await mgr.flush();

  await mgr.jetstream().publish('kunlun.events.cluster.1.created', new TextEncoder().encode('{}'));
  watcher.publish('kunlun.events.cluster.1.deleted', new TextEncoder().encode('{}'));
  watcher.publish('kunlun.status.shard.1', new TextEncoder().encode('{}'));
  await sleep(500);
  t.same(seenByWatcher, ['kunlun.events.cluster.1.created'], 'the watcher receives what the manager publishes');
  t.same(seenByMgr, ['kunlun.events.cluster.1.created'], 'what the watcher published reached nobody');
  sub.unsubscribe();

  const wjsm = await watcher.jetstreamManager();
  const info = await wjsm.streams.info('KUNLUN_EVENTS');
  t.equal(info.state.messages, 1, 'the watcher reads the stream state; its publish did not land');
  const consumer = await watcher.jetstream().consumers.get('KUNLUN_EVENTS');
  const m = await consumer.next({ expires: 2_000 });
  t.equal(m?.subject, 'kunlun.events.cluster.1.created', 'the watcher reads the stream through a consumer');
  await t.rejects(wjsm.streams.delete('KUNLUN_EVENTS'), 'the watcher cannot delete the stream');
  await t.rejects(wjsm.streams.purge('KUNLUN_EVENTS'), 'nor purge it');
  t.equal((await jsm.streams.info('KUNLUN_EVENTS')).state.messages, 1, 'the stream is intact');
});
