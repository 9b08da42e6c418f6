// The metadata projection of a member group whose metadata primary waits for a semi-sync ACK that no
// replica sends (every replica gone; here a lone node with the master side on, as the shard HA leaves
// a one-node shard): the write does not return, so nothing reaches kunlun_metadata_db. The leader
// keeps waiting (safe: no async fallback) but says so, with the server's reason, and once the primary
// can commit again everything up to the leader's applied index is projected, job rows included.
import t from 'tap';
import { readFileSync, rmSync } from 'node:fs';
import { makeRunDir } from '../../src/launcher/index.js';
import { ADMIN, startMetaServer, type MetaServer } from '../metadata/fixtures.js';
import { MemberGroup, waitFor } from '../helpers/member-group.js';

const dir = makeRunDir('projection-stalled');
let meta: MetaServer;
let group: MemberGroup;

t.teardown(async () => {
  await group?.stopAll();
  await meta?.destroy();
  if (process.env.KEEP_RUN_DIR === undefined) rmSync(dir, { recursive: true, force: true });
});

const q = (sql: string, params: unknown[] = []) => meta.query(sql, params);

const logLines = (file: string): Array<Record<string, unknown>> =>
  readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

interface Member { role: string; applied: number; term: number; metadata_projected: { index: number; term: number } }

t.test('a projection held by a semi-sync wait is reported with the reason, and catches up once released', async (t) => {
  meta = await startMetaServer('projection-stalled-meta');
  // Commits on this node now wait for an ACK from a replica that does not exist.
  await q('SET GLOBAL rpl_semi_sync_master_enabled = ON');
  const seed = `${meta.server.host}:${meta.server.port}`;
  group = new MemberGroup(dir, ['nats_url=', `meta_group_seeds=${seed}`, `meta_user=${ADMIN.user}`, `meta_pwd=${ADMIN.password}`, 'metadata_stall_warn_ms=1000']);
  await group.init(1);
  group.startAll();
  const m = group.members[0]!;
  await waitFor('the member to lead', async () => ((await group.get<Member>(m, '/api/v1/member'))?.role === 'leader' ? true : undefined), 60_000);

  const stall = await waitFor('the stall to be logged', () => Promise.resolve(logLines(m.logFile).find((l) => l.level === 'warn' && String(l.msg).startsWith('metadata projection stalled'))), 30_000);
  t.equal(stall.node, seed, 'names the metadata node');
  t.match(stall.session, { state: /semi-sync ACK/ }, 'with the server\'s reason for the wait');
  t.ok(Number(stall.waited_ms) >= 1000, `after metadata_stall_warn_ms (${String(stall.waited_ms)} ms)`);
  t.notMatch(readFileSync(m.logFile, 'utf8'), new RegExp(ADMIN.password), 'no password in the log');

  // A job accepted meanwhile.
  const res = await group.fetch(m, '/HttpService/Emit', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ version: '1.0', job_id: '', job_type: 'create_machine', timestamp: '1', user_name: 'kunlun_test', paras: { hostaddr: '10.50.0.1', machine_type: 'computer', rack_id: '0', comp_datadir: '/data/comp', total_mem: '1024', total_cpu_cores: '2' } }),
  });
  const job = (await res.json()) as { status: string; job_id: string };
  t.equal(job.status, 'accept', JSON.stringify(job));

  // A replica comes back, or the operator turns the master side off: the waiting commit returns.
  await q('SET GLOBAL rpl_semi_sync_master_enabled = OFF');
  const done = await waitFor('the projection to reach the applied index', async () => {
    const info = await group.get<Member>(m, '/api/v1/member');
    if (!info || info.metadata_projected.index !== info.applied) return undefined;
    const st = await q('SELECT applied_index FROM kunlun_metadata_db.cluster_mgr_projection WHERE id = 1');
    return Number(st[0]?.applied_index) === info.applied ? info : undefined;
  }, 30_000);
  t.ok(done.applied > 0, `projected up to index ${done.applied}`);
  const rows = await waitFor('the job row', async () => {
    const r = await q('SELECT job_type FROM kunlun_metadata_db.cluster_general_job_log WHERE id = ?', [Number(job.job_id)]);
    return r.length > 0 ? r : undefined;
  }, 20_000);
  t.equal(rows[0]!.job_type, 'create_machine', 'the job row reached the metadata shard');
  t.ok(logLines(m.logFile).some((l) => l.msg === 'metadata projection pass ended after a stall'), 'the end of the stall is logged');
});
