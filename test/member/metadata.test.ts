// Issue "event core", done-when: 3 members, a MariaDB metadata shard holding a topology made by other
// tools, a nats-server. The topology is adopted; the metadata tables and the JetStream stream match the
// actors; kill -9 the leader; the new leader continues the projection and the mirror with no gap or
// duplicate; `cluster-mgr replay --verify` over the stream rebuilds the state the live members have.
import t from 'tap';
import { rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RowDataPacket } from 'mysql2/promise';
import { makeRunDir, NatsInstance, startShard, type LaunchedShard } from '../../src/launcher/index.js';
import { createSchema } from '../../src/metadata/index.js';
import { H } from '../../src/mirror/subjects.js';
import { MemberGroup, waitFor, type MemberProc } from '../helpers/member-group.js';

const bin = fileURLToPath(new URL('../../../bin/cluster-mgr.js', import.meta.url));
const admin = { user: 'clustmgr', password: 'clustmgr_pwd' };
const dir = makeRunDir('metadata-group-test');
const nats = new NatsInstance({ dir: `${dir}/nats` });
let meta: LaunchedShard;
let group: MemberGroup;

interface Member { member: string; role: string; term: number; applied: number; events: number; view_digest: string; metadata_projected: { index: number; term: number } }
interface View { clusters: { id: number; name: string; adopted: boolean }[]; shards: { id: number; primary: number | null }[]; nodes: { id: number; memberState: string }[]; comps: { id: number }[]; managers: { id: string; memberState: string; httpPort: number }[] }

t.before(async () => {
  await nats.start();
  meta = await startShard({ dir: `${dir}/meta`, nodes: 3, admin, repl: { user: 'repl', password: 'repl_pwd' }, instance: { lowerCaseTableNames: true } });
  const c = await meta.primary.connect({ database: undefined });
  await createSchema(c);
  await c.query('USE kunlun_metadata_db');
  // A topology as the original tools write it.
  const now = new Date();
  await c.query(
    "INSERT INTO server_nodes (hostaddr, rack_id, datadir, logdir, wal_log_dir, total_mem, total_cpu_cores, svc_since, machine_type, port_range, used_port) VALUES ('10.0.0.1', '1', '/d', '/l', '/w', 4096, 8, ?, 'storage', '57000-58000', '57001,57005,57009')",
    [now],
  );
  await c.query("INSERT INTO server_nodes (hostaddr, rack_id, comp_datadir, total_mem, total_cpu_cores, svc_since, machine_type, port_range) VALUES ('10.0.0.2', '1', '/c', 2048, 4, ?, 'computer', '47000-48000')", [now]);
  await c.query(
    "INSERT INTO db_clusters (id, name, nick_name, owner, ddl_log_tblname, business, ha_mode, when_created, memo) VALUES (7, 'cluster_1685613600_000007', 'legacy', 'abc', 'ddl_ops_log_cluster_1685613600_000007', 'kunlun', 'rbr', ?, ?)",
    [now, JSON.stringify({ computer_user: 'abc', computer_passwd: 'comp-secret', innodb_size: 1 })],
  );
  await c.query("INSERT INTO shards (id, name, when_created, num_nodes, db_cluster_id, sync_num) VALUES (11, 'shard_1', ?, 3, 7, 1)", [now]);
  for (const [id, port, state] of [[21, 57001, 'source'], [22, 57005, 'replica'], [23, 57009, 'replica']] as const) {
    await c.query(
      "INSERT INTO shard_nodes (id, hostaddr, port, user_name, passwd, shard_id, db_cluster_id, svr_node_id, member_state, status, when_created) VALUES (?, '10.0.0.1', ?, 'pgx', 'pgx_pwd', 11, 7, 1, ?, 'active', ?)",
      [id, port, state, now],
    );
  }
  await c.query("INSERT INTO comp_nodes (id, name, hostaddr, port, db_cluster_id, user_name, passwd, status, svr_node_id, when_created) VALUES (31, 'comp31', '10.0.0.2', 47001, 7, 'abc', 'comp-secret', 'active', 1, ?)", [now]);
  await c.query("INSERT INTO cluster_mgr_nodes (hostaddr, port, member_state) VALUES ('10.9.9.9', 8010, 'source')");
  await c.end();
  const seeds = meta.nodes.map((n) => `${n.host}:${n.port}`).join(',');
  group = new MemberGroup(dir, [`nats_url=${nats.url}`, 'nats_stream=METATEST', `meta_group_seeds=${seeds}`, `meta_user=${admin.user}`, `meta_pwd=${admin.password}`]);
  await group.init(3);
});
t.teardown(async () => {
  await group?.stopAll();
  await Promise.all(meta?.nodes.map((n) => n.kill9()) ?? []);
  await nats.kill9();
  rmSync(dir, { recursive: true, force: true });
});

async function leaderOf(ms: MemberProc[]) {
  for (const m of ms) {
    const info = await group.get<Member>(m, '/api/v1/member');
    if (info?.role === 'leader') return { m, info };
  }
  return undefined;
}

async function q<T extends RowDataPacket>(sql: string, params: unknown[] = []): Promise<T[]> {
  const c = await meta.primary.connect({ database: 'kunlun_metadata_db' });
  try {
    const [rows] = await c.query<T[]>(sql, params);
    return rows;
  } finally {
    await c.end();
  }
}

