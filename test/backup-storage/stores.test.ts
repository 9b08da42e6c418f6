// The storage kinds behind the one interface, against real storage: a temporary directory (fs) and
// an S3-compatible server on loopback (s3rver). Each kind passes the same checks: put with size and
// SHA-256 checked, get, list, delete, the probe check; a wrong path, bucket or key is refused with
// the reason; a put whose bytes differ from what was announced leaves nothing behind.
import t, { type Test } from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { checkStore, FsStore, openStore, S3Store, StorageError, type BackupStore } from '../../src/backup-storage/index.js';
import { s3Keys } from '../../src/backup-storage/s3-credentials.js';
import { startS3, S3_KEYS, type TestS3 } from '../helpers/s3-server.js';

const dir = mkdtempSync(join(tmpdir(), 'cmgr-backup-stores-'));
let s3: TestS3;

t.before(async () => {
  s3 = await startS3(join(dir, 's3'), ['backups']);
});
t.teardown(async () => {
  await s3?.close();
  rmSync(dir, { recursive: true, force: true });
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
/** A stream of `n` chunks of `size` bytes, as a backup tool would write it. */
const chunks = (data: Buffer, size: number): Readable => Readable.from((function* () {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
})());

async function sameChecks(t: Test, store: BackupStore, big: number): Promise<void> {
  const small = randomBytes(1000);
  t.same(await store.put('c1/shard_1/base.xb', chunks(small, 100), { size: small.length, sha256: sha(small) }), { size: 1000, sha256: sha(small) });
  t.ok((await buffer(await store.get('c1/shard_1/base.xb'))).equals(small), 'read back as written');

  const large = randomBytes(big);
  const r = await store.put('c1/shard_1/big.xb', chunks(large, 64 * 1024));
  t.same(r, { size: big, sha256: sha(large) }, 'a stream of unknown length: its size and digest are returned');
  t.ok((await buffer(await store.get('c1/shard_1/big.xb'))).equals(large), 'the large object reads back whole');

  t.same(await store.list('c1/'), [{ key: 'c1/shard_1/base.xb', size: 1000 }, { key: 'c1/shard_1/big.xb', size: big }]);
  t.same(await store.list('c2/'), []);

  await t.rejects(store.put('c1/bad.xb', chunks(small, 100), { sha256: sha(randomBytes(8)) }), { name: 'StorageError', message: /SHA-256 .* differs/ });
  await t.rejects(store.put('c1/short.xb', chunks(small, 100), { size: 1001 }), { name: 'StorageError', message: /1000 bytes came, 1001 were expected/ });
  t.same((await store.list('c1/')).map((o) => o.key), ['c1/shard_1/base.xb', 'c1/shard_1/big.xb'], 'a refused put leaves nothing');

  await store.delete('c1/shard_1/base.xb');
  await store.delete('c1/shard_1/base.xb');
  t.same((await store.list()).map((o) => o.key), ['c1/shard_1/big.xb'], 'deleted (twice is not an error)');
  await t.rejects(store.get('c1/shard_1/base.xb'), { name: 'StorageError' }, 'a missing object is an error');

  for (const key of ['../escape', '/abs', 'a/../../b', 'a//b', '']) {
    await t.rejects(store.put(key, Readable.from([small])), { name: 'StorageError', message: /is not a relative path/ }, `key ${JSON.stringify(key)} refused`);
  }
  await checkStore(store);
  t.same((await store.list()).map((o) => o.key), ['c1/shard_1/big.xb'], 'the probe object is gone after the check');
}

t.test('fs: a directory', async (t) => {
  const root = join(dir, 'fs-root');
  mkdirSync(root);
  await sameChecks(t, new FsStore(root), 3 * 1024 * 1024 + 17);
  t.notOk(readdirSync(join(root, 'c1')).some((f) => f.includes('.part-')), 'no temporary file is left');

  await t.rejects(checkStore(new FsStore(join(dir, 'no-such-mount'))), { name: 'StorageError', message: /fs .*no-such-mount: writing of a probe object failed: .*ENOENT/ },
    'a missing directory (an unmounted NFS share) is refused, not created');
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  await t.rejects(checkStore(new FsStore(file)), { message: /not a directory/ });
});

t.test('s3: an S3-compatible server on loopback', async (t) => {
  const settings = { endpoint: s3.endpoint, bucket: 'backups', prefix: 'kunlun/test', region: 'us-east-1' };
  // A small part size, so the large object goes as a multipart upload of several parts.
  await sameChecks(t, new S3Store(settings, S3_KEYS, 1024 * 1024 * 5), 11 * 1024 * 1024 + 5);

  await t.rejects(checkStore(new S3Store({ ...settings, bucket: 'no-such-bucket' }, S3_KEYS)), { name: 'StorageError', message: /s3 no-such-bucket\/kunlun\/test\/ at http.*: writing of a probe object failed: .*NoSuchBucket/ });
  const wrongKeys = { accessKeyId: 'WRONGKEY', secretAccessKey: 'wrong-secret-value' };
  const err = await checkStore(new S3Store(settings, wrongKeys)).then(() => null, (e: Error) => e);
  t.type(err, StorageError, 'wrong credentials are refused');
  t.match(err?.message, /InvalidAccessKeyId/);
  t.notMatch(err?.message, /wrong-secret-value/, 'the secret is not in the error');
});

t.test('s3 keys come from a file or the environment, never from the settings', async (t) => {
  const f = join(dir, 's3-keys');
  writeFileSync(f, '# keys of the backup bucket\naccess_key_id = S3RVER\nsecret_access_key = S3RVER\n', { mode: 0o600 });
  t.same(s3Keys({ credentialsFile: f, credentialsEnv: null }), S3_KEYS);
  t.same(s3Keys({ credentialsFile: null, credentialsEnv: 'KB_S3' }, { KB_S3_ACCESS_KEY_ID: 'a', KB_S3_SECRET_ACCESS_KEY: 'b', KB_S3_SESSION_TOKEN: 'c' }), { accessKeyId: 'a', secretAccessKey: 'b', sessionToken: 'c' });
  t.equal(s3Keys({ credentialsFile: null, credentialsEnv: null }), undefined, 'neither: the SDK default chain');
  t.throws(() => s3Keys({ credentialsFile: null, credentialsEnv: 'KB_S3' }, { KB_S3_ACCESS_KEY_ID: 'a' }), { message: /credentials_env KB_S3: needs KB_S3_ACCESS_KEY_ID, KB_S3_SECRET_ACCESS_KEY/ });
  const warnings: string[] = [];
  const loose = join(dir, 's3-keys-loose');
  writeFileSync(loose, 'access_key_id = S3RVER\nsecret_access_key = S3RVER\n', { mode: 0o644 });
  s3Keys({ credentialsFile: loose, credentialsEnv: null }, {}, (m) => warnings.push(m));
  t.match(warnings, [/s3-keys-loose holds a secret but is mode 0644/], 'a file others can read is warned about');

  const store = openStore({ stype: 's3', endpoint: s3.endpoint, bucket: 'backups', prefix: 'via-file', region: 'us-east-1', credentialsFile: f, credentialsEnv: null, path: null, hostaddr: null, port: null });
  await checkStore(store);
});

t.test('HDFS needs a configured client', (t) => {
  const s = { stype: 'HDFS', hostaddr: '10.0.0.9', port: 9000, path: null, endpoint: null, bucket: null, prefix: null, region: null, credentialsFile: null, credentialsEnv: null } as const;
  t.throws(() => openStore(s, {}), { name: 'StorageError', message: /stype HDFS needs an HDFS client: set hdfs_client/ });
  t.equal(openStore(s, { hdfsClient: '/opt/hadoop/bin/hdfs' }).describe, 'HDFS 10.0.0.9:9000/kunlun_backup');
  t.end();
});
