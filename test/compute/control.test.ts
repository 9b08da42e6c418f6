// Compute-node control on a real PostgreSQL 15 (kunlun-server's stand-in): the cluster's user, the
// shard topology written, updated as the world changes, unchanged on a rerun, fenced by the term, and
// kept in sync by the leader-only reconciler.
import t from 'tap';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, makeRunDir, PostgresInstance } from '../../src/launcher/index.js';
import { compTopology, ensureClusterUser, readCompTopology, syncCompTopology, ComputeTopologyReconciler, withComp } from '../../src/compute/index.js';
import { ReconcilerHost } from '../../src/reconcile/host.js';
import { createLogger } from '../../src/log/logger.js';
import { loadConfig } from '../../src/config/load.js';
import { addShard, compScene, setPrimary } from './fixtures.js';

const ADMIN = { user: 'kunlun', password: 'adm-Pw-Secret-7' };
const dir = makeRunDir('compute-control');
const server = new PostgresInstance({ dir: join(dir, 'pg'), admin: ADMIN, extraConfig: { log_statement: "'all'" } });
t.teardown(async () => {
  await server.kill9();
  rmSync(dir, { recursive: true, force: true });
});

async function login(user: string, password: string): Promise<boolean> {
  const c = new pg.Client({ host: server.host, port: server.port, user, password, database: 'postgres', connectionTimeoutMillis: 3_000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

/** Row versions of the topology tables: equal before and after means nothing was written. */
async function rowVersions(c: pg.ClientBase): Promise<string> {
  const r = await c.query<{ v: string }>(
    `SELECT string_agg(t || ':' || xmin::text, ',' ORDER BY t) AS v FROM (
       SELECT 'm' || comp_node_id AS t, xmin FROM kunlun.cluster_meta UNION ALL
       SELECT 's' || id, xmin FROM kunlun.shards UNION ALL
       SELECT 'n' || id, xmin FROM kunlun.shard_nodes UNION ALL
       SELECT 'v', xmin FROM kunlun.topology_version) x`,
  );
  return r.rows[0]!.v;
}

t.before(async () => {
  await server.start();
});

t.test('the cluster user: created, unchanged on a rerun, password changed, never in a statement', async (t) => {
  const user = 'app "user"; drop';
  const pw1 = 'Pw-One-secret-x1';
  const pw2 = "Pw-Two-'secret-x2";
  await withComp({ host: server.host, port: server.port, ...ADMIN }, async (c) => {
    t.equal(await ensureClusterUser(c, user, pw1), 'created');
    t.ok(await login(user, pw1), 'the new user logs in (a name with quotes and ; is one identifier)');
    const before = await c.query<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [user]);
    t.equal(await ensureClusterUser(c, user, pw1), 'unchanged', 'a rerun changes nothing');
    const after = await c.query<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [user]);
    t.equal(after.rows[0]!.rolpassword, before.rows[0]!.rolpassword, 'the stored verifier is untouched');
    t.equal(await ensureClusterUser(c, user, pw2), 'updated');
    t.notOk(await login(user, pw1), 'the old password is refused');
    t.ok(await login(user, pw2), 'the new password (with a quote) works');
    const su = await c.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [user]);
    t.equal(su.rows[0]!.rolsuper, true, 'a superuser, as kunlun-server expects of computer_user');
    // The superuser the agent installed: already right, so nothing to do.
    t.equal(await ensureClusterUser(c, ADMIN.user, ADMIN.password), 'unchanged');
  });
  const log = readFileSync(join(server.dir, 'postgres.log'), 'utf8');
  t.match(log, /ALTER ROLE/, 'statements are logged (log_statement=all)');
  for (const pw of ['Pw-One-secret-x1', 'Pw-Two-']) t.notOk(log.includes(pw), 'no password in the server log');
});

