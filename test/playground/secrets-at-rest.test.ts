// Issue 13, done-when: after a playground creates a cluster with a chosen compute password, that
// password is found in no member file (WAL, logs, configs), not in the JetStream mirror (its store on
// disk and the stream read back with the read-only account), not in any API answer, and on no command
// line; the compute node does use it. The same for the generated MariaDB admin password (meta_pwd),
// except in the members' 0600 configs that must hold it. Also: NATS refuses an anonymous reader and the playground's files
// that hold secrets are 0600.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'nats';
import t from 'tap';
import { readStream } from '../../src/audit/sources.js';
import { makeRunDir } from '../../src/launcher/index.js';
import { processesUnder } from '../../src/agent/procfs.js';
import { PlaygroundRun, sh } from './helpers.js';
import { PLAYGROUND_TOKEN_FILE } from '../../src/playground/state.js';

const dir = makeRunDir('secrets-at-rest');
const run = new PlaygroundRun(dir, ['--base-port', '0', '--shards', '1', '--nodes', '2', '--comps', '1']);
t.teardown(() => run.cleanup());

/** Every file under `root` (recursively). */
function files(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

t.test('the compute password is used, and found nowhere a member keeps or shows things', async (t) => {
  run.start();
  const s = await run.ready(420_000);
  const secret = readFileSync(join(dir, 'secrets', 'compute-password'), 'utf8').trim();
  t.ok(secret.length >= 16, 'the playground generated the compute password');
  const needle = Buffer.from(secret);
  const admin = readFileSync(join(dir, 'secrets', 'mysql-admin-password'), 'utf8').trim();
  t.ok(admin.length >= 32, 'the playground generated the MariaDB admin password');
  const adminNeedle = Buffer.from(admin);
  t.match(readFileSync(join(dir, 'secrets', 'mysql-client.cnf'), 'utf8'), `[client]\nuser=clustmgr\npassword=${admin}\n`, 'the mysql client option file holds the account');

  // It is the compute node's password: psql with the printed URL works.
  t.ok(s.psqlUrl?.includes(secret), 'the summary prints it for psql');
  const pq = sh(`psql '${s.psqlUrl}' -tAc 'select 41+1'`);
  t.equal(pq.out.trim(), '42', `psql with the generated password ${pq.err}`);

  // Member files: WAL, logs, configs; and the mirror's JetStream store.
  const memberFiles = ['member1', 'member2', 'member3'].flatMap((m) => files(join(dir, m)));
  t.ok(memberFiles.some((f) => f.includes(`${join('data', 'raft')}`)), 'the members\' Raft files are among them');
  const holding = [...memberFiles, ...files(join(dir, 'nats'))].filter((f) => readFileSync(f).includes(needle));
  t.same(holding, [], 'no member or NATS file holds the compute password');
  const holdingAdmin = [...memberFiles, ...files(join(dir, 'nats'))].filter((f) => readFileSync(f).includes(adminNeedle));
  t.same(holdingAdmin.filter((f) => !f.endsWith('cluster_mgr.cnf')), [], 'no member or NATS file but the configs (meta_pwd) holds the admin password');
  t.equal(holdingAdmin.length, 3, 'the three members\' configs hold it as meta_pwd');
  // The storage nodes got it from the manager's install_mysql call: nothing of the agent's keeps it
  // (config, logs, registry, the instances' data). Only the metadata shard has it, in the original
  // schema's shard_nodes/meta_db_nodes.passwd that compute nodes read.
  const agentHolding = files(join(dir, 'agent')).filter((f) => { try { return readFileSync(f).includes(adminNeedle); } catch { return false; } });
  t.same(agentHolding, [], 'no file of the node agent or its instances holds the admin password');
  const wal = memberFiles.filter((f) => f.includes(join('data', 'raft')));
  t.ok(wal.some((f) => readFileSync(f).includes(Buffer.from('enc:v1:'))), 'the Raft log holds it sealed (enc:v1:…)');
  for (const f of memberFiles.filter((x) => x.endsWith('cluster_mgr.cnf'))) {
    t.equal(statSync(f).mode & 0o777, 0o600, `${f} (meta_pwd) is 0600`);
  }
  for (const f of files(join(dir, 'secrets'))) t.equal(statSync(f).mode & 0o077, 0, `${f} is readable by its owner only`);

  // The mirror, read back as a watcher would.
  const natsUrl = /NATS JetStream\s+(\S+)/.exec(run.out)![1]!;
  await t.rejects(connect({ servers: natsUrl, timeout: 2_000, reconnect: false }), /Authorization Violation/i, 'NATS refuses an anonymous client');
  const watcherPassword = readFileSync(join(dir, 'secrets', 'nats-watcher-password'), 'utf8').trim();
  const stream = await readStream(natsUrl, 'KUNLUN_EVENTS', { credentials: { kind: 'password', user: 'watcher', pass: watcherPassword } });
  t.ok(stream.records.some((r) => r.type === 'cluster.created'), 'the watcher reads the mirror (cluster.created included)');
  t.notOk(stream.records.some((r) => Buffer.from(r.bytes).includes(needle)), 'no mirrored event holds the compute password');
  t.notOk(stream.records.some((r) => Buffer.from(r.bytes).includes(adminNeedle)), 'no mirrored event holds the admin password');

  // Every API answer: the GET routes of the OpenAPI document, and get_status of the create_cluster job.
  // With the playground's admin token: an answer refused for want of one would prove nothing.
  const token = readFileSync(join(dir, PLAYGROUND_TOKEN_FILE), 'utf8').trim();
  const headers = { authorization: `Bearer ${token}` };
  const doc = (await (await fetch(`${s.firstUrl}/api/v1/openapi.json`, { headers })).json()) as { paths: Record<string, Record<string, unknown>> };
  const gets = Object.entries(doc.paths).filter(([p, ops]) => 'get' in ops && !p.includes('{') && !/events|watch/.test(p)).map(([p]) => p);
  t.ok(gets.includes('/api/v1/view'), `GET routes checked: ${gets.join(' ')}`);
  for (const p of [...gets, '/api/v1/member', '/metrics', '/status']) {
    const res = await fetch(`${s.firstUrl}${p}`, { headers, signal: AbortSignal.timeout(10_000) });
    const body = await res.text();
    t.notOk([401, 403].includes(res.status), `GET ${p} answers the token's holder (${res.status})`);
    t.notOk(body.includes(secret) || body.includes(admin), `GET ${p} shows neither password`);
  }
  const gs = sh(s.getStatusCmd);
  t.match(gs.out, /create_cluster/, 'get_status answers');
  t.notOk(gs.out.includes(secret) || gs.out.includes(admin), 'get_status shows neither password');

  // No process of the playground has a secret on its command line.
  const others = ['raft-secret', 'agent-token', 'nats-manager-password', 'nats-watcher-password', 'secrets-key', 'repl-password', 'mysql-admin-password']
    .map((n) => readFileSync(join(dir, 'secrets', n), 'utf8').trim())
    .concat(token);
  const cmdlines = processesUnder(dir).map((pid) => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { return ''; } });
  t.ok(cmdlines.length >= 5, `${cmdlines.length} processes checked`);
  t.notOk(cmdlines.some((c) => [secret, ...others].some((x) => c.includes(x))), 'no secret on any command line');

  const down = sh(s.downCmd, 150_000);
  t.equal(down.code, 0, `--down exits 0: ${down.err}`);
});
