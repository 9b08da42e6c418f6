// manual_backup_cluster end to end on the rebuild test's shard (AgentShard: real managers, agent and
// MariaDB; one fixture for both, to keep the suite's time): refusals by field, a backup into an fs and
// an s3 storage (s3rver on loopback), the node chosen (a replica, never the primary), the manifest
// next to the data (sizes and SHA-256 of what is stored, the GTID position at the copy point), the
// data a real xbstream that mbstream extracts, and the listing through Emit, REST and the
// cluster_coldbackups rows XPanel reads.
import type { Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { RowDataPacket } from 'mysql2/promise';
import { mariadbBackupBinaries } from '../../src/launcher/server-binaries.js';
import { S3Store } from '../../src/backup-storage/index.js';
import type { BackupManifest } from '../../src/backup/manifest.js';
import { S3_KEYS, startS3, type TestS3 } from '../helpers/s3-server.js';
import { checksumsDigest } from '../../src/backup/verify.js';
import { caughtUp, tableChecksums, waitFor, type AgentShard } from './agent-shard.js';

type Entry = { shard_id: string; job_id: string; status: string; step: string; node: string; why: string; bytes: number; gtid?: string; manifest_key?: string };

export async function backupChecks(t: Test, bed: AgentShard): Promise<void> {
  const env = bed.env;
  const s = await bed.settled();
  const fsDir = join(env.dir, 'backups');
  mkdirSync(fsDir, { recursive: true });
  const s3: TestS3 = await startS3(join(env.dir, 's3'), ['kunlun-backups']);
  t.teardown(() => s3.close());
  const cred = join(env.dir, 's3.keys');
  writeFileSync(cred, `access_key_id = ${S3_KEYS.accessKeyId}\nsecret_access_key = ${S3_KEYS.secretAccessKey}\n`, { mode: 0o600 });
  await env.run('create_backup_storage', { name: 'local', stype: 'fs', path: fsDir });
  await env.run('create_backup_storage', { name: 'bucket', stype: 's3', endpoint: s3.endpoint, bucket: 'kunlun-backups', prefix: 'bk', credentials_file: cred });

  const leader = await env.leader();
  const none = await env.emit(leader, 'manual_backup_cluster', {});
  t.equal(String(none.error_code), '70025', `cluster_id missing: ${none.error_info}`);
  t.match(none.error_info, /cluster_id/);
  const unknown = await env.emit(leader, 'manual_backup_cluster', { cluster_id: '999' });
  t.equal(String(unknown.error_code), '70025', `an unknown cluster: ${unknown.error_info}`);
  const noStore = await env.emit(leader, 'manual_backup_cluster', { cluster_id: String(bed.cluster), backup_storage: 'nowhere' });
  t.equal(String(noStore.error_code), '70204', `an unknown storage: ${noStore.error_info}`);
  t.match(noStore.error_info, /paras\.backup_storage/);

  // Rows to back up, everywhere before the copy.
  const admin = await bed.adminConnection(s.primary.port);
  await admin.query('CREATE DATABASE IF NOT EXISTS bk_check');
  await admin.query('CREATE TABLE IF NOT EXISTS bk_check.t (id INT PRIMARY KEY, v VARCHAR(32)) ENGINE=InnoDB');
  await admin.query('INSERT INTO bk_check.t VALUES ?', [Array.from({ length: 500 }, (_, i) => [i, `row ${i}`])]);
  for (const n of s.nodes.filter((x) => x.id !== s.primary.id)) {
    const rc = await bed.adminConnection(n.port);
    await caughtUp(admin, rc, 30).finally(() => rc.end());
  }
  const [[pos]] = await admin.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS g');
  const gtidAtPrimary = String(pos!.g);
  const sumsAtPrimary = checksumsDigest(await tableChecksums(admin));
  await admin.end();

  const jobs: { job: number; storage: string; manifest: string }[] = [];
  for (const storage of ['local', 'bucket']) {
    const t0 = Date.now();
    // The fs backup is verified: restored into a scratch server, checked, its checksums taken.
    const verify = storage === 'local' ? '1' : '0';
    const a = await env.run('manual_backup_cluster', { cluster_id: String(bed.cluster), backup_storage: storage, verify }, 120_000);
    t.comment(`manual_backup_cluster into ${storage}: ${Date.now() - t0} ms`);
    const shards = (a.attachment as { shards: Entry[] }).shards;
    t.equal(shards.length, 1, 'one shard backup per shard');
    const e = shards[0]!;
    t.equal(e.status, 'done');
    t.not(e.node, `${s.primary.hostaddr}:${s.primary.port}`, `the primary is not loaded: ${e.node} (${e.why})`);
    t.match(e.why, /replica/);
    t.ok(e.bytes > 1_000_000, `bytes streamed: ${e.bytes}`);
    t.equal(e.gtid, gtidAtPrimary, 'the GTID position at the copy point is the primary\'s (no writes since)');

    const read = async (key: string): Promise<Buffer> => {
      if (storage === 'local') return readFileSync(join(fsDir, key));
      const store = new S3Store({ endpoint: s3.endpoint, bucket: 'kunlun-backups', prefix: 'bk', region: 'us-east-1' }, S3_KEYS);
      const chunks: Buffer[] = [];
      for await (const c of await store.get(key)) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    };
    const m = JSON.parse((await read(e.manifest_key!)).toString('utf8')) as BackupManifest;
    const data = await read(m.data.key);
    t.equal(data.length, m.data.bytes, 'the stored size is the manifest\'s');
    t.equal(createHash('sha256').update(data).digest('hex'), m.data.sha256, 'the stored SHA-256 is the manifest\'s');
    const raw = gunzipSync(data);
    t.equal(raw.length, m.stream.bytes, 'uncompressed, the stream\'s size');
    t.equal(createHash('sha256').update(raw).digest('hex'), m.stream.sha256, 'uncompressed, the stream\'s SHA-256');
    t.match(m, { cluster_id: bed.cluster, shard_id: bed.shard, storage, binlog: { gtid: gtidAtPrimary }, node: { hostaddr: '127.0.0.1' } });
    t.match(m.tool_version, /\d+\.\d+/, `tool version ${m.tool_version}`);
    t.ok(Date.parse(m.ended_at) >= Date.parse(m.started_at), 'start and end times');
    if (storage === 'local') {
      // A real backup: mbstream extracts it and it holds the test's table.
      const x = join(env.dir, 'extracted');
      mkdirSync(x);
      const r = spawnSync(mariadbBackupBinaries().mbstream, ['-x', '-C', x], { input: raw });
      t.equal(r.status, 0, `mbstream -x: ${r.stderr?.toString().slice(-300)}`);
      t.ok(existsSync(join(x, 'ibdata1')) && readdirSync(x).includes('cmgr_chaos'), 'the extracted backup has ibdata1 and the test schema');
    }
    jobs.push({ job: Number(e.job_id), storage, manifest: e.manifest_key! });
    if (verify === '1') {
      const st = await env.emit(leader, 'get_status', {}, e.job_id);
      const v = (st.attachment as { verify?: { gtid: string; gtid_slave_pos: string; tables: number; rows: number; checksums_sha256: string; seconds: number } } | null)?.verify;
      t.ok(v !== undefined, `the shard backup's result holds what verify found: ${JSON.stringify(v)}`);
      t.equal(v?.gtid, gtidAtPrimary, 'the restored copy is at the manifest\'s GTID position');
      t.equal(v?.gtid_slave_pos, gtidAtPrimary, 'the restored replica had applied up to it');
      t.equal(v?.checksums_sha256, sumsAtPrimary, 'the restored tables\' checksums are the primary\'s');
      t.ok((v?.tables ?? 0) > 0 && (v?.rows ?? 0) >= 500, `tables ${v?.tables}, rows ${v?.rows}, ${v?.seconds} s`);
    }
  }

  // Listed through Emit, REST and the cluster_coldbackups rows XPanel reads.
  const listed = await env.emit(leader, 'get_cluster_backups', { cluster_id: String(bed.cluster) });
  const list = (listed.attachment as { list_backup: Array<{ job_id: number; backup_storage: string; status: string; gtid: string; manifest_key: string }> }).list_backup;
  t.same(list.map((b) => [b.job_id, b.backup_storage, b.status, b.gtid, b.manifest_key]), jobs.map((j) => [j.job, j.storage, 'done', gtidAtPrimary, j.manifest]), 'get_cluster_backups lists both');
  const rest = (await env.group.get<Array<{ job_id: number }>>(leader, `/api/v1/backups?cluster_id=${bed.cluster}`)) ?? [];
  t.same(rest.map((b) => b.job_id), jobs.map((j) => j.job), 'GET /api/v1/backups lists both');
  const anon = await fetch(`${leader.url}/api/v1/backups`);
  t.equal(anon.status, 401, 'GET /api/v1/backups needs a token');
  const rows = await waitFor('the cluster_coldbackups rows', async () => {
    const r = await env.metaRows<RowDataPacket>(
      'SELECT c.cluster_id, c.shard_id, c.backup_type, c.status, c.end_ts, c.memo, c.backup_addr, s.name FROM cluster_coldbackups c JOIN backup_storage s ON s.id = c.storage_id WHERE c.cluster_id = ? AND c.status = ? ORDER BY c.id',
      [bed.cluster, 'done'],
    );
    return r.length === 2 ? r : undefined;
  }, 20_000);
  t.same(rows.map((r): unknown[] => [Number(r.shard_id), String(r.backup_type), String(r.name), (JSON.parse(String(r.memo)) as { job_id: number }).job_id]), jobs.map((j) => [bed.shard, 'storage', j.storage, j.job]), 'one done row per shard backup, in its storage');
  t.match(String(rows[0]!.backup_addr), new RegExp(`^file://${fsDir}/cluster-${bed.cluster}/shard-${bed.shard}/job-\\d+$`));
  t.ok(rows.every((r) => r.end_ts !== null), 'end_ts set');

  // A storage holding backups of a live cluster is not deleted.
  const del = await env.emit(leader, 'delete_backup_storage', { name: 'local' });
  t.equal(String(del.error_code), '70204', `delete_backup_storage refused: ${del.error_info}`);
  t.match(del.error_info, new RegExp(`cluster ${bed.cluster}: backup ${jobs[0]!.job}`));

  // Retention: a third backup keeping 1 per shard deletes both older ones, from their storages and rows.
  const third = await env.run('manual_backup_cluster', { cluster_id: String(bed.cluster), backup_storage: 'local', keep_count: '1' }, 120_000);
  const kept = Number((third.attachment as { shards: Entry[] }).shards[0]!.job_id);
  const after = await env.emit(leader, 'get_cluster_backups', { cluster_id: String(bed.cluster) });
  t.same((after.attachment as { list_backup: Array<{ job_id: number }> }).list_backup.map((b) => b.job_id), [kept], 'only the newest is listed');
  t.notOk(existsSync(join(fsDir, jobs[0]!.manifest)), 'the fs backup\'s manifest is gone');
  t.notOk(existsSync(join(fsDir, jobs[0]!.manifest.replace('manifest.json', 'data.xbstream.gz'))), 'and its data');
  const s3store = new S3Store({ endpoint: s3.endpoint, bucket: 'kunlun-backups', prefix: 'bk', region: 'us-east-1' }, S3_KEYS);
  t.same(await s3store.list(`cluster-${bed.cluster}/`), [], 'the s3 backup\'s objects are gone');
  await waitFor('the deleted backups\' rows to go', async () => {
    const r = await env.metaRows<RowDataPacket>('SELECT memo FROM cluster_coldbackups WHERE cluster_id = ?', [bed.cluster]);
    const ids = r.map((x) => (JSON.parse(String(x.memo)) as { job_id: number }).job_id);
    return ids.length === 1 && ids[0] === kept ? true : undefined;
  }, 20_000);
  await env.run('delete_backup_storage', { name: 'bucket' });
  t.pass('a storage whose backups retention deleted can be deleted');

  // The leader killed while a backup streams (paced at 4 MB/s): the next leader streams it again
  // under the same keys; the job ends done once, with one child and one valid backup.
  const lead = await env.leader();
  const id = await env.submit('manual_backup_cluster', { cluster_id: String(bed.cluster), backup_storage: 'local', pv_limit: '4' }, lead);
  await waitFor('the backup to stream', async () => {
    const st = await env.emit(lead, 'get_status', {}, id).catch(() => null);
    const e = (st?.attachment as { shards?: Entry[] } | null)?.shards?.[0];
    return e?.step === 'backup_data' ? true : undefined;
  }, 60_000);
  await env.group.kill9(lead);
  t.comment(`killed leader ${lead.id} while the backup streamed`);
  const end = await env.wait(id, 120_000);
  env.group.start(lead);
  t.equal(end.status, 'done', `the job ended done after the leader change (${end.error_code} ${end.error_info})`);
  const shards = (end.attachment as { shards: Entry[] }).shards;
  t.equal(shards.length, 1, 'one shard_coldbackup child: the new leader did not start another');
  const m = JSON.parse(readFileSync(join(fsDir, shards[0]!.manifest_key!), 'utf8')) as BackupManifest;
  const data = readFileSync(join(fsDir, m.data.key));
  t.equal(createHash('sha256').update(data).digest('hex'), m.data.sha256, 'the backup streamed again is whole');
  // The projection writes the row after the job's end is applied (a moment later, more under load).
  await waitFor('its job row to say done', async () => {
    const rows = await env.metaRows<RowDataPacket>('SELECT status FROM cluster_general_job_log WHERE id = ?', [Number(id)]);
    return rows.length === 1 && String(rows[0]!.status) === 'done' ? true : undefined;
  }, 30_000);
  t.pass('its job row is done');
  await waitFor('the restarted member to answer', async () => ((await env.group.get(lead, '/api/v1/leader')) !== null ? true : undefined), 30_000);
}
