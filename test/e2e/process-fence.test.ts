// A hung primary of an agent-run shard (SIGSTOP): the failover cannot fence it over SQL, so the
// leader asks the machine's node agent to kill it. It must never wake up writable; the agent's
// keepalive starts it again read-only after its restart delay, and crash recovery (the semi-sync slave
// side is on at start-up) drops the commit that hung waiting for an ACK, so the rejoin reconciler
// re-points it as a replica of the new primary instead of marking it for a rebuild. Every
// acknowledged write is on the new primary and on the rejoined node.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { AgentClient } from '../../src/agent/client.js';
import { ContinuousWriter, checkAcknowledged } from '../../src/chaos/writer.js';
import type { Endpoint } from '../../src/storage/replication.js';
import { ADMIN, E2eEnv, waitFor } from './env.js';

interface NodeV {
  id: number;
  hostaddr: string;
  port: number;
  repair: string;
  source: number | null;
  fence: { method: string } | null;
}
interface View {
  shards: { id: number; cluster: number; primary: number | null; nodes: number[]; task: number | null; last: { outcome: string } | null; needsRebuild: number[] }[];
  nodes: NodeV[];
}

const APP = { user: 'fence_app', password: 'fence-App-Pw-1' };
const host = '127.0.0.1';
const env = new E2eEnv('e2e-process-fence');
t.teardown(() => env.stop());

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('SIGSTOP of an agent-run primary: the agent kills it, it restarts read-only and rejoins', async (t) => {
  await env.start();
  const machine = { hostaddr: host, rack_id: '1', total_mem: '4096', total_cpu_cores: '2', nodemgr_port: String(env.agentPort) };
  await env.run('create_machine', { ...machine, machine_type: 'storage', datadir: '/d', logdir: '/l', wal_log_dir: '/w', port_range: env.storageRange });
  await env.run('create_machine', { ...machine, machine_type: 'computer', comp_datadir: '/c', port_range: env.computeRange });
  const created = await env.run('create_cluster', {
    ha_mode: 'rbr', shards: '1', nodes: '3', comps: '1', max_storage_size: '20', max_connections: '6', cpu_cores: '2',
    innodb_size: '16', dbcfg: '0', storage_iplists: [host], computer_iplists: [host],
  });
  const cluster = Number(created.attachment?.cluster_id);
  const shardOf = (v: View) => v.shards.find((s) => s.cluster === cluster)!;
  const nodeOf = (v: View, id: number | null) => v.nodes.find((n) => n.id === id);
  const v0 = await env.view<View>();
  const oldId = shardOf(v0).primary!;
  const old = nodeOf(v0, oldId)!;

  // An application account: unlike the admin, it cannot write past read_only.
  const admin = await mysql.createConnection({ host, port: old.port, user: ADMIN.user, password: ADMIN.password });
  await ContinuousWriter.ensureTable(admin);
  await admin.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [APP.user, '%', APP.password]);
  await admin.query('GRANT SELECT, INSERT ON cmgr_chaos.* TO ?@?', [APP.user, '%']);
  await admin.end();

  let current: Endpoint = { host, port: old.port };
  let tracking = true;
  const track = (async () => {
    while (tracking) {
      const v = await env.view<View>().catch(() => null);
      const p = v ? nodeOf(v, shardOf(v).primary) : undefined;
      if (p) current = { host: p.hostaddr, port: p.port };
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const writer = new ContinuousWriter({ getPrimary: () => current, credentials: APP, queryTimeoutMs: 3_000 });
  writer.start();
  await writer.waitForAcks(100, 20_000);

  const agent = new AgentClient({ host, port: env.agentPort });
  const inst = (await agent.listInstances()).instances.find((i) => i.port === old.port)!;
  t.ok(inst?.pid, `the agent runs the primary (pid ${inst?.pid})`);
  const pid = inst.pid!;
  const tStop = Date.now();
  process.kill(pid, 'SIGSTOP');
  t.teardown(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  const done = await waitFor('a finished failover', async () => {
    const v = await env.view<View>().catch(() => null);
    const s = v && shardOf(v);
    return s && s.primary !== oldId && s.task === null && s.last?.outcome === 'finished' ? v : undefined;
  }, 60_000);
  const newId = shardOf(done).primary!;
  const neu = nodeOf(done, newId)!;
  t.comment(`failover to node ${newId} finished ${Date.now() - tStop} ms after the SIGSTOP`);
  t.equal(nodeOf(done, oldId)?.fence?.method, 'kill', 'the old primary is recorded as fenced by a kill');
  await waitFor('the hung server to be gone', () => Promise.resolve(alive(pid) ? undefined : true), 10_000);
  t.pass(`the hung server (pid ${pid}) was killed; it never woke up writable`);
  await writer.waitForAcks(30, 20_000, `${neu.hostaddr}:${neu.port}`);

  // The keepalive starts it again after its restart delay (9 s by default); then the rejoin.
  const settled = await waitFor('the old primary to rejoin or be marked for rebuild', async () => {
    const v = await env.view<View>().catch(() => null);
    const n = v && nodeOf(v, oldId);
    return n && (n.repair === 'ok' || n.repair === 'needs_rebuild') ? n : undefined;
  }, 60_000);
  if (settled.repair !== 'ok') {
    const v = await env.view<{ nodes: { id: number; rebuild: { reason: string } | null }[] }>();
    t.comment(`rebuild reason: ${v.nodes.find((n) => n.id === oldId)?.rebuild?.reason}`);
    if (process.env.KEEP_RUN_DIR) spawnSync('cp', ['-r', env.dir, `${env.dir}-kept`]);
  }
  t.equal(settled.repair, 'ok', 'it rejoined: the unacknowledged commit it hung on was dropped at recovery, nothing errant');
  t.equal(settled.source, newId, 'it replicates from the new primary');
  const restarted = (await agent.listInstances()).instances.find((i) => i.port === old.port);
  t.ok(restarted?.pid && restarted.pid !== pid, `the agent restarted it (pid ${restarted?.pid})`);
  // What its recovery did with the commit it hung on (when the SIGSTOP caught one waiting for its ACK).
  const errLog = readFileSync(join(env.base, 'storage', String(old.port), 'error.log'), 'utf8');
  t.comment(errLog.split('\n').find((l) => /truncated binlog/.test(l)) ?? 'recovery truncated nothing: no commit was waiting for an ACK');

  const report = await writer.stop();
  tracking = false;
  await track;
  t.comment(`writer: ${report.acked} acknowledged, ${report.failed} failed, longest unavailability ${report.longestMs} ms`);
  const ids = writer.acked.map((a) => a.id);
  const nc = await mysql.createConnection({ host, port: neu.port, user: ADMIN.user, password: ADMIN.password });
  const onNew = await checkAcknowledged(nc, ids);
  t.same(onNew.missing, [], `all ${onNew.checked} acknowledged writes are on the new primary`);
  const [[pos]] = await nc.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS p');
  await nc.end();
  const oc = await mysql.createConnection({ host, port: old.port, user: ADMIN.user, password: ADMIN.password });
  await waitFor('the rejoined node to catch up', async () => {
    const [[r]] = await oc.query<RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, 1) AS w', [pos!.p]);
    return Number(r!.w) === 0 ? true : undefined;
  }, 20_000);
  const onOld = await checkAcknowledged(oc, ids);
  t.same(onOld.missing, [], 'and on the rejoined node');
  const [[ro]] = await oc.query<RowDataPacket[]>('SELECT @@read_only AS ro');
  t.equal(Number(ro!.ro), 1, 'the rejoined node is read-only');
  await oc.end();

  // It recovered in the replica role (init_rpl_role=SLAVE); it must still be able to lead again.
  const shard = shardOf(await env.view<View>()).id;
  await env.run('manual_switch', { cluster_id: String(cluster), shard_id: String(shard), master_hostaddr: `${host}_${neu.port}`, assign_hostaddr: `${host}_${old.port}` });
  const back = await mysql.createConnection({ host, port: old.port, ...APP });
  await back.query('INSERT INTO cmgr_chaos.acked_writes (id, written_at_ms) VALUES (?, ?)', [900_000_001, Date.now()]);
  await back.end();
  t.pass('switched back to it: it takes writes (acknowledged by a semi-sync replica) again');

  await env.run('delete_cluster', { cluster_id: String(cluster) });
  t.same(env.leftoverProcesses(), [], 'after delete_cluster: no instance process left');
});
