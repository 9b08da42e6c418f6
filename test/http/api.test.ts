// The HTTP API of a real 3-member group over a real metadata shard (one MariaDB node, which is also
// the storage node of an adopted cluster) and a real PostgreSQL compute node: Emit on followers (writes
// relayed to the leader) and on the leader, get_status, the sync jobs, REST, the event stream,
// OpenAPI, and the table of malformed requests that must each answer `failed` and change nothing.
import t from 'tap';
import type { RowDataPacket } from 'mysql2/promise';
import { rmSync } from 'node:fs';
import { makeRunDir, MariaDbInstance, PostgresInstance } from '../../src/launcher/index.js';
import { createSchema } from '../../src/metadata/index.js';
import { MemberGroup, waitFor, type MemberProc } from '../helpers/member-group.js';
import { SseClient } from './sse-client.js';

const admin = { user: 'clustmgr', password: 'clustmgr_pwd' };
const compAdmin = { user: 'abc', password: 'comp-secret' };
const dir = makeRunDir('http-api-test');
let meta: { primary: MariaDbInstance; nodes: MariaDbInstance[] };
let pgi: PostgresInstance;
let group: MemberGroup;
let leader: MemberProc;
let follower: MemberProc;

type Answer = Record<string, unknown> & { status: string; error_code: string; error_info: string; job_id?: string; job_type?: string; attachment: Record<string, unknown> | null };

async function emitRaw(m: MemberProc, body: string): Promise<Answer> {
  const res = await group.fetch(m, '/HttpService/Emit', { method: 'POST', body, headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(40_000) });
  if (res.status !== 200) throw new Error(`Emit answered HTTP ${res.status}: ${await res.text()}`);
  return JSON.parse(await res.text()) as Answer;
}
const emit = (m: MemberProc, job_type: string, paras: unknown, job_id = '') =>
  emitRaw(m, JSON.stringify({ version: '1.0', job_id, job_type, timestamp: '1', user_name: 'kunlun_test', paras }));
const getJson = async <T>(m: MemberProc, path: string): Promise<{ status: number; body: T }> => {
  const res = await group.fetch(m, path, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as T };
};

interface Member { member: string; role: string; applied: number; events: number; digest: string }
interface View { next: { job: number; cluster: number }; clusters: { id: number }[]; jobs: { id: number }[] }

