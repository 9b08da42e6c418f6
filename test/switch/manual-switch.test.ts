// manual_switch through POST /HttpService/Emit on a real 3-member manager group that adopted a real
// 3-node MariaDB rbr shard. Under a continuous writer the switch makes the target the writable primary
// and the old primary a read-only replica of it, and loses no acknowledged write; the world, the
// metadata tables and the real nodes agree. A refused target (not in the shard, known unhealthy,
// replication stopped, lagging) fails with a clear error and changes nothing; a target that cannot
// catch up within the bound makes the job fail and the old primary writable again.
import t from 'tap';
import type { RowDataPacket } from 'mysql2/promise';
import { ContinuousWriter, checkAcknowledged } from '../chaos/writer.js';
import type { MariaDbInstance } from '../../src/launcher/index.js';
import { CLUSTER_ID, HA_APP, HaCluster, SHARD_ID, waitFor } from '../helpers/ha-cluster.js';
import { MANUAL_SWITCH_STEPS } from '../../src/jobs/handlers/switch.js';
import { emit, findWritablePrimary, hostPort, primaryFinder, realRole, waitJob, type RealRole } from './helpers.js';

const ha = new HaCluster({ label: 'switch-test', sets: ['probe_interval_ms=250'] });

t.before(async () => {
  await ha.start();
});
t.teardown(async () => {
  await ha.stop();
});

const paras = (from: MariaDbInstance, to?: MariaDbInstance | string): Record<string, string> => ({
  cluster_id: String(CLUSTER_ID),
  shard_id: String(SHARD_ID),
  master_hostaddr: hostPort(from),
  ...(to !== undefined ? { assign_hostaddr: typeof to === 'string' ? to : hostPort(to) } : {}),
});

/** The current primary (as the manager says) and the replicas, as launched instances. */
async function topology(): Promise<{ primaryId: number; primary: MariaDbInstance; replicas: { id: number; inst: MariaDbInstance }[] }> {
  const s = (await ha.shardView())!;
  const primaryId = s.primary!;
  const replicas = [21, 22, 23].filter((id) => id !== primaryId).map((id) => ({ id, inst: ha.instance(id) }));
  return { primaryId, primary: ha.instance(primaryId), replicas };
}

async function jobCount(): Promise<number> {
  const l = await ha.leader();
  const v = await ha.group.get<{ jobs: unknown[] }>(l!.m, '/api/v1/view');
  return v!.jobs.length;
}

async function roles(): Promise<RealRole[]> {
  return Promise.all(ha.shard.nodes.map((n) => realRole(n)));
}

/** Waits until every node executed `pos` (the primary's position). */
async function replicasAt(pos: string): Promise<void> {
  await Promise.all(
    ha.shard.nodes.map(async (n) => {
      const c = await n.connect();
      try {
        await c.query('SELECT MASTER_GTID_WAIT(?, 20)', [pos]);
      } finally {
        await c.end();
      }
    }),
  );
}

/** MASTER_DELAY on a replica: its SQL thread applies each transaction that long after the primary. */
async function setDelay(inst: MariaDbInstance, sec: number): Promise<void> {
  const c = await inst.connect();
  try {
    await c.query('STOP SLAVE');
    await c.query('CHANGE MASTER TO MASTER_DELAY = ?', [sec]);
    await c.query('START SLAVE');
  } finally {
    await c.end();
  }
}

async function query(inst: MariaDbInstance, sql: string, params: unknown[] = []): Promise<RowDataPacket[]> {
  const c = await inst.connect();
  try {
    const [rows] = await c.query<RowDataPacket[]>(sql, params);
    return rows;
  } finally {
    await c.end();
  }
}

