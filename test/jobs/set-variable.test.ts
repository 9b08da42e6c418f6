// set_variable as a job, run by a member in this process against a real MariaDB storage node and a
// real PostgreSQL compute node: the job records the old and the new value, changes nothing when the
// value already holds, fails naming the instance when the server refuses the value, is refused before
// it exists when the request is bad, and is resumed by the next leader when the first one dies mid-job.
import t from 'tap';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { makeRunDir, MariaDbInstance, PostgresInstance } from '../../src/launcher/index.js';
import type { Config } from '../../src/config/load.js';
import { ManagerRuntime } from '../../src/member/runtime.js';
import type { Command, JobView } from '../../src/actors/index.js';
import { removeDir, waitFor } from '../agent/helpers.js';
import { execOk, singleMemberConfig, startLeadingMember } from '../helpers/single-member.js';

const HOST = '127.0.0.1';
const admin = { user: 'clustmgr', password: 'Setvar-Pw-1' };
const compAdmin = { user: 'abc', password: 'Comp-Pw-Secret-7' };
const dir = makeRunDir('set-variable-job');
let db: MariaDbInstance;
let pgi: PostgresInstance;
let cfg: Config;
const runtimes: ManagerRuntime[] = [];

t.before(async () => {
  db = new MariaDbInstance({ dir: join(dir, 'db'), serverId: 1, admin });
  pgi = new PostgresInstance({ dir: join(dir, 'pg'), admin: compAdmin });
  await Promise.all([db.start(), pgi.start()]);
  cfg = await singleMemberConfig(dir, { meta_user: admin.user, meta_pwd: admin.password, mysql_connect_timeout: 3 });
});

t.teardown(async () => {
  for (const r of runtimes) await r.stop().catch(() => undefined);
  db?.resume();
  await db?.kill9();
  await pgi?.kill9();
  // The members' log files are written by a worker that finishes a moment after they stop.
  await delay(1_500);
  if (process.env.KEEP_RUN_DIR === undefined) removeDir(dir);
});

const startMember = (cfg: Config, n: number): Promise<ManagerRuntime> => startLeadingMember(cfg, dir, n, runtimes);
const exec = (rt: ManagerRuntime, cmd: Command): Promise<number> => execOk(rt, cmd, 'setvar_test');

/** Starts a set_variable job; its id, or the refusal. */
async function start(rt: ManagerRuntime, paras: Record<string, unknown>): Promise<number | { field?: string; reason: string; errno?: number }> {
  const r = await rt.execute({ kind: 'job.start', jobType: 'set_variable', request: paras }, { user: 'setvar_test' });
  if (!r.ok) return r.kind === 'refused' ? r.refusal : { reason: r.kind };
  if (!r.result.ok) return { reason: r.result.reason };
  return Number(r.result.committed.find((c) => c.event.type === 'job.created')!.event.agg.split('/')[1]);
}

const ended = (rt: ManagerRuntime, id: number, ms = 30_000): Promise<JobView> =>
  waitFor(`job ${id} to end`, ms, () => {
    const j = rt.world.job(id);
    return j !== null && (j.status === 'done' || j.status === 'failed') ? j : undefined;
  });

async function storageValue(name: string): Promise<string> {
  const c = await db.connect();
  try {
    const [rows] = await c.query<import('mysql2/promise').RowDataPacket[]>(`SELECT @@GLOBAL.${name} AS v`);
    return String(rows[0]!.v);
  } finally {
    await c.end();
  }
}

async function computeSetting(name: string): Promise<string> {
  const c = await pgi.connect();
  try {
    return (await c.query<{ v: string }>('SELECT current_setting($1) AS v', [name])).rows[0]!.v;
  } finally {
    await c.end();
  }
}

const storage = () => ({ hostaddr: HOST, port: String(db.port) });
const compute = () => ({ hostaddr: HOST, port: String(pgi.port) });