t.before(async () => {
  const t0 = Date.now();
  pgi = new PostgresInstance({ dir: `${dir}/pg`, admin: compAdmin });
  const pgStarted = pgi.start();
  // One plain writable node. It is also the only node of the adopted shard 11, which the shard HA makes
  // a semi-sync primary: with no replica to acknowledge and no async fallback every commit on it (the
  // metadata projection's too) would wait for ever, so here semi-sync gives up after a moment.
  const node = new MariaDbInstance({ dir: `${dir}/meta`, serverId: 1, admin, lowerCaseTableNames: true, semiSyncTimeoutMs: 500 });
  meta = { primary: node, nodes: [node] };
  await node.start();
  await pgStarted;
  t.comment(`MariaDB and PostgreSQL up after ${Date.now() - t0} ms`);
  const mport = meta.primary.port;
  const c = await meta.primary.connect({ database: undefined });
  await createSchema(c, { metaHaMode: 'no_rep' });
  await c.query('USE kunlun_metadata_db');
  const now = new Date();
  // A cluster made by other tools: one shard whose only node is this MariaDB, one compute node (the
  // PostgreSQL), and old job rows up to id 40 that new jobs must not collide with.
  await c.query(
    "INSERT INTO server_nodes (hostaddr, rack_id, datadir, logdir, wal_log_dir, total_mem, total_cpu_cores, svc_since, machine_type, port_range, used_port) VALUES ('127.0.0.1', '1', '/d', '/l', '/w', 4096, 8, ?, 'storage', '1-65535', ?)",
    [now, String(mport)],
  );
  await c.query("INSERT INTO server_nodes (hostaddr, rack_id, comp_datadir, total_mem, total_cpu_cores, svc_since, machine_type, port_range, used_port) VALUES ('127.0.0.1', '1', '/c', 2048, 4, ?, 'computer', '1-65535', ?)", [now, String(pgi.port)]);
  await c.query(
    "INSERT INTO db_clusters (id, name, nick_name, owner, ddl_log_tblname, business, ha_mode, when_created, memo) VALUES (7, 'cluster_1685613600_000007', 'legacy', 'abc', 'ddl_ops_log_cluster_1685613600_000007', 'kunlun', 'rbr', ?, ?)",
    [now, JSON.stringify({ computer_user: compAdmin.user, computer_passwd: compAdmin.password, innodb_size: 1 })],
  );
  await c.query("INSERT INTO shards (id, name, when_created, num_nodes, db_cluster_id, sync_num) VALUES (11, 'shard_1', ?, 1, 7, 1)", [now]);
  await c.query(
    "INSERT INTO shard_nodes (id, hostaddr, port, user_name, passwd, shard_id, db_cluster_id, svr_node_id, member_state, status, when_created) VALUES (21, '127.0.0.1', ?, ?, ?, 11, 7, 1, 'source', 'active', ?)",
    [mport, admin.user, admin.password, now],
  );
  await c.query("INSERT INTO comp_nodes (id, name, hostaddr, port, db_cluster_id, user_name, passwd, status, svr_node_id, when_created) VALUES (31, 'comp31', '127.0.0.1', ?, 7, ?, ?, 'active', 1, ?)", [
    pgi.port,
    compAdmin.user,
    compAdmin.password,
    now,
  ]);
  await c.query("INSERT INTO cluster_general_job_log (id, job_type, status, when_started, user_name, job_info) VALUES (40, 'create_cluster', 'done', ?, 'old_tool', '{}')", [now]);
  await c.end();
  group = new MemberGroup(dir, ['nats_url=', `meta_group_seeds=127.0.0.1:${mport}`, `meta_user=${admin.user}`, `meta_pwd=${admin.password}`]);
  await group.init(3);
  group.startAll();
  leader = await waitFor(
    'a leader that adopted cluster 7 and reserved ids above the old jobs',
    async () => {
      for (const m of group.members) {
        const info = await group.get<Member>(m, '/api/v1/member');
        if (info?.role !== 'leader') continue;
        const v = await group.get<View>(m, '/api/v1/view');
        if (v?.clusters.some((x) => x.id === 7) && v.next.job > 40) return m;
      }
      return undefined;
    },
    60_000,
  );
  follower = group.members.find((m) => m !== leader)!;
  t.comment(`group ready (cluster 7 adopted) after ${Date.now() - t0} ms`);
});

t.teardown(async () => {
  const t0 = Date.now();
  await group?.stopAll();
  await Promise.all(meta?.nodes.map((n) => n.kill9()) ?? []);
  await pgi?.kill9();
  if (process.env.KEEP_RUN_DIR === undefined) rmSync(dir, { recursive: true, force: true });
  t.comment(`teardown took ${Date.now() - t0} ms`);
});

const machine = (host: string, total_mem: string | number = '1024') => ({ hostaddr: host, machine_type: 'computer', rack_id: '0', comp_datadir: '/data/comp', total_mem, total_cpu_cores: '2' });

async function pollDone(m: MemberProc, jobId: string): Promise<Answer> {
  return waitFor(`job ${jobId} to end`, async () => {
    const a = await emit(m, 'get_status', {}, jobId);
    return a.status === 'done' || a.status === 'failed' ? a : undefined;
  });
}