async function streamIndexes(): Promise<{ index: number; pos: number; seq: number }[]> {
  const nc = await nats.connect();
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info('METATEST');
  const out = [];
  for (let s = 1; s <= info.state.last_seq; s++) {
    const m = await jsm.streams.getMessage('METATEST', { seq: s });
    out.push({ index: Number(m.header.get(H.index)), pos: Number(m.header.get(H.pos)), seq: Number(m.header.get(H.seq)) });
  }
  await nc.close();
  return out;
}

/** The leader projected what it applied, and cluster_mgr_nodes names it as the source. */
async function projectedBy(m: MemberProc): Promise<Member | undefined> {
  const info = await group.get<Member>(m, '/api/v1/member');
  if (!info || info.role !== 'leader' || info.metadata_projected.index !== info.applied) return undefined;
  const [proj] = await q<RowDataPacket>('SELECT applied_index, term FROM cluster_mgr_projection WHERE id = 1');
  if (Number(proj?.applied_index) !== info.applied || Number(proj?.term) !== info.term) return undefined;
  const src = await q<RowDataPacket>("SELECT port FROM cluster_mgr_nodes WHERE member_state = 'source'");
  return src.length === 1 && Number(src[0]!.port) === m.httpPort ? info : undefined;
}

t.test('adopt, project, mirror; kill -9 the leader; the new leader continues; replay matches', async (t) => {
  group.startAll();
  const first = await waitFor('a leader that adopted and projected', async () => {
    const l = await leaderOf(group.members);
    return l ? projectedBy(l.m).then((i) => (i ? l : undefined)) : undefined;
  }, 60_000);
  const view = (await group.get<View>(first.m, '/api/v1/view'))!;
  t.same(view.clusters.map((c) => [c.id, c.name, c.adopted]), [[7, 'cluster_1685613600_000007', true]], 'the cluster made by other tools is adopted with its id');
  t.same(view.shards.map((s) => [s.id, s.primary]), [[11, 21]], 'its shard with the source node as primary');
  t.same(view.nodes.map((n) => [n.id, n.memberState]), [[21, 'source'], [22, 'replica'], [23, 'replica']]);
  t.same(view.comps.map((c) => c.id), [31]);

  // The tables match the actors.
  const nodes = await q<RowDataPacket>('SELECT id, member_state, status FROM shard_nodes ORDER BY id');
  t.same(nodes.map((r) => [Number(r.id), String(r.member_state), String(r.status)]), [[21, 'source', 'active'], [22, 'replica', 'active'], [23, 'replica', 'active']]);
  const mgrs = await q<RowDataPacket>('SELECT hostaddr, port, member_state FROM cluster_mgr_nodes ORDER BY port');
  t.same(mgrs.map((r) => Number(r.port)).sort(), group.members.map((m) => m.httpPort).sort(), 'cluster_mgr_nodes lists our three members (the old one is gone)');
  const maps = await q<RowDataPacket>('SELECT node_host, master_host FROM node_map_master WHERE cluster_id = 7 ORDER BY node_host');
  t.same(maps.map((r) => [String(r.node_host), String(r.master_host)]), [['10.0.0.1_57005', '10.0.0.1_57001'], ['10.0.0.1_57009', '10.0.0.1_57001']], 'node_map_master: each replica and its master');
  const memo = await q<RowDataPacket>('SELECT memo FROM db_clusters WHERE id = 7');
  t.match(String(memo[0]!.memo), /comp-secret/, 'the cluster memo is kept as the original tools wrote it');

  // kill -9 the leader.
  await group.kill9(first.m);
  const second = await waitFor('a new leader that projected its own election', async () => {
    const l = await leaderOf(group.alive());
    return l && l.info.term > first.info.term ? projectedBy(l.m).then((i) => (i ? { m: l.m, info: i } : undefined)) : undefined;
  }, 60_000);
  t.ok(second.info.term > first.info.term, `the new leader (term ${second.info.term}) continued the projection at index ${second.info.applied}`);

  // The mirror continued: every event once, in order, no gap.
  await waitFor('the mirror to catch up', async () => (await streamIndexes()).length === (await group.get<Member>(second.m, '/api/v1/member'))!.events ? true : undefined);
  const msgs = await streamIndexes();
  t.same(msgs.map((m) => m.seq), msgs.map((_, i) => i + 1), 'stream: chain positions 1..N, no gap, no duplicate');
  t.equal(new Set(msgs.map((m) => `${m.index}-${m.pos}`)).size, msgs.length, 'no (index, pos) twice');

  // The audit replay over the stream rebuilds what the live leader has.
  const r = spawnSync(process.execPath, [bin, 'replay', '--nats', nats.url, '--stream', 'METATEST', '--verify', '--compare', second.m.url, '--no-timeline'], { encoding: 'utf8', env: { ...process.env, CLUSTER_MGR_API_TOKEN: group.tokens.read } });
  t.equal(r.status, 0, `replay exits 0 (${r.stderr.trim()})`);
  t.match(r.stdout, /chain ok/);
  t.match(r.stdout, /MATCH/);
  t.notMatch(r.stdout, /comp-secret/, 'no secret in audit output');
});