t.test('set_variable jobs', async (t) => {
  const rt1 = await startMember(cfg, 1);
  await exec(rt1, { kind: 'machine.create', hostaddr: HOST, role: 'storage', rackId: '1', datadir: '/d', logdir: '/l', walLogDir: '/w', totalMemMB: 1024, totalCpuCores: 2, portRange: { lo: 1024, hi: 65535 } });
  await exec(rt1, { kind: 'machine.create', hostaddr: HOST, role: 'computer', rackId: '1', compDatadir: '/c', totalMemMB: 1024, totalCpuCores: 2, portRange: { lo: 1024, hi: 65535 } });
  const cluster = await exec(rt1, { kind: 'cluster.create', haMode: 'rbr', maxStorageSizeGB: 1, maxConnections: 10, cpuCores: 1, innodbSizeMB: 64, compUser: compAdmin.user, compPassword: compAdmin.password });
  await exec(rt1, { kind: 'shard.add', cluster, nodes: [{ hostaddr: HOST, port: db.port }] });
  await exec(rt1, { kind: 'comp.add', cluster, hostaddr: HOST, port: pgi.port });

  await t.test('a storage variable: old and new value recorded; the same value again changes nothing', async (t) => {
    const old = await storageValue('max_connections');
    const id = await start(rt1, { ...storage(), variable: 'max_connections', type: 'int', value: '321' });
    if (typeof id !== 'number') throw new Error(JSON.stringify(id));
    const j = await ended(rt1, id);
    t.equal(j.status, 'done', j.errorInfo);
    t.same(j.result, { hostaddr: HOST, port: db.port, variable: 'max_connections', old_value: old, new_value: '321', changed: true });
    t.equal(await storageValue('max_connections'), '321', 'the server has it');
    t.comment(`storage set_variable job: ${j.endedAt! - j.createdAt} ms from its creation to its end`);
    t.same(j.steps.filter((s) => s.ok).map((s) => s.step), ['read_before', 'set']);
    const again = await start(rt1, { ...storage(), variable: 'max_connections', type: 'int', value: '321' });
    if (typeof again !== 'number') throw new Error(JSON.stringify(again));
    t.match((await ended(rt1, again)).result, { old_value: '321', new_value: '321', changed: false });
  });

  await t.test('a compute variable through ALTER SYSTEM, as the cluster user', async (t) => {
    const id = await start(rt1, { ...compute(), variable: 'work_mem', type: 'string', value: '8MB' });
    if (typeof id !== 'number') throw new Error(JSON.stringify(id));
    const j = await ended(rt1, id);
    t.equal(j.status, 'done', j.errorInfo);
    t.match(j.result, { variable: 'work_mem', old_value: '4MB', new_value: '8MB', changed: true });
    t.equal(await computeSetting('work_mem'), '8MB', 'a new session has it');
    t.comment(`compute set_variable job: ${j.endedAt! - j.createdAt} ms from its creation to its end`);
  });

  await t.test('a value the server refuses fails the job naming the instance; nothing changes', async (t) => {
    const id = await start(rt1, { ...storage(), variable: 'slow_query_log', type: 'string', value: 'maybe' });
    if (typeof id !== 'number') throw new Error(JSON.stringify(id));
    const j = await ended(rt1, id);
    t.equal(j.status, 'failed');
    t.equal(j.errorCode, 70005);
    t.match(j.errorInfo, new RegExp(`^set_variable slow_query_log on storage node 127\\.0\\.0\\.1:${db.port}: .*maybe`));
    t.equal(await storageValue('slow_query_log'), '0');
  });

  await t.test('bad requests are refused before a job exists, naming the field', async (t) => {
    const jobsBefore = rt1.world.ids('job').length;
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ ...storage(), variable: 'read_only', type: 'int', value: '0' }, 'paras.variable', /read_only may not be set on a storage node/],
      [{ ...storage(), variable: 'max_connections`; SHUTDOWN; --', type: 'int', value: '1' }, 'paras.variable', /a variable name/],
      [{ ...storage(), variable: 'max_connections', type: 'int', value: '1; SHUTDOWN' }, 'paras.value', /must be an integer/],
      [{ ...storage(), variable: 'max_connections', type: 'int', value: '99999999999999999' }, 'paras.value', /must be an integer/],
      [{ ...compute(), variable: 'work_mem', type: 'string', value: "8MB'; DROP TABLE x; --" }, 'paras.value', /letters, digits/],
      [{ ...compute(), variable: 'max_connections', type: 'int', value: '10' }, 'paras.variable', /may not be set on a compute node/],
      [{ ...storage(), variable: 'max_connections', type: 'float', value: '1' }, 'paras.type', /one of int, string/],
      [{ hostaddr: HOST, port: '1', variable: 'max_connections', type: 'int', value: '1' }, 'paras.hostaddr', /no storage or compute node listens on 127\.0\.0\.1:1/],
    ];
    for (const [paras, field, reason] of cases) {
      const r = await start(rt1, paras);
      t.not(typeof r, 'number', `${JSON.stringify(paras)} refused`);
      if (typeof r === 'number') continue;
      t.equal(r.field, field);
      t.match(r.reason, reason);
    }
    t.equal(rt1.world.ids('job').length, jobsBefore, 'no job was created');
    t.equal(await storageValue('max_connections'), '321');
    t.equal(await computeSetting('work_mem'), '8MB');
  });

  await t.test('the leader dies mid-job: the next leader resumes it and it ends once, done', async (t) => {
    // The storage node is frozen, so the job hangs in its first step when the leader dies.
    db.pause();
    const id = await start(rt1, { ...storage(), variable: 'max_connections', type: 'int', value: '222' });
    if (typeof id !== 'number') throw new Error(JSON.stringify(id));
    await waitFor('the job to be in its first step', 10_000, () => (rt1.world.job(id)?.step?.name === 'read_before' ? true : undefined));
    const term1 = rt1.node.term;
    rt1.host.lostLeadership();
    await rt1.node.stop();
    db.resume();
    const rt2 = await startMember(cfg, 2);
    t.ok(rt2.node.term > term1, `a new term (${rt2.node.term})`);
    const j = await ended(rt2, id);
    t.equal(j.status, 'done', j.errorInfo);
    t.match(j.result, { old_value: '321', new_value: '222', changed: true });
    t.equal(await storageValue('max_connections'), '222');
    t.comment(`resumed job: ended ${j.endedAt! - j.createdAt} ms after its creation (leader change included)`);
    t.same(
      j.steps.map((s) => [s.step, s.ok]),
      [
        ['read_before', true],
        ['set', true],
      ],
      'the interrupted step was resumed, not recorded twice',
    );
    t.equal(rt2.world.lockHolder(rt2.world.nodeAt(HOST, db.port)!), null, 'its lock is released');
  });
});