t.test('Emit on a follower is relayed to the leader; get_status works on both; new ids are above the old job rows', async (t) => {
  const viaFollower = await emit(follower, 'create_machine', machine('10.20.0.1'));
  t.equal(viaFollower.status, 'accept', JSON.stringify(viaFollower));
  t.match(viaFollower.job_id, /^[0-9]+$/);
  t.ok(Number(viaFollower.job_id) > 40, `job id ${viaFollower.job_id} is above the history rows (40)`);
  const viaLeader = await emit(leader, 'create_machine', machine('10.20.0.2', 2048));
  t.equal(viaLeader.status, 'accept');
  t.ok(Number(viaLeader.job_id) > Number(viaFollower.job_id));
  for (const [m, id] of [[leader, viaFollower.job_id!], [follower, viaLeader.job_id!]] as const) {
    const end = await pollDone(m, id);
    t.equal(end.status, 'done', JSON.stringify(end));
    t.equal(end.job_id, id, 'job_id kept at the top level');
    t.equal(end.job_type, 'create_machine', 'job_type kept');
    t.equal(end.error_code, '0');
    t.ok(end.attachment && 'progress' in end.attachment && 'step' in end.attachment, 'progress and current step are in the attachment');
  }
  // The leader projects the jobs into kunlun_metadata_db, where the original's tools read them.
  const jobRows = await waitFor('the job rows in cluster_general_job_log', async () => {
    const c = await meta.primary.connect({ database: 'kunlun_metadata_db' });
    try {
      const [rows] = await c.query<RowDataPacket[]>('SELECT id, job_type, status FROM cluster_general_job_log WHERE id IN (?, ?) ORDER BY id', [Number(viaFollower.job_id), Number(viaLeader.job_id)]);
      return rows.length === 2 && rows.every((r) => r.status === 'done') ? rows : undefined;
    } finally {
      await c.end();
    }
  });
  t.same(jobRows.map((r) => [String(r.id), String(r.job_type)]), [[viaFollower.job_id, 'create_machine'], [viaLeader.job_id, 'create_machine']], 'both job rows are projected, done');
  // The body as sent is in the log (job_info's source), also when a follower relayed it (clients-and-agent.md §1.3, §3.3).
  const relayed = await group.get<{ envelope: unknown }>(follower, `/api/v1/jobs/${viaFollower.job_id}`);
  t.strictSame(relayed?.envelope, { version: '1.0', job_id: '', job_type: 'create_machine', timestamp: '1', user_name: 'kunlun_test', paras: machine('10.20.0.1') });
  // Right after the accept the follower already sees the job (ReadIndex before the read).
  const a = await emit(follower, 'create_machine', machine('10.20.0.3'));
  const s = await emit(follower, 'get_status', {}, a.job_id);
  t.not(s.error_code, '70104', 'a follower read sees a job accepted a moment before');
  t.equal(s.job_type, 'create_machine');
  await pollDone(follower, a.job_id!);
  const unknown = await emit(follower, 'get_status', [], '999999');
  t.same([unknown.status, unknown.error_code, unknown.job_id, unknown.job_type], ['failed', '70104', '999999', '']);
  t.match(unknown.error_info, /get_status: job_id: job "999999" does not exist/);
});

