// The parts of the physical copy that need no server: the pv_limit meter (on a fake clock), the
// one-time tickets, the option file mariadb-backup reads, and what an agent restart does with the
// leftovers of a copy cut half-way.
import t from 'tap';
import { mkdirSync, readFileSync, statSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { backupOptionFile, CopyTickets, TICKET_TTL_MS } from '../../src/agent/copy-source.js';
import { binlogPosition, cleanCopyLeftovers } from '../../src/agent/copy-target.js';
import type { InstanceRecord } from '../../src/agent/registry.js';
import { MIB, RateMeter } from '../../src/agent/throttle.js';
import { makeRunDir } from '../../src/launcher/index.js';
import { removeDir } from './helpers.js';

const dir = makeRunDir('agent-copy-parts');
t.teardown(() => removeDir(dir));

function record(port: number): InstanceRecord {
  const d = join(dir, 'storage', String(port));
  mkdirSync(d, { recursive: true });
  return {
    kind: 'storage', port, host: '127.0.0.1', dir: d, phase: 'installed', desired: 'running', keepalive: true, pid: null,
    installedAt: '', requestId: '', restarts: 0, lastRestartAt: null,
    storage: { serverId: 1, requestedBufferMb: 32, bufferPoolMb: 32, accounts: ['a'], isMaster: false, dbCfg: 0, exporterPort: 0, mgrPort: 0, xport: 0 },
  };
}

t.test('the meter holds a chunk back so the average stays at the limit, and reports the recent rate', async (t) => {
  let now = 1_000;
  const slept: number[] = [];
  const m = new RateMeter({ limitBytesPerSec: 2 * MIB, now: () => now, sleep: (ms) => {
    slept.push(ms);
    now += ms;
    return Promise.resolve();
  } });
  const out: Buffer[] = [];
  m.on('data', (c: Buffer) => out.push(c));
  for (let i = 0; i < 8; i++) {
    await new Promise<void>((r) => m.write(Buffer.alloc(MIB / 2), () => r()));
  }
  t.equal(m.bytes, 4 * MIB);
  t.equal(now - 1_000, 2_000, '4 MiB at 2 MiB/s took 2 s of (fake) time');
  t.equal(slept.length, 8);
  t.equal(m.rate(), 2 * MIB, 'recent rate');
  t.equal(out.reduce((n, c) => n + c.length, 0), 4 * MIB, 'everything passed through');
  const free = new RateMeter({ limitBytesPerSec: 0, now: () => now, sleep: () => Promise.reject(new Error('no sleep without a limit')) });
  free.write(Buffer.alloc(MIB));
  t.equal(free.delayFor(now), 0, 'pv_limit 0: no limit');
});

t.test('tickets: usable once, void after their time', (t) => {
  const tickets = new CopyTickets();
  const admin = { user: 'clustmgr', password: 'pw' };
  const a = tickets.issue(3306, admin, 0);
  t.match(a, /^[0-9a-f]{64}$/);
  t.same(tickets.take(a, 1), { port: 3306, account: admin }, 'the port and the account it was issued with');
  t.equal(tickets.take(a, 2), null, 'second use refused');
  const b = tickets.issue(3307, admin, 0);
  t.equal(tickets.take(b, TICKET_TTL_MS), null, 'expired');
  t.equal(tickets.take('0'.repeat(64), 0), null, 'unknown');
  t.end();
});

t.test('the option file is 0600 and quotes the password', (t) => {
  const rec = record(4000);
  const f = join(dir, 'backup.cnf');
  backupOptionFile(f, rec, { user: 'u1', password: 'p#w"x\\y' });
  t.equal(statSync(f).mode & 0o777, 0o600);
  t.match(readFileSync(f, 'utf8'), /^\[mariadb-backup\]\nuser='u1'\npassword='p#w"x\\\\y'\nsocket='.*mysqld\.sock'\ndatadir='.*data'\n$/);
  t.throws(() => backupOptionFile(f, rec, { user: 'u1', password: `a'b"c` }), /both kinds of quotes/);
  t.end();
});

t.test('after a restart: a half-received copy is removed, a swap cut between its renames is finished', (t) => {
  const a = record(4001);
  mkdirSync(join(a.dir, 'data', 'mysql'), { recursive: true });
  mkdirSync(join(a.dir, 'data.copy-x'));
  mkdirSync(join(a.dir, 'data.trash-y'));
  mkdirSync(join(a.dir, 'data.old-20261207T201500Z'));
  t.same(cleanCopyLeftovers(a).sort(), ['removed data.copy-x', 'removed data.trash-y']);
  t.same(readdirSync(a.dir).sort(), ['data', 'data.old-20261207T201500Z'], 'the kept old data dir stays');

  const b = record(4002);
  mkdirSync(join(b.dir, 'data.ready-z', 'mysql'), { recursive: true });
  t.same(cleanCopyLeftovers(b), ['finished the swap of data.ready-z']);
  t.ok(existsSync(join(b.dir, 'data', 'mysql')));
  t.end();
});

t.test('the binlog position of a backup (10.11 and 11.x file names)', (t) => {
  const d = join(dir, 'bk');
  mkdirSync(d);
  t.equal(binlogPosition(d), undefined);
  writeFileSync(join(d, 'xtrabackup_binlog_info'), 'binlog.000002\t1234\t0-7-42\n');
  t.same(binlogPosition(d), { file: 'binlog.000002', pos: 1234, gtid: '0-7-42' });
  t.end();
});
