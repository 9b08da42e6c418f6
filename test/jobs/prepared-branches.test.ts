// delete_cluster keeps the shards and commit_log_<cluster> while a KunlunBase branch is prepared on a
// shard's primary: XA RECOVER on a real MariaDB finds it, the error names it, and once it has ended the
// check passes. An unreachable primary is reported, not waited for.
import t from 'tap';
import mysql from 'mysql2/promise';
import { freePort } from '../../src/launcher/ports.js';
import { awaitNoPreparedBranches, preparedBranchesText, scanPreparedBranches, type BranchHost } from '../../src/jobs/prepared-branches.js';
import { ADMIN, startMetaServer, type MetaServer } from '../metadata/fixtures.js';

let srv: MetaServer;
t.before(async () => {
  srv = await startMetaServer('prepared-branches');
});
t.teardown(async () => {
  await srv?.destroy();
});

const connect = (h: BranchHost) => mysql.createConnection({ host: h.hostaddr, port: h.port, user: ADMIN.user, password: ADMIN.password, connectTimeout: 2_000 });

async function prepare(xid: string): Promise<void> {
  const c = await srv.connect();
  try {
    await c.query('CREATE DATABASE IF NOT EXISTS xa_t');
    await c.query('CREATE TABLE IF NOT EXISTS xa_t.t (id INT PRIMARY KEY) ENGINE=InnoDB');
    await c.query('XA START ?', [xid]);
    await c.query('INSERT INTO xa_t.t VALUES (?)', [Math.floor(Math.random() * 1e9)]);
    await c.query('XA END ?', [xid]);
    await c.query('XA PREPARE ?', [xid]);
  } finally {
    // MariaDB keeps a prepared branch after its session ends (as after a compute node's crash).
    await c.end();
  }
}

t.test('a prepared KunlunBase branch is found and named; other XA transactions are not ours; gone once ended', async (t) => {
  await prepare('5-1700000000-42');
  await prepare('not-kunlun');
  const closed = await freePort();
  const hosts: BranchHost[] = [
    { shard: 3, hostaddr: '127.0.0.1', port: srv.server.port },
    { shard: 4, hostaddr: '127.0.0.1', port: closed },
  ];
  const scan = await scanPreparedBranches(hosts, connect);
  t.strictSame(scan.branches, [{ shard: 3, hostaddr: '127.0.0.1', port: srv.server.port, xid: '5-1700000000-42' }]);
  t.equal(scan.unreachable.length, 1);
  t.match(scan.unreachable[0], `127.0.0.1:${closed} (`, 'the primary that could not be asked is named');

  // Still there after the wait: what remains is returned for the job's refusal.
  const waited = await awaitNoPreparedBranches({ hosts: hosts.slice(0, 1), connect, waitMs: 300, pollMs: 100, signal: new AbortController().signal });
  t.strictSame(waited.branches, scan.branches);
  t.ok(waited.waitedMs >= 300);
  t.equal(
    preparedBranchesText(7, scan.branches, 12_400),
    `cluster 7: 1 prepared XA branch(es) remain after 12 s: 5-1700000000-42 on shard 3 (127.0.0.1:${srv.server.port}); ` +
      'their commit-log decisions are still needed, so the shards and commit_log are kept: retry delete_cluster once the XA resolver has ended them',
  );

  const c = await srv.connect();
  await c.query('XA ROLLBACK ?', ['5-1700000000-42']);
  await c.query('XA ROLLBACK ?', ['not-kunlun']);
  await c.end();
  const after = await awaitNoPreparedBranches({ hosts: hosts.slice(0, 1), connect, waitMs: 60_000, pollMs: 100, signal: new AbortController().signal });
  t.strictSame(after.branches, [], 'no branch left: the cluster may go');
  t.ok(after.waitedMs < 60_000, 'at once');
});

t.test('the error lists at most 20 branches and counts the rest', (t) => {
  const many = Array.from({ length: 23 }, (_, i) => ({ shard: 1, hostaddr: 'h', port: 1, xid: `1-2-${i}` }));
  t.match(preparedBranchesText(2, many, 1_000), /1-2-19 on shard 1 \(h:1\) and 3 more;/);
  t.end();
});