t.test('topology: written, unchanged on a rerun, updated on shard/primary/node changes, fenced', async (t) => {
  const s = compScene(server.host, server.port, ADMIN);
  const ep = { host: server.host, port: server.port, ...ADMIN };
  await withComp(ep, async (c) => {
    t.equal(await readCompTopology(c), null, 'nothing before the first write');
    const want = compTopology(s.world, s.comp, 'clustmgr')!;
    t.equal(want.shards.length, 2);
    t.equal(want.nodes.length, 6);
    let r = await syncCompTopology(c, want, { term: 3, applied: s.world.applied });
    t.equal(r.status, 'applied');
    t.equal(r.inserted, 1 + 2 + 6, 'meta row, 2 shards, 6 nodes');
    t.same(await readCompTopology(c), want, 'the node holds what the world says');
    const primaries = await c.query<{ hostaddr: string; port: number }>('SELECT hostaddr, port FROM kunlun.shard_nodes WHERE is_primary ORDER BY shard_id');
    t.equal(primaries.rowCount, 2, 'one primary per shard');
    const cols = await c.query<{ column_name: string }>("SELECT column_name FROM information_schema.columns WHERE table_schema = 'kunlun'");
    t.notOk(cols.rows.some((x) => /passw/i.test(x.column_name)), 'no password column');

    const v0 = await rowVersions(c);
    r = await syncCompTopology(c, want, { term: 3, applied: s.world.applied });
    t.same(r, { status: 'unchanged', inserted: 0, updated: 0, deleted: 0 }, 'a rerun writes nothing');
    t.equal(await rowVersions(c), v0, 'no row was rewritten');

    // A new shard without a primary yet, then its primary; a replica removed.
    const shard3 = addShard(s.leader, s.cluster, false);
    r = await syncCompTopology(c, compTopology(s.world, s.comp, 'clustmgr')!, { term: 3, applied: s.world.applied });
    t.same([r.status, r.inserted, r.updated, r.deleted], ['applied', 4, 0, 0]);
    const m = await c.query<{ master_node_id: number }>('SELECT master_node_id FROM kunlun.shards WHERE id = $1', [shard3]);
    t.equal(m.rows[0]!.master_node_id, 0, 'no primary yet');
    const nodes3 = s.world.nodesOf(shard3);
    setPrimary(s.leader, shard3, nodes3[1]!);
    const replica = s.world.nodesOf(s.shards[0]!)[2]!;
    s.leader.must({ kind: 'node.delete', node: replica });
    const want2 = compTopology(s.world, s.comp, 'clustmgr')!;
    r = await syncCompTopology(c, want2, { term: 3, applied: s.world.applied });
    // shard3 master + shard1 num_nodes; node of shard3 is_primary; the replica gone.
    t.same([r.status, r.inserted, r.updated, r.deleted], ['applied', 0, 3, 1]);
    t.same(await readCompTopology(c), want2);
    const p3 = await c.query<{ id: number }>('SELECT id FROM kunlun.shard_nodes WHERE shard_id = $1 AND is_primary', [shard3]);
    t.same(p3.rows.map((x) => x.id), [nodes3[1]], 'the new primary is marked');

    // A deposed leader (older term) writes nothing, even with a newer index.
    const v1 = await rowVersions(c);
    r = await syncCompTopology(c, want, { term: 2, applied: s.world.applied + 100 });
    t.equal(r.status, 'stale');
    t.same(r.found, { term: 3, applied: s.world.applied });
    t.equal(await rowVersions(c), v1, 'nothing written by the stale writer');
    t.same(await readCompTopology(c), want2);
  });
});

t.test('the reconciler keeps an active comp in sync, only while leading', async (t) => {
  await withComp({ host: server.host, port: server.port, ...ADMIN }, (c) => c.query('DROP SCHEMA IF EXISTS kunlun CASCADE'));
  const s = compScene(server.host, server.port, ADMIN);
  const cfg = loadConfig({ env: {}, sets: ['meta_user=clustmgr'] });
  const rec = new ComputeTopologyReconciler({ world: s.world, cfg });
  const host = new ReconcilerHost(createLogger({ level: 'silent' }), { resyncMs: 60_000 });
  host.add(rec);
  t.teardown(() => host.stop());
  const read = () => withComp({ host: server.host, port: server.port, ...ADMIN }, (c) => readCompTopology(c));
  t.same(rec.keys(), [], 'a comp still being created is its job\'s business');
  host.becameLeader(7);
  await host.idle();
  t.equal(await read(), null, 'nothing written for a creating comp');

  const changed = (...aggs: string[]): Promise<void> => {
    host.changed(new Set(aggs));
    return host.idle();
  };
  s.leader.must({ kind: 'comp.set_status', comp: s.comp, status: 'active' });
  await changed(`comp/${s.comp}`);
  t.same(await read(), compTopology(s.world, s.comp, 'clustmgr'), 'written once active');

  const shard = addShard(s.leader, s.cluster, true);
  t.same(rec.affected(new Set([`shard/${shard}`])), [String(s.comp)], 'a shard change reaches its cluster\'s comps');
  await changed(`shard/${shard}`);
  const now = await read();
  t.equal(now!.shards.length, 3, 'the new shard arrived');
  t.same(now, compTopology(s.world, s.comp, 'clustmgr'));

  const victim = s.shards[1]!;
  s.leader.must({ kind: 'shard.delete', shard: victim });
  t.same(rec.affected(new Set([`shard/${victim}`])), [String(s.comp)], 'a removed shard still reaches the comps');
  await changed(`shard/${victim}`);
  t.notOk((await read())!.shards.some((x) => x.id === victim), 'the removed shard is gone from the comp');

  host.lostLeadership();
  const shard5 = addShard(s.leader, s.cluster, true);
  await changed(`shard/${shard5}`);
  t.notOk((await read())!.shards.some((x) => x.id === shard5), 'a follower writes nothing');
  const v = await withComp({ host: server.host, port: server.port, ...ADMIN }, (c) => c.query<{ term: string }>('SELECT term FROM kunlun.topology_version'));
  t.equal(v.rows[0]!.term, '7', 'written under the leader\'s term');
});

t.test('connecting: a refused login fails at once, an absent server is retried, no password in the error', async (t) => {
  const t0 = Date.now();
  const bad = await withComp({ host: server.host, port: server.port, user: ADMIN.user, password: 'wrong-Secret-Pw' }, () => Promise.resolve(1), { attempts: 5, retryDelayMs: 500 }).then(
    () => null,
    (e: Error) => e,
  );
  t.match(bad?.message, /password authentication failed/);
  t.notMatch(bad?.message, /wrong-Secret-Pw/, 'the password is not in the message');
  t.ok(Date.now() - t0 < 1_500, 'a wrong password is not retried');
  const port = await freePort();
  const t1 = Date.now();
  await t.rejects(withComp({ host: server.host, port, ...ADMIN }, () => Promise.resolve(1), { attempts: 3, retryDelayMs: 300 }), /cannot connect/);
  t.ok(Date.now() - t1 >= 600, 'two pauses between three attempts');
});