t.test('sync jobs answer from the world, the metadata shard and the instances', async (t) => {
  const sum = await emit(follower, 'get_cluster_summary', {});
  t.equal(sum.status, 'done');
  t.match(sum.attachment, { list_cluster: [{ cluster_id: '7', cluster_name: 'cluster_1685613600_000007', shards: '1', comps: '1' }] });
  const edition = await emit(follower, 'get_cluster_detail', []);
  t.same(edition.attachment, { work_mode: 'enterprise' });
  const detail = await emit(leader, 'get_cluster_detail', { cluster_id: '7' });
  t.equal(detail.status, 'done');
  t.match(detail.attachment, {
    cluster_id: '7',
    ha_mode: 'rbr',
    list_shard: [{ shard_id: '11', list_node: [{ node_id: '21', hostaddr: '127.0.0.1', port: String(meta.primary.port), master: 'true', member_state: 'source' }] }],
    list_comp: [{ comp_id: '31', port: String(pgi.port) }],
  });
  t.same((await emit(follower, 'get_meta_mode', {})).attachment, { mode: 'no_rep' });
  // The node starts read-only; the leader's shard HA makes the adopted primary writable shortly.
  const ms = await waitFor('the metadata node to be reported as a writable master', async () => {
    const a = await emit(follower, 'get_meta_summary', {});
    return (a.attachment?.list_meta as { master: string }[] | undefined)?.[0]?.master === 'true' ? a : undefined;
  });
  t.same(ms.attachment, { list_meta: [{ hostaddr: '127.0.0.1', port: String(meta.primary.port), status: 'online', master: 'true' }] });

  // Storage variable: read on a follower, set through a follower (relayed to the leader).
  const at = { hostaddr: '127.0.0.1', port: String(meta.primary.port) };
  const before = await emit(follower, 'get_variable', { ...at, variable: 'max_connections' });
  t.match(before, { status: 'done', error_code: '0', attachment: { result: 'true' } });
  const set = await emit(follower, 'set_variable', { ...at, variable: 'max_connections', type: 'int', value: '321' });
  // Answered when its job has ended, as the original answered, with the job's id and result.
  t.match(set, { status: 'done', error_code: '0', job_type: 'set_variable', attachment: { result: 'true', old_value: before.attachment?.value, new_value: '321' } }, JSON.stringify(set));
  t.match(set.job_id, /^[0-9]+$/);
  t.match(await emit(follower, 'get_status', {}, set.job_id), { status: 'done', job_type: 'set_variable', attachment: { variable: 'max_connections', old_value: before.attachment?.value, new_value: '321', steps: [{ step: 'read_before' }, { step: 'set' }] } });
  t.match(await emit(follower, 'get_variable', { ...at, variable: 'max_connections' }), { attachment: { value: '321' } });
  // Compute variable through PostgreSQL with the cluster's user.
  const cat = { hostaddr: '127.0.0.1', port: pgi.port };
  t.match(await emit(leader, 'set_variable', { ...cat, variable: 'work_mem', type: 'string', value: '8MB' }), { status: 'done', attachment: { result: 'true' } });
  t.match(await emit(follower, 'get_variable', { ...cat, variable: 'work_mem' }), { status: 'done', attachment: { result: 'true', value: '8MB' } });

  // No-switch windows: set through a follower, listed, ended.
  const setNs = await emit(follower, 'set_noswitch', { type: '1', timeout: '600', cluster_id: '7' });
  t.match(setNs, { status: 'done', error_code: '0' }, JSON.stringify(setNs));
  const list = await emit(follower, 'list_noswitch', { cluster_id: 'all' });
  const value = (list.attachment as { value: { cluster_id: string; shard_id: string; param: { timestamp: number } }[] }).value;
  t.equal(value.length, 1);
  t.match(value[0], { cluster_id: '7', shard_id: '11' });
  t.ok(Math.abs(value[0]!.param.timestamp - (Date.now() / 1000 + 600)) < 30, 'expiry in unix seconds');
  t.match(await emit(leader, 'del_noswitch', { cluster_id: '7' }), { status: 'done', error_code: '0' });
  t.same((await emit(follower, 'list_noswitch', { cluster_id: 'all' })).attachment, { value: [] });
});

