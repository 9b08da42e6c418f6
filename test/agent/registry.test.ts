// The registry and the base-dir confinement, with plain files: a record pointing outside the base dir
// (or a symbolic link out of it) is refused; writes are atomic and survive a reload.
import t from 'tap';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRunDir } from '../../src/launcher/index.js';
import { Registry, type InstanceRecord } from '../../src/agent/registry.js';
import { confine, instanceDir } from '../../src/agent/paths.js';
import { removeDir, registryOf } from './helpers.js';

const dir = makeRunDir('agent-registry');
t.teardown(() => removeDir(dir));

function rec(base: string, port: number, change: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    kind: 'storage',
    port,
    host: '127.0.0.1',
    dir: join(base, 'storage', String(port)),
    phase: 'installed',
    desired: 'running',
    keepalive: true,
    pid: null,
    installedAt: '2024-01-01T00:00:00.000Z',
    requestId: 'r1',
    restarts: 0,
    lastRestartAt: null,
    storage: { serverId: 7, requestedBufferMb: 16, bufferPoolMb: 16, accounts: ['adm'], isMaster: false, dbCfg: 0, exporterPort: 0, mgrPort: 0, xport: 0 },
    ...change,
  };
}

t.test('records survive a reload; writes leave no temporary file', (t) => {
  const base = join(dir, 'b1');
  mkdirSync(base);
  const r = Registry.load(base);
  r.put(rec(base, 3306));
  r.update(3306, { keepalive: false, pid: 1234 });
  r.put(rec(base, 3310));
  r.remove(3310);
  const again = Registry.load(base);
  t.same(again.all().map((x) => [x.port, x.keepalive, x.pid]), [[3306, false, 1234]]);
  t.same(readdirSync(base), ['agent-registry.json'], 'only the registry file');
  t.end();
});

t.test('a record whose dir is outside the base dir is refused', (t) => {
  const base = join(dir, 'b2');
  mkdirSync(base);
  for (const [name, bad] of [
    ['absolute elsewhere', { dir: '/etc' }],
    ['traversal', { dir: join(base, 'storage', '..', '..', '..', 'etc') }],
    ['another port\'s dir', { dir: join(base, 'storage', '3307') }],
  ] as const) {
    writeFileSync(registryOf(base), JSON.stringify({ format: 1, instances: [rec(base, 3306, bad)] }));
    t.throws(() => Registry.load(base), /instance #0: dir .* is not .*storage\/3306; the agent only manages its own dirs/, name);
  }
  writeFileSync(registryOf(base), JSON.stringify({ format: 1, instances: [rec(base, 3306, { kind: 'shell' as 'storage' })] }));
  t.throws(() => Registry.load(base), /kind "shell" is not storage or computer/);
  writeFileSync(registryOf(base), '{"format":1,"instances":[');
  t.throws(() => Registry.load(base), /is not valid JSON/);
  writeFileSync(registryOf(base), JSON.stringify({ format: 1, instances: [rec(base, 3306), rec(base, 3306)] }));
  t.throws(() => Registry.load(base), /port 3306 is listed twice/);
  t.end();
});

t.test('confinement: no "../" and no symbolic link leads out of the base dir', (t) => {
  const base = join(dir, 'b3');
  mkdirSync(join(base, 'storage'), { recursive: true });
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  t.equal(instanceDir(base, 'storage', 3306), join(base, 'storage', '3306'));
  t.throws(() => confine(base, join(base, '..', 'outside')), /is outside the agent's base dir/);
  t.throws(() => confine(base, base), /is outside/, 'the base dir itself is not an instance dir');
  symlinkSync(outside, join(base, 'computer'));
  t.throws(() => instanceDir(base, 'computer', 5432), /leads outside the agent's base dir .* \(through .*outside\)/);
  t.notOk(existsSync(join(outside, '5432')), 'nothing was created outside');
  t.end();
});
