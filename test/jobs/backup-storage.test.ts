// The backup-storage jobs through the Emit endpoint of a member running in this process, as XPanel and
// the original's clients send them: create (the storage is checked with a probe object first), the
// refusals by field with the original's numbers, get_backup_storage, update, delete; and the world's
// refusal to delete a storage that something still refers to.
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { makeRunDir } from '../../src/launcher/index.js';
import { createLogger } from '../../src/log/logger.js';
import { startMember, type MemberHandle } from '../../src/member/member.js';
import { deleteRefusal } from '../../src/actors/commands/backup-storage.js';
import { removeDir, waitFor } from '../agent/helpers.js';
import { bearer, testTokens } from '../helpers/api-tokens.js';
import { singleMemberConfig } from '../helpers/single-member.js';
import { startS3, type TestS3 } from '../helpers/s3-server.js';

const dir = makeRunDir('backup-storage-jobs');
let member: MemberHandle;
let s3: TestS3;

t.before(async () => {
  s3 = await startS3(join(dir, 's3'), ['kunlun-backups']);
  const cfg = await singleMemberConfig(dir);
  member = await startMember(cfg, createLogger({ level: 'debug', file: join(dir, 'manager') }));
  await waitFor('the member to lead', 20_000, () => (member.runtime.isLeader ? true : undefined));
});

t.teardown(async () => {
  await member?.stop().catch(() => undefined);
  await s3?.close();
  await delay(1_000);
  if (process.env.KEEP_RUN_DIR === undefined) removeDir(dir);
});

type Answer = { status: string; error_code: string; error_info: string; job_id?: string; attachment?: Record<string, unknown> };