t.test('REST views, the event stream with resume, and the OpenAPI document', async (t) => {
  const c = await getJson<{ id: number; shardViews: { id: number; nodeViews: { id: number }[] }[] }>(follower, '/api/v1/clusters/7');
  t.equal(c.status, 200);
  t.equal(c.body.shardViews[0]!.nodeViews[0]!.id, 21);
  t.equal((await getJson(follower, '/api/v1/clusters/8')).status, 404);
  const bad = await getJson<{ message: string }>(follower, '/api/v1/clusters/abc');
  t.equal(bad.status, 400);
  t.match(bad.body.message, /id/);
  const jobs = await getJson<{ jobs: { id: number; jobType: string }[] }>(leader, '/api/v1/jobs?job_type=create_machine&limit=2');
  t.equal(jobs.body.jobs.length, 2);
  t.ok(jobs.body.jobs[0]!.id > jobs.body.jobs[1]!.id, 'newest first');
  const one = await getJson<{ id: number; status: string }>(follower, `/api/v1/jobs/${jobs.body.jobs[0]!.id}`);
  t.equal(one.body.id, jobs.body.jobs[0]!.id);
  // The leader's live probes, on the leader and relayed by a follower.
  type Live = { observer: string; nodes: { node: number; shard: number; probe: string; readOnly: boolean | null }[]; meta: { address: string; probe: string }[] };
  for (const m of [leader, follower]) {
    const live = await waitFor(`live probes from ${m.id}`, async () => {
      const r = await getJson<Live>(m, '/api/v1/live');
      return r.status === 200 && r.body.nodes.some((n) => n.node === 21 && n.probe === 'ok') ? r.body : undefined;
    });
    t.equal(live.observer, leader.id, `${m === leader ? 'the leader' : 'a follower'} answers with the leader's probes`);
    t.match(live.nodes.find((n) => n.node === 21), { shard: 11, probe: 'ok' });
    t.ok(live.meta.some((x) => x.address === `127.0.0.1:${meta.primary.port}` && x.probe === 'ok'), 'the metadata node is probed');
  }
  const local = await group.fetch(follower, '/api/v1/shards?consistency=local');
  t.match(local.headers.get('x-applied-index'), /^[0-9]+$/);

  const sse = await SseClient.open(`${follower.url}/api/v1/events?type=job.`, group.auth('read'));
  const a = await emit(leader, 'create_machine', machine('10.20.0.9'));
  const created = await sse.waitFor((e) => e.event === 'job.created' && e.data.agg === `job/${a.job_id}`);
  t.match(created.data, { type: 'job.created', agg: `job/${a.job_id}`, cause: { user: 'kunlun_test' }, data: { jobType: 'create_machine' } });
  t.equal(created.id, String(created.data.seq));
  sse.close();
  // Resume: the events after seq-1 are sent again from the buffer.
  const again = await SseClient.open(`${leader.url}/api/v1/events`, group.auth('read', { 'last-event-id': String(Number(created.id) - 1) }));
  const first = await again.waitFor((e) => e.id !== undefined);
  t.equal(first.id, created.id, 'resumed right after Last-Event-ID');
  again.close();

  const doc = await getJson<{ paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } }>(follower, '/api/v1/openapi.json');
  for (const p of ['/HttpService/Emit', '/api/v1/clusters', '/api/v1/clusters/{id}', '/api/v1/shards', '/api/v1/nodes', '/api/v1/comps', '/api/v1/machines', '/api/v1/jobs', '/api/v1/jobs/{id}', '/api/v1/events', '/healthz', '/readyz', '/api/v1/leader']) {
    t.ok(p in doc.body.paths, `OpenAPI lists ${p}`);
  }
  t.ok('Emit_create_cluster' in doc.body.components.schemas && 'Emit_get_status' in doc.body.components.schemas, 'Emit bodies per job type');
  await pollDone(leader, a.job_id!);
});

