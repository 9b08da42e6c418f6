// Backup storages as world records: commands refuse by name and kind, apply refuses settings that do
// not fit their kind even when a batch carries them, a snapshot holds them (and one written before they
// existed still restores), and their aggregate ids are parsed strictly.
import t from 'tap';
import type { DomainEvent } from '../../src/events/catalog.js';
import { decodeMsgpack, encodeCanonical } from '../../src/events/canonical.js';
import { encodeBatch } from '../../src/events/codec.js';
import { parseAgg } from '../../src/events/envelope.js';
import { World } from '../../src/actors/world.js';
import { Leader, T0 } from './helpers.js';

const none = { path: null, hostaddr: null, port: null, endpoint: null, bucket: null, prefix: null, region: null, credentialsFile: null, credentialsEnv: null };
const fs = (path: string) => ({ ...none, stype: 'fs' as const, path });

t.test('create, update, delete; refusals with the original numbers', (t) => {
  const L = new Leader(new World());
  L.must({ kind: 'backup_storage.create', name: 'nfs1', settings: fs('/mnt/b') });
  t.match(L.world.backupStorage('nfs1'), { name: 'nfs1', stype: 'fs', path: '/mnt/b', createdAt: T0 + 1000 });
  t.match(L.check({ kind: 'backup_storage.create', name: 'nfs1', settings: fs('/mnt/c') }), { ok: false, code: 'already_exists', errno: 70201, field: 'paras.name' });
  t.match(L.check({ kind: 'backup_storage.update', name: 'nope', settings: fs('/mnt/c') }), { ok: false, errno: 70202 });
  t.match(L.check({ kind: 'backup_storage.update', name: 'nfs1', settings: fs('/mnt/b') }), { ok: false, code: 'no_change' });
  t.match(L.check({ kind: 'backup_storage.create', name: 'x', settings: { ...none, stype: 's3' } }), { ok: false, code: 'invalid_argument', reason: 'an s3 backup storage needs bucket' });
  t.match(L.check({ kind: 'backup_storage.create', name: 'x', settings: { ...fs('/m'), bucket: 'b-1' } }), { ok: false, reason: 'bucket do not apply to an fs backup storage' });
  L.must({ kind: 'backup_storage.update', name: 'nfs1', settings: { ...none, stype: 's3', bucket: 'kunlun-backups', credentialsEnv: 'KB_S3' } });
  t.match(L.world.backupStorage('nfs1'), { stype: 's3', path: null, bucket: 'kunlun-backups', credentialsEnv: 'KB_S3' });
  L.must({ kind: 'backup_storage.delete', name: 'nfs1' });
  t.equal(L.world.backupStorage('nfs1'), null);
  t.match(L.check({ kind: 'backup_storage.delete', name: 'nfs1' }), { ok: false, errno: 70202 });
  t.end();
});

t.test('apply refuses settings that do not fit the kind, whoever proposed them', (t) => {
  const w = new World();
  const ev = (data: unknown): DomainEvent => ({ type: 'backup_storage.created', v: 1, agg: 'backup_storage/b1', at: T0, cause: { system: 'test' }, data }) as DomainEvent;
  t.match(w.applyEntry(1, encodeBatch([ev({ ...none, stype: 'HDFS', hostaddr: '10.0.0.9' })])), { ok: false, reason: /an HDFS backup storage needs port/ });
  t.match(w.applyEntry(2, encodeBatch([ev({ ...none, stype: 's3', bucket: 'kunlun-backups', credentialsFile: '/k', credentialsEnv: 'K' })])), { ok: false, reason: /exclude each other/ });
  t.equal(w.backupStorage('b1'), null);
  t.end();
});

t.test('snapshots hold storages; an older snapshot without them restores', (t) => {
  const L = new Leader(new World());
  L.must({ kind: 'manager.add', id: 'm1', host: '10.9.0.1', raftPort: 8110, httpPort: 8010 });
  L.must({ kind: 'backup_storage.create', name: 'nfs1', settings: fs('/mnt/b') });
  const back = World.restore(L.world.snapshot());
  t.equal(back.digest(), L.world.digest());
  t.same(back.view().backupStorages, L.world.view().backupStorages);

  const empty = new Leader(new World());
  empty.must({ kind: 'manager.add', id: 'm1', host: '10.9.0.1', raftPort: 8110, httpPort: 8010 });
  const doc = decodeMsgpack(empty.world.snapshot()) as { aggs: Record<string, unknown> };
  delete doc.aggs.backup_storage;
  const old = World.restore(encodeCanonical(doc));
  t.same(old.view().backupStorages, []);
  t.equal(old.digest(), empty.world.digest(), 'the same state as a snapshot with an empty list');
  t.end();
});

t.test('aggregate ids', (t) => {
  t.same(parseAgg('backup_storage/hdfs_backup1'), { kind: 'backup_storage', key: 'hdfs_backup1' });
  for (const bad of ['backup_storage/', 'backup_storage/../x', 'backup_storage/a b', 'backup_storagx/a', `backup_storage/${'a'.repeat(65)}`]) t.equal(parseAgg(bad), null, bad);
  t.end();
});
