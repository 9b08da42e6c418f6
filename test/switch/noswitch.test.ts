// No-switch windows against the automatic failover, on a real 3-member group and a real MariaDB rbr
// shard: set_noswitch through the Emit API, kill -9 the primary. The manager concludes it is dead but
// promotes nobody while the window lasts; when the window expires (by its timeout, no other event)
// the failover runs, and no acknowledged write is lost. del_noswitch ends a window at once.
import t, { type Test } from 'tap';
import { ContinuousWriter, checkAcknowledged } from '../chaos/writer.js';
import type { MariaDbInstance } from '../../src/launcher/index.js';
import { CLUSTER_ID, HA_APP, HaCluster, SHARD_ID, waitFor, type HaShardView } from '../helpers/ha-cluster.js';
import { emit, findWritablePrimary, primaryFinder, realRole } from './helpers.js';
import { setTimeout as sleep } from 'node:timers/promises';

const ha = new HaCluster({ label: 'noswitch-test', sets: ['probe_interval_ms=250', 'failover_min_interval_ms=0'] });

t.before(async () => {
  await ha.start();
});
t.teardown(async () => {
  await ha.stop();
});

type ShardWithWindow = HaShardView & { noSwitch: { until: number; reason: string } | null; last: (HaShardView['last'] & { kind?: string }) | null };

async function shard(): Promise<ShardWithWindow> {
  return (await ha.shardView()) as ShardWithWindow;
}

/** Checks, until `until`, that nothing was promoted: the world keeps the dead primary, no node is writable. */
async function holdsUntil(t: Test, primary: number, until: number): Promise<number> {
  let checks = 0;
  while (Date.now() < until) {
    const s = await shard();
    if (s.task !== null || s.primary !== primary) {
      t.fail(`a failover started inside the window: ${JSON.stringify({ task: s.task, primary: s.primary })}`);
      return checks;
    }
    const w = await findWritablePrimary(ha.shard.nodes);
    if (w !== null) {
      t.fail(`a node became writable inside the window: ${w.host}:${w.port}`);
      return checks;
    }
    checks++;
    await sleep(250);
  }
  return checks;
}

// A primary killed under a writer may hold a commit that reached its binlog and no replica (never
// acknowledged): then the right outcome is "needs rebuild", not a rejoin (as in test/shard-ha/failover).
async function restartAndRejoin(t: Test, id: number, inst: MariaDbInstance, newPrimary: MariaDbInstance): Promise<void> {
  await inst.start();
  const outcome = await waitFor(
    `${inst.address} to rejoin as a replica of ${newPrimary.address} or be marked for rebuild`,
    async () => {
      const n = await ha.node(id);
      if (n?.repair === 'needs_rebuild') return 'rebuild';
      const r = await realRole(inst);
      return r.readOnly === true && r.source === newPrimary.address && r.io === 'Yes' && r.sql === 'Yes' ? 'rejoined' : undefined;
    },
    60_000,
  );
  if (outcome === 'rebuild') {
    const n = await ha.node(id);
    t.match(n?.rebuild?.reason ?? '', /transactions/, `${inst.address} marked for rebuild: ${n?.rebuild?.reason}`);
    return;
  }
  t.pass(`${inst.address} rejoined as a replica of ${newPrimary.address}`);
}

async function newPrimaryAfter(old: number, ms: number): Promise<ShardWithWindow> {
  return waitFor(
    'the automatic failover to finish',
    async () => {
      const s = await shard();
      return s.primary !== null && s.primary !== old && s.task === null ? s : undefined;
    },
    ms,
  );
}