// [what, body or paras, expected error_code, text error_info must contain]
type Case = [string, { raw: string } | { type: string; paras: unknown; job_id?: string }, string, RegExp];
const huge = JSON.stringify({ version: '1.0', job_type: 'create_machine', paras: { hostaddr: 'h', pad: 'x'.repeat(1_100_000) } });
const cluster = { ha_mode: 'rbr', shards: '1', nodes: '1', comps: '1', max_storage_size: '20', max_connections: '6', cpu_cores: '8', innodb_size: '1' };
const CASES: Case[] = [
  ['bad JSON', { raw: '{"job_type": "create_cluster", ' }, '70001', /JSON parse error/],
  ['body is an array', { raw: '[1,2]' }, '70001', /JSON object/],
  ['no job_type', { raw: '{"version":"1.0","paras":{}}' }, '70001', /missing `job_type`/],
  ['job_type is a number', { raw: '{"job_type":5}' }, '70001', /job_type/],
  ['unknown job_type', { type: 'drop_everything', paras: {} }, '70001', /Unrecongnized job type/],
  ['injection as job_type', { type: "'; DROP TABLE db_clusters; --", paras: {} }, '70001', /Unrecongnized job type/],
  ['huge body', { raw: huge }, '70001', /larger than 1048576 bytes/],
  ['create_cluster without paras', { raw: '{"version":"1.0","job_type":"create_cluster"}' }, '70070', /^create_cluster: paras: is missing$/],
  ['paras is a string', { type: 'create_cluster', paras: 'x' }, '70070', /^create_cluster: paras: must be a JSON object$/],
  ['missing ha_mode', { type: 'create_cluster', paras: { ...cluster, ha_mode: undefined } }, '70071', /^create_cluster: paras\.ha_mode: is required/],
  ['shards not a number', { type: 'create_cluster', paras: { ...cluster, shards: 'abc' } }, '70072', /^create_cluster: paras\.shards: must be a whole number/],
  ['shards negative', { type: 'create_cluster', paras: { ...cluster, shards: -1 } }, '70073', /^create_cluster: paras\.shards/],
  ['shards fractional', { type: 'create_cluster', paras: { ...cluster, shards: '1.5' } }, '70072', /^create_cluster: paras\.shards/],
  ['shards as an object', { type: 'create_cluster', paras: { ...cluster, shards: { $gt: 1 } } }, '70072', /^create_cluster: paras\.shards/],
  ['shell in ha_mode', { type: 'create_cluster', paras: { ...cluster, ha_mode: 'rbr; rm -rf /' } }, '70071', /^create_cluster: paras\.ha_mode: must be one of/],
  ['user with SQL', { type: 'create_cluster', paras: { ...cluster, computer_user: "abc'; DROP USER root; --" } }, '70005', /^create_cluster: paras\.computer_user/],
  ['iplists not an array', { type: 'create_cluster', paras: { ...cluster, storage_iplists: '10.0.0.1' } }, '70181', /^create_cluster: paras\.storage_iplists: must be an array/],
  ['shell in iplists', { type: 'create_cluster', paras: { ...cluster, storage_iplists: ['$(rm -rf /)'] } }, '70181', /^create_cluster: paras\.storage_iplists\[0\]/],
  ['unregistered host in iplists', { type: 'create_cluster', paras: { ...cluster, storage_iplists: ['10.99.99.99'] } }, '70181', /^create_cluster: paras\.storage_iplists\[0\]: 10\.99\.99\.99 is not registered/],
  ['shell in hostaddr', { type: 'create_machine', paras: { ...machine('$(rm -rf /)') } }, '70052', /^create_machine: paras\.hostaddr: must be a host name/],
  ['SQL in hostaddr', { type: 'create_machine', paras: { ...machine("10.0.0.1'; DROP TABLE server_nodes; --") } }, '70052', /^create_machine: paras\.hostaddr/],
  ['path traversal', { type: 'create_machine', paras: { ...machine('10.30.0.1'), comp_datadir: '../../etc' } }, '70061', /^create_machine: paras\.comp_datadir: must be an absolute path/],
  ['total_mem a boolean', { type: 'create_machine', paras: { ...machine('10.30.0.1'), total_mem: true } }, '70057', /^create_machine: paras\.total_mem/],
  ['unknown cluster', { type: 'add_shards', paras: { cluster_id: '999', shards: '1', nodes: '1' } }, '70119', /^add_shards: paras\.cluster_id: cluster 999 does not exist/],
  ['unknown shard', { type: 'delete_shard', paras: { cluster_id: '7', shard_id: '999' } }, '70140', /^delete_shard: paras\.shard_id: shard 999 is not in cluster 7/],
  ['unknown comp', { type: 'delete_comp', paras: { cluster_id: '7', comp_id: '999' } }, '70134', /^delete_comp: paras\.comp_id/],
  ['unknown node', { type: 'delete_node', paras: { cluster_id: '7', shard_id: '11', hostaddr: '127.0.0.1', port: '1' } }, '70173', /^delete_node: paras\.hostaddr: 127\.0\.0\.1:1 is not a node of shard 11/],
  ['cluster_id "all" where an id is needed', { type: 'add_comps', paras: { cluster_id: 'all', comps: '1' } }, '70109', /^add_comps: paras\.cluster_id/],
  ['cluster_name with SQL', { type: 'delete_cluster', paras: { cluster_name: "x' OR '1'='1" } }, '70097', /^delete_cluster: paras\.cluster_name/],
  ['unknown cluster in detail', { type: 'get_cluster_detail', paras: { cluster_id: '999' } }, '70005', /^get_cluster_detail: paras\.cluster_id: cluster 999 does not exist/],
  ['variable with SQL', { type: 'get_variable', paras: { hostaddr: '127.0.0.1', port: '1', variable: 'max_connections; DROP TABLE x' } }, '70005', /^get_variable: paras\.variable/],
  ['no instance there', { type: 'get_variable', paras: { hostaddr: '127.0.0.1', port: '1', variable: 'max_connections' } }, '70005', /^get_variable: paras\.hostaddr: no storage or compute node listens on 127\.0\.0\.1:1/],
  ['variable not settable', { type: 'set_variable', paras: { hostaddr: '127.0.0.1', port: 'P', variable: 'read_only', type: 'int', value: '0' } }, '70005', /^set_variable: paras\.variable: read_only may not be set/],
  ['int value not an int', { type: 'set_variable', paras: { hostaddr: '127.0.0.1', port: 'P', variable: 'max_connections', type: 'int', value: '1; SHUTDOWN' } }, '70005', /^set_variable: paras\.value: must be an integer/],
  ['set_variable on no instance', { type: 'set_variable', paras: { hostaddr: '127.0.0.1', port: '1', variable: 'max_connections', type: 'int', value: '1' } }, '70005', /^set_variable: paras\.hostaddr: no storage or compute node listens on 127\.0\.0\.1:1$/],
  ['manual_switch on an unknown cluster', { type: 'manual_switch', paras: { cluster_id: '999', shard_id: '1', master_hostaddr: '127.0.0.1_1' } }, '70025', /^manual_switch: paras\.cluster_id: cluster 999 does not exist$/],
  ['job_type constructor', { type: 'constructor', paras: {} }, '70001', /job_type: "constructor" is not a job type/],
  ['a field nested 100,000 deep', { raw: `{"job_type":"set_noswitch","paras":{"cluster_id":${'['.repeat(100_000)}${']'.repeat(100_000)}}}` }, '70001', /^set_noswitch: paras\.cluster_id(\[0\])+…?: JSON nested deeper than 32 levels$/],
  ['computer_password longer than comp_nodes.passwd', { type: 'create_cluster', paras: { ...cluster, computer_password: 'p'.repeat(17) } }, '70005', /^create_cluster: paras\.computer_password: must be at most 16 characters, got 17$/],
  ['no-switch on an unknown cluster', { type: 'set_noswitch', paras: { timeout: '60', cluster_id: '999' } }, '70098', /^set_noswitch: paras\.cluster_id: cluster 999 does not exist/],
  ['del_noswitch without cluster_id', { type: 'del_noswitch', paras: {} }, '70025', /^del_noswitch: paras\.cluster_id: is required/],
  ['get_status without job_id', { type: 'get_status', paras: {}, job_id: '' }, '70104', /^get_status: job_id: is missing/],
  ['get_status with SQL as job_id', { type: 'get_status', paras: {}, job_id: '1 OR 1=1' }, '70104', /^get_status: job_id: job "1 OR 1=1" does not exist$/],
];

