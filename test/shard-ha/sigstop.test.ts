// A hung primary (SIGSTOP), not a crash: it keeps its sockets open and answers nothing. The replicas'
// heartbeats go stale, the group fails over; on SIGCONT the old primary is fenced and cannot
// acknowledge a write (a write sent to it right after SIGCONT is never acknowledged, and once the
// manager has dealt with it, it refuses writes as read-only).
import t from 'tap';
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { ContinuousWriter, checkAcknowledged } from '../chaos/writer.js';
import { HaCluster, HA_APP, NODE_IDS, waitFor } from '../helpers/ha-cluster.js';

const ha = new HaCluster({ label: 'shard-ha-sigstop', sets: ['probe_interval_ms=300'] });

t.before(async () => {
  await ha.start();
});
t.teardown(async () => {
  await ha.stop();
});

/** One insert with the application account; resolves to 'acknowledged' or the error code. */
async function tryWrite(host: string, port: number, id: number, timeoutMs: number): Promise<string> {
  let c: mysql.Connection | null = null;
  try {
    c = await mysql.createConnection({ host, port, ...HA_APP, connectTimeout: timeoutMs });
    await c.query({ sql: 'INSERT INTO cmgr_chaos.acked_writes (id, written_at_ms) VALUES (?, ?)', timeout: timeoutMs }, [id, Date.now()]);
    return 'acknowledged';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  } finally {
    c?.destroy();
  }
}

t.test('SIGSTOP the primary: failover; on SIGCONT it is fenced and acknowledges no write', async (t) => {
  const [n1] = NODE_IDS;
  const old = ha.instance(n1);
  const primary = ha.primaryTracker(50);
  const writer = new ContinuousWriter({ getPrimary: primary.get, credentials: HA_APP, queryTimeoutMs: 3_000 });
  writer.start();
  await writer.waitForAcks(100, 15_000);

  const tStop = Date.now();
  old.pause();
  const sh = await waitFor('a finished failover', async () => {
    const s = await ha.shardView();
    return s && s.primary !== n1 && s.task === null && s.last?.outcome === 'finished' ? s : undefined;
  }, 20_000);
  const newInst = ha.instance(sh.primary!);
  await writer.waitForAcks(30, 20_000, newInst.address);
  const first = writer.firstAckAfter(tStop, newInst.address)!;
  // No node agent here: the replicas' heartbeats must go stale (2 s), the freeze waits for MariaDB's
  // STOP SLAVE (2 s) and the writer for its own 3 s query timeout (docs/ha.md, hangs): about 6 s.
  t.ok(first.at - tStop <= 12_000, `SIGSTOP → first acknowledged write on node ${sh.primary} in ${first.at - tStop} ms (bound 12000)`);
  const oldView = (await ha.node(n1))!;
  t.equal(oldView.repair, 'fenced', 'the hung primary is recorded as fenced');
  t.equal(oldView.fence?.method, 'host_unreachable', 'it could not be reached to fence over SQL');

  // ---- SIGCONT: it wakes up writable, with no replica left to acknowledge ----
  old.resume();
  const early = tryWrite(old.host, old.port, 900_000_001, 8_000);
  const settled = await waitFor('the old primary to be dealt with (rejoined or marked for rebuild)', async () => {
    const n = await ha.node(n1);
    return n && (n.repair === 'ok' || n.repair === 'needs_rebuild') ? n : undefined;
  }, 30_000);
  const earlyOutcome = await early;
  t.not(earlyOutcome, 'acknowledged', `a write sent right after SIGCONT is not acknowledged (${earlyOutcome})`);
  const c1 = await old.connect();
  const [[ro]] = await c1.query<RowDataPacket[]>('SELECT @@read_only AS ro, @@rpl_semi_sync_master_enabled AS ss');
  t.equal(Number(ro!.ro), 1, 'the old primary is read-only');
  t.equal(Number(ro!.ss), 0, 'its semi-sync master side is off');
  const late = await tryWrite(old.host, old.port, 900_000_002, 3_000);
  t.equal(late, 'ER_OPTION_PREVENTS_STATEMENT', 'a write to it is refused: read-only');
  if (settled.repair === 'ok') {
    t.equal(settled.source, sh.primary, 'it rejoined as a replica of the new primary');
  } else {
    t.match(settled.rebuild?.reason ?? '', /transactions/, `it holds a commit no replica has: marked for rebuild (${settled.rebuild?.reason})`);
    t.same((await ha.shardView())!.needsRebuild, [n1], 'the shard view lists it');
  }

  const report = await writer.stop();
  primary.stop();
  t.comment(`writer: ${report.acked} acknowledged, ${report.failed} failed, longest unavailability ${report.longestMs} ms`);
  const nc = await newInst.connect();
  const check = await checkAcknowledged(nc, writer.acked.map((a) => a.id));
  t.same(check.missing, [], `all ${check.checked} acknowledged writes are on the new primary`);
  const [rows] = await nc.query<RowDataPacket[]>('SELECT id FROM cmgr_chaos.acked_writes WHERE id >= 900000000');
  t.same(rows, [], 'the writes sent to the old primary are not on the new one');
  await Promise.all([nc.end(), c1.end()]);
});