async function emit(jobType: string, paras: unknown, role: 'admin' | 'operator' | 'read' = 'admin', jobId = ''): Promise<Answer> {
  const body = { version: '1.0', job_id: jobId, job_type: jobType, user_name: 'xpanel', timestamp: '1', paras };
  const r = await fetch(`${member.url}/HttpService/Emit`, { method: 'POST', headers: { ...bearer(testTokens(dir), role), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return (await r.json()) as Answer;
}

/** Submits a job and waits for its end; the last get_status answer. */
async function run(jobType: string, paras: unknown): Promise<Answer> {
  const a = await emit(jobType, paras);
  if (a.status !== 'accept') return a;
  return waitFor(`${jobType} job ${a.job_id} to end`, 30_000, async () => {
    const st = await emit('get_status', [], 'read', a.job_id);
    return st.status === 'done' || st.status === 'failed' ? st : undefined;
  });
}

const list = async (): Promise<Array<Record<string, string>>> => {
  const a = await emit('get_backup_storage', [], 'read');
  t.equal(a.status, 'done');
  return (a.attachment as { list_backup_storage: Array<Record<string, string>> }).list_backup_storage;
};

t.test('backup storage jobs', async (t) => {
  const nfs = join(dir, 'nfs');
  mkdirSync(nfs);

  await t.test('create an fs storage: checked, recorded, listed as XPanel reads it', async (t) => {
    const a = await run('create_backup_storage', { name: 'nfs1', stype: 'fs', path: nfs });
    t.equal(a.status, 'done', a.error_info);
    t.same(await list(), [{ name: 'nfs1', stype: 'fs', hostaddr: '', port: '', conn_str: `file://${nfs}`, path: nfs }]);
    const j = member.runtime.world.job(Number(a.job_id))!;
    t.equal(j.steps.filter((s) => s.ok).map((s) => s.step).join(','), 'check_storage,register');
    t.comment(`create_backup_storage (fs): ${j.endedAt! - j.createdAt} ms from its creation to its end`);
  });

  await t.test('refusals by field, with the original\'s numbers; nothing is created', async (t) => {
    const before = member.runtime.world.view().jobs.length;
    const cases: Array<[string, unknown, string, RegExp]> = [
      ['create_backup_storage', { name: 'nfs1', path: nfs }, '70201', /paras\.name: backup storage nfs1 exists/],
      ['create_backup_storage', { stype: 'fs', path: nfs }, '70101', /paras\.name: is required/],
      ['create_backup_storage', { name: 'x', stype: 'EBS' }, '70203', /paras\.stype: must be one of fs, s3, HDFS/],
      ['create_backup_storage', { name: 'x', stype: 'fs' }, '70101', /paras\.path: an fs backup storage needs path/],
      ['create_backup_storage', { name: 'x', stype: 'fs', path: 'relative/dir' }, '70101', /paras\.path: must be an absolute path/],
      ['create_backup_storage', { name: 'x', stype: 'fs', path: nfs, bucket: 'b-1' }, '70101', /paras\.bucket: does not apply to stype fs/],
      ['create_backup_storage', { name: 'x', stype: 's3', region: 'us-east-1' }, '70101', /paras\.bucket: an s3 backup storage needs bucket/],
      ['create_backup_storage', { name: 'x', stype: 's3', bucket: 'kunlun-backups', credentials_file: '/k', credentials_env: 'K' }, '70101', /paras\.credentials_env: give credentials_file or credentials_env, not both/],
      ['create_backup_storage', { name: 'x', stype: 's3', bucket: 'kunlun-backups', port: '9000' }, '70101', /paras\.port: does not apply to stype s3/],
      ['create_backup_storage', { name: '../x', path: nfs }, '70101', /paras\.name: must be a name of letters/],
      ['update_backup_storage', { name: 'nope', path: nfs }, '70202', /paras\.name: backup storage nope does not exist/],
      ['delete_backup_storage', { name: 'nope' }, '70202', /paras\.name: backup storage nope does not exist/],
      ['delete_backup_storage', [], '70101', /paras\.name: is required/],
    ];
    for (const [type, paras, code, info] of cases) {
      const a = await emit(type, paras);
      t.equal(a.status, 'failed', `${type} ${JSON.stringify(paras)}`);
      t.equal(a.error_code, code, `${type} ${JSON.stringify(paras)}: error_code`);
      t.match(a.error_info, info);
    }
    t.equal(member.runtime.world.view().jobs.length, before, 'no job was created');
  });

  await t.test('a directory that does not exist fails the job with the reason; nothing is recorded', async (t) => {
    const a = await run('create_backup_storage', { name: 'gone', path: join(dir, 'unmounted') });
    t.equal(a.status, 'failed');
    t.equal(a.error_code, '70204');
    t.match(a.error_info, /backup storage gone cannot be used: fs .*unmounted: writing of a probe object failed: .*ENOENT/);
    t.equal(member.runtime.world.backupStorage('gone'), null);
  });

  await t.test('HDFS without an HDFS client configured is refused naming the setting; no job', async (t) => {
    const before = member.runtime.world.view().jobs.length;
    const a = await emit('create_backup_storage', { name: 'hdfs_backup1', stype: 'HDFS', hostaddr: '192.168.0.30', port: '57040' });
    t.equal(a.status, 'failed');
    t.equal(a.error_code, '70203');
    t.match(a.error_info, /paras\.stype: stype HDFS needs an HDFS client: set hdfs_client/);
    t.equal(member.runtime.world.view().jobs.length, before, 'no job was created');
  });

  await t.test('s3: keys from the environment; wrong keys are refused at create time', async (t) => {
    process.env.KB_TEST_S3_ACCESS_KEY_ID = 'S3RVER';
    process.env.KB_TEST_S3_SECRET_ACCESS_KEY = 'S3RVER';
    process.env.KB_BAD_S3_ACCESS_KEY_ID = 'NOTAKEY';
    process.env.KB_BAD_S3_SECRET_ACCESS_KEY = 'not-the-secret-9';
    const s3paras = { stype: 's3', endpoint: s3.endpoint, bucket: 'kunlun-backups', prefix: 'prod', region: 'us-east-1' };
    const bad = await run('create_backup_storage', { name: 's3bad', ...s3paras, credentials_env: 'KB_BAD_S3' });
    t.equal(bad.status, 'failed');
    t.match(bad.error_info, /backup storage s3bad cannot be used: s3 kunlun-backups\/prod\/ at .*InvalidAccessKeyId/);
    t.notMatch(JSON.stringify(member.runtime.world.view()), /not-the-secret-9/, 'no key in the world');
    const ok = await run('create_backup_storage', { name: 's3main', ...s3paras, credentials_env: 'KB_TEST_S3' });
    t.equal(ok.status, 'done', ok.error_info);
    const j = member.runtime.world.job(Number(ok.job_id))!;
    t.comment(`create_backup_storage (s3, s3rver on loopback): ${j.endedAt! - j.createdAt} ms from its creation to its end`);
    const row = (await list()).find((x) => x.name === 's3main');
    t.same(row, { name: 's3main', stype: 's3', hostaddr: '', port: '', conn_str: 's3://kunlun-backups/prod', endpoint: s3.endpoint, bucket: 'kunlun-backups', prefix: 'prod', region: 'us-east-1', credentials: 'env KB_TEST_S3' });
  });

  await t.test('update: the settings change after a new check; delete: the storage is gone', async (t) => {
    const other = join(dir, 'nfs2');
    mkdirSync(other);
    const u = await run('update_backup_storage', { name: 'nfs1', path: other });
    t.equal(u.status, 'done', u.error_info);
    t.equal(member.runtime.world.backupStorage('nfs1')?.path, other);
    const d = await run('delete_backup_storage', { name: 'nfs1' });
    t.equal(d.status, 'done', d.error_info);
    t.same((await list()).map((x) => x.name), ['s3main']);
    const rest = (await (await fetch(`${member.url}/api/v1/backup-storages`, { headers: bearer(testTokens(dir), 'read') })).json()) as Array<Record<string, unknown>>;
    t.match(rest, [{ name: 's3main', stype: 's3', bucket: 'kunlun-backups', credentialsEnv: 'KB_TEST_S3' }], 'the REST list says the same');
  });
});

t.test('a storage something refers to is not deleted (the refusal the delete job and the command give)', (t) => {
  t.equal(deleteRefusal('nfs1', []), null);
  t.match(deleteRefusal('nfs1', ['cluster 3: backup 12']), { code: 'invalid_state', errno: 70204, field: 'paras.name', reason: 'backup storage nfs1 still holds backups: cluster 3: backup 12' });
  t.end();
});