t.test('switchover under a continuous writer: new primary, old one its read-only replica, no acknowledged write lost', async (t) => {
  const { primaryId, primary: from, replicas } = await topology();
  const to = replicas[0]!;
  const other = replicas[1]!;
  let writer: ContinuousWriter | null = null;
  writer = new ContinuousWriter({ getPrimary: primaryFinder(ha.shard.nodes, () => writer), credentials: HA_APP, queryTimeoutMs: 10_000 });
  writer.start();
  await writer.waitForAcks(200, 20_000);

  const t0 = Date.now();
  const a = await emit(ha, 'manual_switch', paras(from, to.inst));
  t.equal(a.status, 'accept', `accepted: ${JSON.stringify(a)}`);
  const end = await waitJob(ha, a.job_id);
  const switchMs = Date.now() - t0;
  t.equal(end.status, 'done', `job done: ${end.error_code} ${end.error_info}`);
  await writer.waitForAcks(200, 20_000, to.inst.address);
  const rep = await writer.stop();
  const around = rep.windows.filter((w) => w.to === null || w.to >= t0);
  t.comment(`switch ${switchMs} ms; writer ${rep.acked} acknowledged, ${rep.failed} failed ${JSON.stringify(rep.errors)}; gaps around the switch: ${around.map((w) => `${w.ms} ms/${w.failures} failures`).join(', ')}`);
  t.ok(rep.longestMs < 5_000, `longest write gap ${rep.longestMs} ms`);
  t.ok(writer.acked.some((x) => x.node === to.inst.address && x.at > t0), 'writes were acknowledged by the new primary');

  // The real nodes.
  const r = await roles();
  const at = (inst: MariaDbInstance): RealRole => r.find((x) => x.port === inst.port)!;
  t.same([at(to.inst).readOnly, at(to.inst).source], [false, null], 'the target is a writable primary with no source');
  t.same([at(from).readOnly, at(from).source, at(from).io, at(from).sql], [true, to.inst.address, 'Yes', 'Yes'], 'the old primary is a read-only replica of the target');
  t.same([at(other.inst).readOnly, at(other.inst).source, at(other.inst).io], [true, to.inst.address, 'Yes'], 'the other replica follows the target');
  t.same(await findWritablePrimary(ha.shard.nodes), { host: to.inst.host, port: to.inst.port }, 'exactly one writable node');
  const semi = await query(to.inst, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'");
  t.equal(Number(semi[0]!.Value), 2, 'both replicas acknowledge semi-sync on the new primary');

  // Every acknowledged write is on every node.
  const pos = String((await query(to.inst, 'SELECT @@GLOBAL.gtid_current_pos AS g'))[0]!.g);
  await replicasAt(pos);
  const ids = writer.acked.map((x) => x.id);
  for (const n of ha.shard.nodes) {
    const c = await n.connect();
    t.same((await checkAcknowledged(c, ids)).missing, [], `all ${ids.length} acknowledged writes on ${n.address}`);
    await c.end();
  }

  // The manager's world.
  const v = (await ha.view())!;
  const s = v.shards.find((x) => x.id === SHARD_ID)!;
  t.equal(s.primary, to.id, 'the world names the target as primary');
  t.equal(s.task, null, 'no task left running');
  t.equal(s.last?.outcome, 'finished');
  const job = v.jobs.find((j) => j.id === Number(a.job_id));
  t.same(job?.steps.map((x) => x.step), [...MANUAL_SWITCH_STEPS], `the job's recorded steps are the exported list (${MANUAL_SWITCH_STEPS.join(', ')})`);
  const node = (id: number) => v.nodes.find((n) => n.id === id)!;
  t.same([node(to.id).memberState, node(to.id).access], ['source', 'writable']);
  t.same([node(primaryId).memberState, node(primaryId).source, node(primaryId).access], ['replica', to.id, 'read_only']);
  t.same([node(other.id).memberState, node(other.id).source], ['replica', to.id]);

  // The metadata tables (projected from the world).
  const states = await waitFor('shard_nodes to show the new source', async () => {
    const rows = await ha.q<RowDataPacket>('SELECT id, member_state FROM shard_nodes WHERE shard_id = ? ORDER BY id', [SHARD_ID]);
    const m = Object.fromEntries(rows.map((x) => [Number(x.id), String(x.member_state)]));
    return m[to.id] === 'source' ? m : undefined;
  });
  t.same(states, { [primaryId]: 'replica', [to.id]: 'source', [other.id]: 'replica' }, 'shard_nodes.member_state');
  const maps = await waitFor('node_map_master to name the new master', async () => {
    const rows = await ha.q<RowDataPacket>('SELECT node_host, master_host FROM node_map_master WHERE cluster_id = ? ORDER BY node_host', [CLUSTER_ID]);
    return rows.length === 2 && rows.every((x) => String(x.master_host) === hostPort(to.inst)) ? rows : undefined;
  });
  t.same(maps.map((x) => String(x.node_host)).sort(), [hostPort(from), hostPort(other.inst)].sort(), 'node_map_master: the old primary and the other replica');
  const steps = await waitFor('rbr_consfailover rows of the switchover', async () => {
    const rows = await ha.q<RowDataPacket>('SELECT step, new_master_host, err_code, consfailover_msg FROM rbr_consfailover WHERE shard_id = ? ORDER BY id', [SHARD_ID]);
    return rows.some((x) => String(x.step) === 'end') ? rows : undefined;
  });
  t.same(steps.map((x) => String(x.step)), ['elect', 'fence', 'drain', 'promote', 'repoint', 'end'], 'one row per step and the outcome');
  t.ok(steps.every((x) => Number(x.err_code) === 0 && String(x.new_master_host) === hostPort(to.inst)), 'all ok, naming the new master');
  t.match(String(steps[0]!.consfailover_msg), /manual_switch/, 'XPanel sw_type');
});

/** Everything a refused switch must leave alone. */
async function snapshot(): Promise<{ primary: number | null; last: number | null; roles: Omit<RealRole, 'gtid'>[] }> {
  const s = (await ha.shardView())!;
  const r = (await roles()).map(({ gtid: _g, ...rest }) => rest);
  return { primary: s.primary, last: s.last?.task ?? null, roles: r };
}

t.test('refused targets change nothing', async (t) => {
  const { primary, replicas } = await topology();
  const [a, b] = replicas as [{ id: number; inst: MariaDbInstance }, { id: number; inst: MariaDbInstance }];
  const before = await snapshot();

  await t.test('not a node of the shard: refused at validation', async (t) => {
    const jobs = await jobCount();
    const r = await emit(ha, 'manual_switch', paras(primary, '127.0.0.1_1'));
    t.equal(r.status, 'failed');
    // The manual_switch family of the original's numbers (70030-70034); see the report on their mapping.
    t.match(r.error_code, /^7003[0-4]$/, r.error_info);
    t.match(r.error_info, /paras\.assign_hostaddr: 127\.0\.0\.1:1 is not a node of shard 11/, 'names the field and the reason');
    t.equal(await jobCount(), jobs, 'no job was created');
  });

  await t.test('master_hostaddr is not the primary: refused at validation', async (t) => {
    const jobs = await jobCount();
    const r = await emit(ha, 'manual_switch', paras(a.inst, b.inst));
    t.equal(r.status, 'failed');
    t.match(r.error_code, /^7003[0-4]$/, r.error_info);
    t.match(r.error_info, /paras\.master_hostaddr: .* is not the primary/, 'names the field and the reason');
    t.equal(await jobCount(), jobs, 'no job was created');
  });

  await t.test('target replication stopped: the job fails, nothing changed', async (t) => {
    await query(a.inst, 'STOP SLAVE');
    try {
      const r = await emit(ha, 'manual_switch', paras(primary, a.inst));
      t.equal(r.status, 'accept', 'the world cannot know: a job is accepted');
      const end = await waitJob(ha, r.job_id);
      t.equal(end.status, 'failed');
      t.equal(end.error_code, '70019', end.error_info);
      t.match(end.error_info, /target-replication-broken/);
      const after = await snapshot();
      t.same({ ...after, roles: after.roles.filter((x) => x.port !== a.inst.port) }, { ...before, roles: before.roles.filter((x) => x.port !== a.inst.port) }, 'primary, task history and the other nodes unchanged');
      t.same((await realRole(a.inst)).io, 'No', 'the target was not touched either');
    } finally {
      await query(a.inst, 'START SLAVE');
    }
  });

  await t.test('target lagging behind: the job fails, nothing changed, writes never stopped', async (t) => {
    await setDelay(a.inst, 3600);
    let writer: ContinuousWriter | null = null;
    writer = new ContinuousWriter({ getPrimary: primaryFinder(ha.shard.nodes, () => writer), credentials: HA_APP, firstId: 10_000_000 });
    try {
      writer.start();
      await writer.waitForAcks(300, 30_000);
      const failedBefore = writer.failed.length;
      const r = await emit(ha, 'manual_switch', paras(primary, a.inst));
      t.equal(r.status, 'accept');
      const end = await waitJob(ha, r.job_id);
      t.equal(end.status, 'failed');
      t.equal(end.error_code, '70020', end.error_info);
      t.match(end.error_info, /target-not-caught-up/);
      await writer.waitForAcks(20, 10_000, primary.address);
      t.equal(writer.failed.length, failedBefore, 'no write failed while the job ran');
    } finally {
      await writer.stop();
      await setDelay(a.inst, 0);
    }
    const pos = String((await query(primary, 'SELECT @@GLOBAL.gtid_current_pos AS g'))[0]!.g);
    await replicasAt(pos);
    const after = await snapshot();
    t.same(after, before, 'primary, task history and every node unchanged');
  });

  await t.test('target known to be down: refused at validation', async (t) => {
    await b.inst.kill9();
    try {
      await waitFor('the manager to see the target down', async () => {
        const n = await ha.node(b.id);
        return n && (n.health === 'unreachable' || n.health === 'dead') ? true : undefined;
      });
      const jobs = await jobCount();
      const r = await emit(ha, 'manual_switch', paras(primary, b.inst));
      t.equal(r.status, 'failed');
      t.equal(r.error_code, '70019', r.error_info);
      t.match(r.error_info, /paras\.assign_hostaddr: .* is (unreachable|dead)/, 'names the field and the reason');
      t.equal(await jobCount(), jobs, 'no job was created');
      t.same((await snapshot()).primary, before.primary, 'primary unchanged');
    } finally {
      await b.inst.start();
    }
    await waitFor('the restarted replica to replicate and be seen alive', async () => {
      const n = await ha.node(b.id);
      const rr = await realRole(b.inst);
      return n?.health === 'alive' && rr.io === 'Yes' && rr.sql === 'Yes' ? true : undefined;
    }, 60_000);
  });
});

t.test('a target that cannot catch up in time: the job fails and the old primary is writable again', async (t) => {
  const { primary, replicas } = await topology();
  const a = replicas[0]!;
  const before = await snapshot();
  // A few transactions (within the check's bound) that the target holds back longer than the bound.
  await setDelay(a.inst, 30);
  const c = await ha.instance((await ha.shardView())!.primary!).connect();
  for (let i = 0; i < 5; i++) await c.query('INSERT INTO cmgr_chaos.acked_writes VALUES (?, ?)', [20_000_000 + i, Date.now()]);
  await c.end();
  try {
    const t0 = Date.now();
    const r = await emit(ha, 'manual_switch', paras(primary, a.inst));
    t.equal(r.status, 'accept');
    const end = await waitJob(ha, r.job_id);
    t.equal(end.status, 'failed');
    t.equal(end.error_code, '70011', end.error_info);
    t.match(end.error_info, /did not catch up/);
    t.ok(Date.now() - t0 < 20_000, `failed after ${Date.now() - t0} ms (bound 5000 ms)`);
    const pr = await realRole(primary);
    t.same([pr.readOnly, pr.source], [false, null], 'the old primary is writable again');
    const w = new ContinuousWriter({ getPrimary: () => ({ host: primary.host, port: primary.port }), credentials: HA_APP, firstId: 30_000_000 });
    w.start();
    await w.waitForAcks(10, 10_000);
    const wr = await w.stop();
    t.equal(wr.failed, 0, 'an application writes to it again');
    const s = (await ha.shardView())!;
    t.same([s.primary, s.task, s.last?.outcome, s.last?.code], [before.primary, null, 'aborted', 70011], 'the task was aborted, the primary unchanged');
    t.match(s.last?.reason, /writable again/, `the abort says the old primary was reopened: ${s.last?.reason}`);
    const ar = await realRole(a.inst);
    t.same([ar.readOnly, ar.source], [true, primary.address], 'the target is still a read-only replica of the primary');
  } finally {
    await setDelay(a.inst, 0);
  }
});
