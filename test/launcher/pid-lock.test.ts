// The one pid lock file (member data dirs, agent base dirs, port-block claims).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockHolder, PidLock } from '../../src/launcher/pid-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'cmgr-pid-lock-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
/** The pid of a process that has exited (and been reaped). */
const deadPid = (): number => spawnSync('true').pid;

t.test('a lock names its holder, refuses a second taker and is released by its holder only', (t) => {
  const file = join(dir, 'a.lock');
  const lock = PidLock.acquire(file, 'thing A');
  t.equal(readFileSync(file, 'utf8').trim(), String(process.pid), 'the file holds our pid');
  t.equal(statSync(file).mode & 0o777, 0o600, 'readable by its owner only');
  t.equal(lockHolder(file), process.pid, 'lockHolder names us');
  t.throws(() => PidLock.acquire(file, 'thing A'), new RegExp(`thing A is in use by process ${process.pid} \\(${file}\\)`), 'a second taker is refused, naming the holder');
  t.throws(() => PidLock.acquire(file, 'base dir X', { holder: 'another agent, process' }), /base dir X is in use by another agent, process \d+/);
  t.equal(PidLock.tryCreate(file), null, 'tryCreate does not take an existing file');
  const again = PidLock.acquire(file, 'thing A', { takeOverOwn: true });
  t.equal(lockHolder(file), process.pid, 'takeOverOwn takes a file naming this process');
  writeFileSync(file, '1\n'); // someone else's now
  lock.release();
  again.release();
  t.equal(readFileSync(file, 'utf8').trim(), '1', 'release leaves a file that names another process alone');
  rmSync(file);
  t.end();
});

t.test('a file left by a process that is gone is taken over; nonsense names no holder', (t) => {
  const file = join(dir, 'b.lock');
  writeFileSync(file, `${deadPid()}\n`);
  t.equal(lockHolder(file), null, 'a dead holder does not count');
  const lock = PidLock.acquire(file, 'thing B');
  t.equal(lockHolder(file), process.pid, 'taken over');
  lock.release();
  t.equal(lockHolder(file), null, 'released: no file, no holder');
  writeFileSync(file, 'not a pid\n');
  t.equal(lockHolder(file), null, 'a file without a pid names no holder');
  t.end();
});
