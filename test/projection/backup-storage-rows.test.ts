// The backup_storage rows on a real MariaDB, as XPanel reads them (id, name, stype, hostaddr, port):
// the world's storages are written with the table's stype spelling and no key; a row another tool
// wrote (the original's HDFS row) is kept; a storage the world removed loses its row, keeping its id
// while it lives.
import t from 'tap';
import type { Connection } from 'mysql2/promise';
import type { BackupStorageView } from '../../src/actors/index.js';
import { createSchema, projectTopology, readTopology } from '../../src/metadata/index.js';
import { backupStorageRows } from '../../src/projection/backup-storage-rows.js';
import { startMetaServer, type MetaServer } from '../metadata/fixtures.js';

let meta: MetaServer;
let c: Connection;

t.before(async () => {
  meta = await startMetaServer('meta-backup-storage');
  c = await meta.connect();
  await createSchema(c);
  // What the original's install scripts leave: an HDFS storage row.
  await c.query("INSERT INTO kunlun_metadata_db.backup_storage (name, stype, conn_str, hostaddr, port) VALUES ('hdfs_backup1', 'HDFS', 'hdfs://192.168.0.30:57040', '192.168.0.30', 57040)");
});
t.teardown(async () => {
  await c?.end().catch(() => undefined);
  await meta?.destroy();
});

const none = { path: null, hostaddr: null, port: null, endpoint: null, bucket: null, prefix: null, region: null, credentialsFile: null, credentialsEnv: null, createdAt: 1, changedAt: 1 };
const nfs: BackupStorageView = { ...none, name: 'nfs1', stype: 'fs', path: '/mnt/backups' };
const s3: BackupStorageView = { ...none, name: 's3main', stype: 's3', endpoint: 'http://10.0.0.7:9000', bucket: 'kunlun-backups', prefix: 'prod', region: 'us-east-1', credentialsFile: '/etc/kunlun/s3-keys' };

async function project(world: BackupStorageView[], index: number): Promise<void> {
  const cur = (await readTopology(c, { jobs: 'none' })).topology;
  await projectTopology(c, { ...cur, backupStorages: backupStorageRows(world, cur.backupStorages) }, { index, term: 1 });
}

const rows = async () => meta.query('SELECT id, name, stype, conn_str, hostaddr, port, user_name, passwd, extra FROM kunlun_metadata_db.backup_storage ORDER BY id');

t.test('the world\'s storages are written beside the original\'s row; removed ones go', async (t) => {
  await project([nfs, s3], 10);
  const r = await rows();
  t.match(r, [
    { id: 1, name: 'hdfs_backup1', stype: 'HDFS', hostaddr: '192.168.0.30', port: 57040, extra: null },
    { id: 2, name: 'nfs1', stype: 'OTHER', conn_str: 'file:///mnt/backups', hostaddr: null, port: null, user_name: null, passwd: null },
    { id: 3, name: 's3main', stype: 'S3', conn_str: 's3://kunlun-backups/prod', hostaddr: null, port: null, user_name: null, passwd: null },
  ]);
  t.same(JSON.parse(String(r[2]!.extra)), { managed_by: 'cluster_mgr', stype: 's3', endpoint: 'http://10.0.0.7:9000', bucket: 'kunlun-backups', prefix: 'prod', region: 'us-east-1', credentials: 'file /etc/kunlun/s3-keys' }, 'where the keys are, never a key');

  await project([{ ...s3, prefix: 'prod2' }], 11);
  t.match(await rows(), [
    { id: 1, name: 'hdfs_backup1' },
    { id: 3, name: 's3main', conn_str: 's3://kunlun-backups/prod2' },
  ], 'nfs1 removed: its row is deleted; s3main keeps its id; the original\'s row stays');
  t.equal((await rows()).length, 2);
});