t.test('a window suppresses the automatic failover of a dead primary until it expires', async (t) => {
  const windowSec = 10;
  const oldId = (await shard()).primary!;
  const old = ha.instance(oldId);
  const set = await emit(ha, 'set_noswitch', { type: '1', timeout: String(windowSec), cluster_id: String(CLUSTER_ID), shard_id: String(SHARD_ID) });
  t.equal(set.status, 'done', `set_noswitch: ${set.error_info}`);
  const s0 = await shard();
  t.ok(s0.noSwitch !== null, 'the shard carries the window');
  const until = s0.noSwitch!.until;
  const list = await emit(ha, 'list_noswitch', { cluster_id: 'all' });
  t.match(JSON.stringify(list.attachment), new RegExp(`"shard_id":"?${SHARD_ID}`), `list_noswitch shows it: ${JSON.stringify(list.attachment)}`);

  let writer: ContinuousWriter | null = null;
  writer = new ContinuousWriter({ getPrimary: primaryFinder(ha.shard.nodes, () => writer), credentials: HA_APP, queryTimeoutMs: 5_000 });
  writer.start();
  await writer.waitForAcks(100, 20_000);
  await old.kill9();
  const killedAt = Date.now();
  t.ok(killedAt < until - 4_000, `killed ${until - killedAt} ms before the window ends`);

  await waitFor('the primary to be concluded dead', async () => ((await ha.node(oldId))?.health === 'dead' ? true : undefined), until - Date.now());
  t.pass(`primary ${oldId} concluded dead ${Date.now() - killedAt} ms after kill -9, inside the window`);
  const checks = await holdsUntil(t, oldId, until - 300);
  t.ok(checks > 0, `no failover and no writable node in ${checks} checks until the window ended`);

  const s = await newPrimaryAfter(oldId, 30_000);
  const startedAt = s.last!.startedAt;
  t.equal(s.last?.outcome, 'finished', `failed over to node ${s.primary}`);
  t.ok(startedAt >= until, `the failover started ${startedAt - until} ms after the window ended, not before`);
  t.ok(startedAt - until < 5_000, `the expiry alone triggered it within 5 s (took ${startedAt - until} ms)`);
  const np = ha.instance(s.primary!);
  await writer.waitForAcks(50, 20_000, np.address);
  const rep = await writer.stop();
  t.comment(`writer: ${rep.acked} acknowledged, ${rep.failed} failed, longest gap ${rep.longestMs} ms (the window)`);
  const ids = writer.acked.map((a) => a.id);
  const c = await np.connect();
  t.same((await checkAcknowledged(c, ids)).missing, [], `all ${ids.length} acknowledged writes on the new primary`);
  await c.end();
  await restartAndRejoin(t, oldId, old, np);
});

t.test('del_noswitch ends a window at once and the failover follows', async (t) => {
  const oldId = (await shard()).primary!;
  const old = ha.instance(oldId);
  await waitFor('every node alive', async () => ((await ha.view())?.nodes.every((n) => n.health === 'alive') ? true : undefined), 30_000);
  const set = await emit(ha, 'set_noswitch', { type: '1', timeout: '600', cluster_id: String(CLUSTER_ID) });
  t.equal(set.status, 'done', `set_noswitch for the whole cluster: ${set.error_info}`);
  await old.kill9();
  const killedAt = Date.now();
  await waitFor('the primary to be concluded dead', async () => ((await ha.node(oldId))?.health === 'dead' ? true : undefined), 20_000);
  const checks = await holdsUntil(t, oldId, Date.now() + 2_000);
  t.ok(checks > 0, `no failover during ${checks} checks while the window is on`);
  const del = await emit(ha, 'del_noswitch', { cluster_id: String(CLUSTER_ID) });
  t.equal(del.status, 'done', `del_noswitch: ${del.error_info}`);
  const delAt = Date.now();
  t.equal((await shard()).noSwitch, null, 'the window is gone');
  const s = await newPrimaryAfter(oldId, 20_000);
  t.ok(s.last!.startedAt >= delAt - 1_000, 'the failover started after the window was deleted');
  t.comment(`failover finished ${Date.now() - delAt} ms after del_noswitch (${Date.now() - killedAt} ms after kill -9)`);
  await restartAndRejoin(t, oldId, old, ha.instance(s.primary!));
});