t.test('malformed requests: each answers failed naming the field, and nothing is written', async (t) => {
  const jobsBefore = (await getJson<View>(leader, '/api/v1/view')).body.jobs.length;
  const sse = await SseClient.open(`${leader.url}/api/v1/events`, group.auth('read'));
  const port = String(meta.primary.port);
  for (const [i, [what, req, code, info]] of CASES.entries()) {
    const m = i % 2 === 0 ? follower : leader;
    const body = 'raw' in req ? req.raw : JSON.stringify({ version: '1.0', job_id: req.job_id ?? '', job_type: req.type, timestamp: '1', user_name: 'kunlun_test', paras: req.paras }).replace('"P"', port);
    const a = await emitRaw(m, body);
    t.equal(a.status, 'failed', `${what}: failed`);
    t.equal(a.error_code, code, `${what}: error_code ${code} (${a.error_info})`);
    t.match(a.error_info, info, `${what}: error_info names the field and the reason`);
  }
  // The noise of the group (health, elections) has system causes; nothing any request caused exists.
  const marker = await emit(leader, 'create_machine', machine('10.40.0.1'));
  const seen = await sse.waitFor((e) => e.event === 'job.created' && e.data.agg === `job/${marker.job_id}`);
  const before = sse.events.slice(0, sse.events.indexOf(seen));
  const byUser = before.filter((e) => (e.data.cause as { user?: string } | undefined)?.user !== undefined);
  t.same(byUser.map((e) => `${e.event} ${String(e.data.agg)}`), [], 'no event was caused by a malformed request');
  sse.close();
  const jobsAfter = (await getJson<View>(leader, '/api/v1/view')).body.jobs.length;
  t.equal(jobsAfter, jobsBefore + 1, 'only the marker job exists in addition');
  t.equal((await emit(follower, 'get_variable', { hostaddr: '127.0.0.1', port, variable: 'read_only' })).attachment?.value, '0', 'read_only untouched');
  await pollDone(leader, marker.job_id!);
});
