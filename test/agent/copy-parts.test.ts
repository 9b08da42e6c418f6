// The parts of the physical copy that need no server: the pv_limit meter (on a fake clock), the
// one-time tickets, the option file mariadb-backup reads, what an agent restart does with the
// leftovers of a copy cut half-way and with the outcomes file, the stall watch (on a fake clock), the
// retention of kept data dirs, and the disk figures of the free-disk check.
import t from 'tap';
import { mkdirSync, readFileSync, statSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { backupOptionFile, CopyTickets, TICKET_TTL_MS } from '../../src/agent/copy-source.js';
import { CopyRuns, MAX_KEPT, outcomesAfterRestart } from '../../src/agent/copy-runs.js';
import { binlogPosition, cleanCopyLeftovers, type CopyStatus } from '../../src/agent/copy-target.js';
import { freeBytes, humanBytes, treeBytes } from '../../src/agent/disk.js';
import { beyondRetention, describeOldDatadirs, listOldDatadirs, pruneOldDatadirs, type OldDatadir } from '../../src/agent/old-datadirs.js';
import { StallWatch } from '../../src/agent/stall-watch.js';
import { createLogger } from '../../src/log/logger.js';
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

t.test('the stall watch fires once when the counter has not moved for the timeout, not while it moves', (t) => {
  let now = 0;
  let bytes = 0;
  const fired: number[] = [];
  const w = new StallWatch({ timeoutMs: 60_000, progress: () => bytes, onStall: (ms) => fired.push(ms), now: () => now, autoCheck: false });
  for (let i = 0; i < 10; i++) {
    now += 59_000;
    bytes += 1;
    t.equal(w.check(), false, `moving at ${now} ms`);
  }
  now += 59_999;
  t.equal(w.check(), false, 'still under the timeout');
  now += 1;
  t.equal(w.check(), true, 'fires at the timeout');
  now += 120_000;
  t.equal(w.check(), true);
  t.same(fired, [60_000], 'once, with the idle time');
  t.end();
});

const day = 86_400_000;
const old = (name: string, at: number): OldDatadir => ({ name, path: `/i/${name}`, since: new Date(at) });

t.test('retention: beyond the newest N and older than the age limit go; never the one just made', (t) => {
  const now = new Date(100 * day);
  const dirs = [old('a', 10 * day), old('b', 20 * day), old('c', 30 * day), old('d', 40 * day)];
  const names = (x: OldDatadir[]) => x.map((d) => d.name).sort();
  t.same(names(beyondRetention(dirs, { keep: 2, maxAgeDays: 0 }, now)), ['a', 'b'], 'default: the newest 2 stay');
  t.same(names(beyondRetention(dirs, { keep: 2, maxAgeDays: 0 }, now, '/i/a')), ['b', 'c'], 'the one just made counts first, whatever its stamp');
  t.same(names(beyondRetention(dirs, { keep: 10, maxAgeDays: 65 }, now)), ['a', 'b', 'c'], 'older than 65 days');
  t.same(names(beyondRetention(dirs, { keep: 10, maxAgeDays: 1 }, now, '/i/d')), ['a', 'b', 'c'], 'the one just made outlives the age limit');
  t.same(names(beyondRetention([old('a', 0)], { keep: 1, maxAgeDays: 1 }, now, '/i/a')), [], 'alone and just made: kept');
  t.end();
});

t.test('kept data dirs on disk: listed oldest first with their size and time; pruned with their size', (t) => {
  const rec = record(4003);
  for (const [name, bytes] of [['data.old-20261201T000000Z', 1000], ['data.old-20261203T000000Z', 3000], ['data.old-20261202T000000Z', 2000]] as const) {
    mkdirSync(join(rec.dir, name, 'app'), { recursive: true });
    writeFileSync(join(rec.dir, name, 'app', 't.ibd'), Buffer.alloc(bytes));
  }
  mkdirSync(join(rec.dir, 'data'));
  t.same(listOldDatadirs(rec.dir).map((d) => d.name), ['data.old-20261201T000000Z', 'data.old-20261202T000000Z', 'data.old-20261203T000000Z']);
  t.same(describeOldDatadirs(rec.dir)[0], { path: join(rec.dir, 'data.old-20261201T000000Z'), bytes: 1000, kept_since: '2026-12-01T00:00:00.000Z' });
  const removed = pruneOldDatadirs(rec.dir, { keep: 2, maxAgeDays: 0 }, new Date('2026-12-04T00:00:00Z'), join(rec.dir, 'data.old-20261203T000000Z'));
  t.same(removed, [{ path: join(rec.dir, 'data.old-20261201T000000Z'), bytes: 1000 }]);
  t.same(readdirSync(rec.dir).sort(), ['data', 'data.old-20261202T000000Z', 'data.old-20261203T000000Z']);
  t.end();
});

t.test('disk figures: the bytes of a tree, the free bytes of its file system', (t) => {
  const d = join(dir, 'tree');
  mkdirSync(join(d, 'x', 'y'), { recursive: true });
  writeFileSync(join(d, 'a'), Buffer.alloc(100));
  writeFileSync(join(d, 'x', 'y', 'b'), Buffer.alloc(23));
  t.equal(treeBytes(d), 123);
  t.equal(treeBytes(join(d, 'none')), 0, 'a missing dir holds nothing');
  t.ok(freeBytes(d) > 0);
  t.equal(humanBytes(1536), '1.5 KiB');
  t.equal(humanBytes(12), '12 bytes');
  t.end();
});

function copyStatus(id: string, step: CopyStatus['step'], port = 4100): CopyStatus {
  return {
    copy_id: id, port, source: '127.0.0.1:5011', step, bytes: 5, rate_bytes_per_sec: 7, avg_bytes_per_sec: 1, pv_limit_mb: 10, need_backup: false,
    started_at: '2026-12-07T10:00:00.000Z', finished_at: null, elapsed_ms: 0, source_tls: false,
  };
}

t.test('after a restart: a copy that had not finished is recorded as failed, finished ones are kept, at most MAX_KEPT', (t) => {
  const now = new Date('2026-12-07T10:01:00.000Z');
  const text = JSON.stringify({ format: 1, copies: [{ ...copyStatus('done1', 'done'), gtid: '0-1-5' }, copyStatus('cut1', 'receiving'), copyStatus('cut2', 'swapping')] });
  const { copies, interrupted } = outcomesAfterRestart(text, now);
  t.same(copies.map((c) => [c.copy_id, c.step]), [['done1', 'done'], ['cut1', 'failed'], ['cut2', 'failed']]);
  t.equal(copies[0]!.gtid, '0-1-5');
  t.same(interrupted.map((c) => c.copy_id), ['cut1', 'cut2']);
  t.match(interrupted[0], {
    error: 'copy cut1 to port 4100 failed in step receiving: the agent restarted during the copy; leftovers removed',
    finished_at: now.toISOString(), elapsed_ms: 60_000, rate_bytes_per_sec: 0,
  });
  const many = JSON.stringify({ format: 1, copies: Array.from({ length: MAX_KEPT + 5 }, (_, i) => copyStatus(`k${i}`, 'done')) });
  t.equal(outcomesAfterRestart(many, now).copies.length, MAX_KEPT);
  t.equal(outcomesAfterRestart(many, now).copies[0]!.copy_id, 'k5', 'the oldest are dropped');
  t.throws(() => outcomesAfterRestart('{"format":2}', now), /unknown format/);

  // Through the file: the agent's start loads it, answers for the cut copy, and rewrites it 0600.
  const f = join(dir, 'agent-copies.json');
  writeFileSync(f, text);
  const runs = CopyRuns.load(f, createLogger({ level: 'fatal' }), now);
  t.match(runs.get('cut1')?.status(), { step: 'failed', error: /the agent restarted during the copy; leftovers removed/ });
  t.equal(runs.get('cut1')?.finished, true);
  t.equal(runs.onPort(4100)?.status().copy_id, 'cut2', 'the last copy on the port');
  t.equal(statSync(f).mode & 0o777, 0o600);
  t.match(JSON.parse(readFileSync(f, 'utf8')), { copies: [{ step: 'done' }, { step: 'failed' }, { step: 'failed' }] });
  writeFileSync(f, 'not json');
  t.equal(CopyRuns.load(f, createLogger({ level: 'fatal' }), now).get('cut1'), undefined, 'an unreadable file: started without it');
  t.end();
});
