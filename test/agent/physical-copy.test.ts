// A physical copy between two node agents on real MariaDB servers: the source agent streams
// `mariadb-backup --backup` of a running instance with data to the target agent, which extracts,
// verifies, prepares and swaps it in for an instance whose data dir was deleted; the target comes back
// read-only with every table's CHECKSUM equal to the source's and reports the copy's GTID. Also: the
// pv_limit throttle holds within 10 %, abort_copy leaves the old data dir as it was, need_backup keeps
// the old data aside (and the retention removes the oldest), the stream refuses callers without a
// valid one-time ticket, a copy that would not fit is refused up front, a stalled source (its
// mariadb-backup SIGSTOPped) and a reader that stopped reading are given up, the outcome of a copy
// survives an agent restart, and a copy runs over HTTPS between agents that serve TLS.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { request, type IncomingMessage } from 'node:http';
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { AgentClient, type StartCopyRequest } from '../../src/agent/client.js';
import type { CopyStatus } from '../../src/agent/copy-target.js';
import { loadAgentConfig } from '../../src/agent/config.js';
import { processesUnder } from '../../src/agent/procfs.js';
import { runAgent, type RunningAgent } from '../../src/agent/server.js';
import { writeSecretFile } from '../../src/config/secret-file.js';
import { freePort } from '../../src/launcher/index.js';
import { createLogger } from '../../src/log/logger.js';
import { AgentChild, agentRun, emit, waitFor, writeConfig } from './helpers.js';

const ADMIN = { user: 'kadmin', password: 'adm#Pw"Secret-1' };
const MIB = 1024 * 1024;
const run = agentRun('agent-copy');
t.teardown(() => run.cleanup());

interface Side {
  agent: RunningAgent;
  client: AgentClient;
  httpPort: number;
  token: string;
}

// Short for the test, long enough that a loaded machine never looks stalled (the default is 60).
const STALL_S = 10;

/** A self-signed certificate for 127.0.0.1: each agent's, and the CA the others verify it by. */
function makeCert(): { cert: string; key: string } {
  const key = join(run.dir, 'agent.key');
  const cert = join(run.dir, 'agent.crt');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  chmodSync(key, 0o600);
  return { cert, key };
}

/** `reuse`: the same port and token again (an agent restarted on its base dir); `tls`: serve HTTPS, trust that CA. */
async function startAgent(name: string, reuse?: Side, tls?: { cert: string; key: string }): Promise<Side> {
  const httpPort = reuse?.httpPort ?? (await freePort());
  const token = `token-of-${name}-8c1d`;
  const tokenFile = join(run.dir, `${name}.token`);
  writeSecretFile(tokenFile, token);
  const cfg = loadAgentConfig({
    sets: [
      `brpc_http_port=${httpPort}`, `instance_base_dir=${join(run.base, name)}`, `api_token_file=${tokenFile}`,
      `copy_stall_timeout_s=${STALL_S}`, 'copy_keep_old_datadirs=1',
      ...(tls ? [`tls_cert_file=${tls.cert}`, `tls_key_file=${tls.key}`, `tls_ca_file=${tls.cert}`] : []),
    ],
    // The account mariadb-backup logs in with; its password has characters an option file must quote.
    env: { CLUSTER_MGR_AGENT_DEFAULT_STORAGE_ACCOUNTS: `${ADMIN.user}:${ADMIN.password}` },
  });
  const agent = await runAgent(cfg, createLogger({ level: 'warn' }));
  return { agent, client: new AgentClient({ host: '127.0.0.1', port: httpPort, token, ...(tls ? { tlsCa: readFileSync(tls.cert) } : {}) }), httpPort, token };
}

/** The mariadb-backup processes a source agent runs for its streams. */
const backupsUnder = (dir: string): number[] => processesUnder(dir, ['mariadb-backup', 'mariabackup']);

async function login(port: number): Promise<mysql.Connection> {
  return mysql.createConnection({ host: '127.0.0.1', port, ...ADMIN, connectTimeout: 3_000 });
}

async function checksums(port: number): Promise<Record<string, string>> {
  const c = await login(port);
  try {
    const [tables] = await c.query<RowDataPacket[]>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'app' ORDER BY 1");
    const out: Record<string, string> = {};
    for (const { t: name } of tables) {
      const [rows] = await c.query<RowDataPacket[]>(`CHECKSUM TABLE app.${c.escapeId(String(name))}`);
      out[String(name)] = String(rows[0]!.Checksum);
    }
    return out;
  } finally {
    await c.end();
  }
}

async function scalar(port: number, sql: string): Promise<unknown> {
  const c = await login(port);
  try {
    const [rows] = await c.query<RowDataPacket[]>(sql);
    return Object.values(rows[0]!)[0];
  } finally {
    await c.end();
  }
}

async function status(side: Side, copyId: string): Promise<CopyStatus> {
  return side.client.copyStatus({ copyId });
}

/** As the manager does it: the source's offer (ticket, size, TLS) handed to the target's start_copy. */
async function copyTo(src: Side, dst: Side, srcPort: number, dstPort: number, copyId: string, extra: Partial<StartCopyRequest> = {}): Promise<CopyStatus> {
  const offer = await src.client.prepareCopy({ port: srcPort });
  const started = await dst.client.startCopy({
    port: dstPort, sourceHost: '127.0.0.1', sourceAgentPort: src.httpPort, ticket: offer.ticket, sourceBytes: offer.data_bytes, sourceTls: offer.tls, copyId, ...extra,
  });
  t.match(started, { copy_id: copyId, step: /queued|receiving/ });
  return started;
}

async function finished(side: Side, copyId: string, timeoutMs = 120_000): Promise<CopyStatus> {
  return waitFor(`copy ${copyId} to end`, timeoutMs, async () => {
    const s = await status(side, copyId);
    return ['done', 'failed', 'aborted'].includes(s.step) ? s : undefined;
  });
}

t.test('physical copy between two agents', async (t) => {
  const src = await startAgent('source');
  const dst = await startAgent('target');
  t.teardown(async () => {
    await src.agent.close();
    await dst.agent.close();
  });
  const srcPort = await freePort();
  const dstPort = await freePort();
  await src.client.installMysql({ port: srcPort, innodbBufferSizeMb: 64 });
  await dst.client.installMysql({ port: dstPort, innodbBufferSizeMb: 64 });

  // Data on the source (the primary the copy is taken from).
  const c = await login(srcPort);
  await c.query('SET GLOBAL read_only = 0');
  await c.query('CREATE DATABASE app');
  await c.query('USE app');
  await c.query('CREATE TABLE app.t1 (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB');
  await c.query('CREATE TABLE app.t2 (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB');
  await c.query('CREATE TABLE app.t3 (k VARCHAR(16) PRIMARY KEY, n BIGINT) ENGINE=Aria');
  await c.query('INSERT INTO app.t1 SELECT seq, MD5(seq) FROM seq_1_to_20000');
  for (let i = 0; i < 24; i++) await c.query('INSERT INTO app.t2 (b) VALUES (RANDOM_BYTES(1024) )');
  await c.query("INSERT INTO app.t2 (b) SELECT REPEAT(SHA2(seq, 256), 2000) FROM seq_1_to_160");
  await c.query("INSERT INTO app.t3 VALUES ('a', 1), ('b', 2)");
  const [gtidRows] = await c.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS g');
  await c.end();
  const want = await checksums(srcPort);
  t.same(Object.keys(want), ['t1', 't2', 't3']);

  t.test('the stream refuses callers without a valid one-time ticket; the Emit calls need the agent token', async (t) => {
    const get = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        request({ host: '127.0.0.1', port: src.httpPort, path: '/HttpService/CopyStream', agent: false, headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject).end();
      });
    t.equal(await get({}), 401, 'no ticket');
    t.equal(await get({ authorization: `Bearer ${'0'.repeat(64)}` }), 401, 'a made-up ticket');
    t.equal(await get({ authorization: `Bearer ${src.token}` }), 401, 'the agent token is not a ticket');
    t.equal((await emit(src.httpPort, 'prepare_copy_source', { port: srcPort })).http, 401, 'prepare_copy_source without the token');
    t.equal((await emit(dst.httpPort, 'start_copy', {})).http, 401, 'start_copy without the token');
    const wrong = await new AgentClient({ host: '127.0.0.1', port: src.httpPort, token: dst.token }).call('prepare_copy_source', { port: srcPort }).catch((e: unknown) => e);
    t.match(wrong, { status: 'failed', info: /missing or wrong bearer token/ }, "the other agent's token is refused");

    const ticket = await src.client.prepareCopySource({ port: srcPort });
    t.match(ticket, /^[0-9a-f]{64}$/);
    // Used once by this GET (which the test drops at once), then void.
    t.equal(await get({ authorization: `Bearer ${ticket}` }), 200, 'the ticket opens the stream once');
    await dst.client.run('start_copy', { port: dstPort, source_host: '127.0.0.1', source_agent_port: src.httpPort, ticket, copy_id: 'reused' });
    const s = await finished(dst, 'reused');
    t.equal(s.step, 'failed');
    t.match(s.error, /step receiving: the source agent refused the copy \(HTTP 401\)/);
    t.notOk(readdirSync(join(run.base, 'target', 'storage', String(dstPort))).some((n) => n.startsWith('data.')), 'nothing left beside the data dir');
    t.equal(await scalar(dstPort, 'SELECT 1'), 1, 'the target instance was never touched');
    const bad = await dst.client.call('start_copy', { port: dstPort, source_host: '127.0.0.1', source_agent_port: src.httpPort, ticket: 'x; rm -rf /' });
    t.match(bad, { status: 'failed', info: /start_copy: paras\.ticket: expected a ticket .*64 hex digits\); the value is not shown/ });
    t.notMatch(JSON.stringify(bad), /rm -rf/, 'a bad ticket is not echoed');
  });

  t.test('the source reports its data size; a copy that would not fit is refused up front', async (t) => {
    const offer = await src.client.prepareCopy({ port: srcPort });
    t.ok(offer.data_bytes! > 20 * MIB && offer.data_bytes! < 1024 * MIB, `data_bytes ${offer.data_bytes}`);
    t.equal(offer.tls, false);
    const free = statfsSync(run.base);
    const huge = free.bavail * free.bsize;
    const a = await dst.client.call('start_copy', {
      port: dstPort, source_host: '127.0.0.1', source_agent_port: src.httpPort, ticket: offer.ticket, copy_id: 'toobig', source_bytes: huge,
    });
    t.equal(a.status, 'failed');
    t.match(a.info, new RegExp(`^start_copy: port ${dstPort}: not enough free disk for the copy: it needs ${Math.ceil((huge * 110) / 100)} bytes \\(.* GiB: the source's ${huge} bytes \\+ 10 % copy_disk_margin_pct\\) and .*/storage/${dstPort} has \\d+ bytes \\(.*\\) free$`));
    t.match(await dst.client.call('get_copy_status', { copy_id: 'toobig' }), { status: 'failed', info: /no copy with id toobig/ }, 'no copy was started');
    t.equal(await scalar(dstPort, 'SELECT 1'), 1, 'the target instance was not touched');
  });

  t.test('a copy into an instance whose data dir was deleted: read-only, same checksums, GTID reported, pv_limit held', async (t) => {
    await dst.client.killMysql({ port: dstPort });
    const dstData = join(run.base, 'target', 'storage', String(dstPort), 'data');
    rmSync(dstData, { recursive: true, force: true });
    const limitMb = 8;
    await copyTo(src, dst, srcPort, dstPort, 'c1', { pvLimitMb: limitMb });
    const rates: number[] = [];
    const s = await waitFor('copy c1 to end', 120_000, async () => {
      const x = await status(dst, 'c1');
      if (x.step === 'receiving' && x.rate_bytes_per_sec > 0) rates.push(x.rate_bytes_per_sec);
      return ['done', 'failed', 'aborted'].includes(x.step) ? x : undefined;
    });
    t.equal(s.step, 'done', JSON.stringify(s.error ?? ''));
    t.ok(s.bytes > 20 * MIB, `${(s.bytes / MIB).toFixed(1)} MiB streamed`);
    const avg = s.avg_bytes_per_sec;
    t.ok(Math.abs(avg / (limitMb * MIB) - 1) <= 0.1, `average ${(avg / MIB).toFixed(2)} MiB/s within 10 % of pv_limit ${limitMb}`);
    t.comment(`copy c1: ${(s.bytes / MIB).toFixed(1)} MiB at pv_limit ${limitMb} MiB/s: average ${(avg / MIB).toFixed(2)} MiB/s, ${s.elapsed_ms} ms in all`);
    t.ok(rates.length > 2, `progress seen while receiving (${rates.length} samples)`);
    t.match(s.sha256, /^[0-9a-f]{64}$/);
    t.equal(s.gtid, String(gtidRows[0]!.g), "the GTID of the copy is the source's binlog position");
    t.equal(await scalar(dstPort, 'SELECT @@read_only'), 1, 'the target started read-only');
    t.same(await checksums(dstPort), want, 'CHECKSUM TABLE of every table equals the source');
    const inst = (await dst.client.listInstances({ port: dstPort })).instances[0]!;
    t.equal(inst.status, 'running');
    t.notOk(readdirSync(join(run.base, 'target', 'storage', String(dstPort))).some((n) => n.startsWith('data.')), 'no copy dir left');
  });

  t.test('abort_copy leaves the old data dir intact and the instance running', async (t) => {
    const before = (await dst.client.listInstances({ port: dstPort })).instances[0]!;
    await copyTo(src, dst, srcPort, dstPort, 'c2', { pvLimitMb: 1 });
    await waitFor('some bytes of c2', 30_000, async () => ((await status(dst, 'c2')).bytes > 2 * MIB ? true : undefined));
    t.match(await dst.client.abortCopy({ copyId: 'c2' }), { step: 'aborted', error: 'aborted by abort_copy' });
    const s = await status(dst, 'c2');
    t.equal(s.step, 'aborted');
    const after = (await dst.client.listInstances({ port: dstPort })).instances[0]!;
    t.equal(after.pid, before.pid, 'the instance was not restarted');
    t.same(await checksums(dstPort), want, 'its data is as before');
    t.notOk(readdirSync(join(run.base, 'target', 'storage', String(dstPort))).some((n) => n.startsWith('data.')), 'the partial copy is gone');
    const again = await dst.client.call('abort_copy', { copy_id: 'nope' });
    t.match(again, { status: 'failed', info: /abort_copy: no copy with id nope/ });
  });

  t.test('need_backup=1 keeps the old data dir aside', async (t) => {
    await copyTo(src, dst, srcPort, dstPort, 'c3', { pvLimitMb: 0, needBackup: true });
    const s = await finished(dst, 'c3');
    t.equal(s.step, 'done', JSON.stringify(s.error ?? ''));
    t.comment(`copy c3 (no limit): ${(s.bytes / MIB).toFixed(1)} MiB in ${s.elapsed_ms} ms, average while receiving ${(s.avg_bytes_per_sec / MIB).toFixed(1)} MiB/s`);
    t.match(s.old_datadir, /data\.old-\d{8}T\d{6}Z$/);
    t.ok(existsSync(join(String(s.old_datadir), 'mysql')), 'the old data dir is kept');
    t.same(await checksums(dstPort), want);
  });

  t.test('retention: with copy_keep_old_datadirs=1 the next kept dir replaces the older one; list_instances shows it', async (t) => {
    const first = String((await status(dst, 'c3')).old_datadir);
    await copyTo(src, dst, srcPort, dstPort, 'c4', { pvLimitMb: 0, needBackup: true });
    const s = await finished(dst, 'c4');
    t.equal(s.step, 'done', JSON.stringify(s.error ?? ''));
    t.not(s.old_datadir, first);
    t.ok(existsSync(join(String(s.old_datadir), 'mysql')), 'the one just made is kept');
    t.notOk(existsSync(first), 'the older one is removed');
    t.equal(s.removed_old_datadirs?.length, 1);
    t.equal(s.removed_old_datadirs![0]!.path, first);
    t.ok(s.removed_old_datadirs![0]!.bytes > 20 * MIB, `its size was reported: ${s.removed_old_datadirs![0]!.bytes} bytes`);
    const inst = (await dst.client.listInstances({ port: dstPort })).instances[0]!;
    t.equal(inst.old_datadirs?.length, 1);
    t.match(inst.old_datadirs![0], { path: s.old_datadir, kept_since: /^\d{4}-\d\d-\d\dT/ });
    t.ok(inst.old_datadirs![0]!.bytes > 20 * MIB, 'with its size');
  });

  t.test(`a source whose mariadb-backup hangs (SIGSTOP) fails the copy after copy_stall_timeout_s (${STALL_S} s)`, async (t) => {
    const srcDir = join(run.base, 'source', 'storage', String(srcPort));
    const before = (await dst.client.listInstances({ port: dstPort })).instances[0]!;
    await copyTo(src, dst, srcPort, dstPort, 'c5', { pvLimitMb: 2 });
    const pids = await waitFor('the source mariadb-backup and some bytes', 30_000, async () => {
      const p = backupsUnder(srcDir);
      return p.length > 0 && (await status(dst, 'c5')).bytes > MIB ? p : undefined;
    });
    for (const p of pids) process.kill(p, 'SIGSTOP');
    const stoppedAt = Date.now();
    const s = await finished(dst, 'c5', 60_000);
    const waited = Date.now() - stoppedAt;
    t.equal(s.step, 'failed');
    t.match(s.error, new RegExp(`^copy c5 to port ${dstPort} failed in step receiving: no byte arrived from the source agent 127\\.0\\.0\\.1:${src.httpPort} for ${STALL_S} s \\(copy_stall_timeout_s is ${STALL_S}\\)`));
    t.ok(waited >= STALL_S * 1_000, `failed ${waited} ms after the SIGSTOP (buffers drain first)`);
    await waitFor('the stopped backup to be killed by its agent', 10_000, () => (backupsUnder(srcDir).length === 0 ? true : undefined));
    t.pass('the source agent killed its hung mariadb-backup when the target hung up');
    const after = (await dst.client.listInstances({ port: dstPort })).instances[0]!;
    t.equal(after.pid, before.pid, 'the target instance ran on untouched');
    t.notOk(readdirSync(join(run.base, 'target', 'storage', String(dstPort))).some((n) => n.startsWith('data.copy-')), 'the partial copy is gone');
  });

  t.test(`a reader that stops reading is given up by the source after copy_stall_timeout_s (${STALL_S} s)`, async (t) => {
    const srcDir = join(run.base, 'source', 'storage', String(srcPort));
    const ticket = await src.client.prepareCopySource({ port: srcPort });
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      request({ host: '127.0.0.1', port: src.httpPort, path: '/HttpService/CopyStream', agent: false, headers: { authorization: `Bearer ${ticket}` } }, resolve)
        .on('error', reject)
        .end();
    });
    t.equal(res.statusCode, 200);
    let got = 0;
    await new Promise<void>((resolve) => {
      const onData = (c: Buffer): void => {
        got += c.length;
        if (got < MIB) return;
        res.off('data', onData);
        res.pause();
        resolve();
      };
      res.on('data', onData);
    });
    const pausedAt = Date.now();
    // A paused socket does not notice the source hanging up; the source's backup going away does show.
    t.ok(backupsUnder(srcDir).length > 0, 'the backup waits for the reader');
    await waitFor('the source to give up its backup', STALL_S * 1_000 + 20_000, () => (backupsUnder(srcDir).length === 0 ? true : undefined));
    const waited = Date.now() - pausedAt;
    t.ok(waited >= STALL_S * 1_000, `its mariadb-backup was killed ${waited} ms after the reader stopped`);
    // Reading again: the stream ends cut, never complete.
    const ended = await new Promise<string>((resolve) => {
      res.once('end', () => resolve('end'));
      res.once('error', (e) => resolve(`error: ${e.message}`));
      res.resume();
    });
    t.notOk(res.complete, `the body is incomplete (${ended})`);
    t.equal(res.trailers['x-copy-status'], undefined, 'no status trailer: never taken for a finished stream');
  });

  t.test('a restarted agent removes what an interrupted copy left and keeps the instance', async (t) => {
    const instDir = join(run.base, 'target', 'storage', String(dstPort));
    const kept = readdirSync(instDir).filter((n) => n.startsWith('data.old-'));
    mkdirSync(join(instDir, 'data.copy-cut', 'app'), { recursive: true });
    mkdirSync(join(instDir, 'data.trash-cut'));
    await dst.agent.close();
    const again = await startAgent('target', dst);
    dst.agent = again.agent;
    t.same(readdirSync(instDir).filter((n) => n.startsWith('data.')), kept, 'only the kept old data dir is left beside data');
    t.same(await checksums(dstPort), want, 'the instance runs on, re-adopted');
  });

  t.test('copy outcomes survive agent restarts: finished, stopped with the agent, cut by a crash', async (t) => {
    const instDir = join(run.base, 'target', 'storage', String(dstPort));
    const c4 = await status(dst, 'c4');
    t.match(c4, { step: 'done', gtid: String(gtidRows[0]!.g) }, 'a copy finished before the restart: its outcome, GTID included');
    t.match(await status(dst, 'c2'), { step: 'aborted', error: 'aborted by abort_copy' });
    t.match(await status(dst, 'c5'), { step: 'failed', error: /no byte arrived/ });
    t.equal(statSync(join(run.base, 'target', 'agent-copies.json')).mode & 0o777, 0o600, 'the outcomes file is 0600');

    // Stopped with the agent mid-copy: failed, saying so (the manager starts it again).
    await copyTo(src, dst, srcPort, dstPort, 'c6', { pvLimitMb: 1 });
    await waitFor('some bytes of c6', 30_000, async () => ((await status(dst, 'c6')).bytes > MIB ? true : undefined));
    await dst.agent.close();
    dst.agent = (await startAgent('target', dst)).agent;
    t.match(await status(dst, 'c6'), {
      step: 'failed',
      error: /^copy c6 to port \d+ failed in step receiving: the agent was stopped during the copy; its directory was removed, the old data dir is untouched$/,
    });

    // Cut by a crash: the target's agent as a process of its own, killed with kill -9 while c9 receives.
    await dst.agent.close();
    const cnf = join(run.dir, 'target-process.cnf');
    writeConfig(cnf, {
      brpc_http_port: dst.httpPort, instance_base_dir: join(run.base, 'target'), api_token_file: join(run.dir, 'target.token'),
      copy_stall_timeout_s: STALL_S, copy_keep_old_datadirs: 1,
    });
    const proc = new AgentChild(cnf, join(run.dir, 'target-process.log'));
    run.agents.push(proc);
    proc.start();
    await waitFor('the agent process to answer', 20_000, async () => ((await dst.client.ping().then(() => true)) ? true : undefined));
    await copyTo(src, dst, srcPort, dstPort, 'c9', { pvLimitMb: 1 });
    await waitFor('some bytes of c9', 30_000, async () => ((await status(dst, 'c9')).bytes > MIB ? true : undefined));
    t.ok(existsSync(join(instDir, 'data.copy-c9')), 'its directory is there while it receives');
    await proc.kill9();
    dst.agent = (await startAgent('target', dst)).agent;
    const s = await status(dst, 'c9');
    t.match(s, { step: 'failed', error: `copy c9 to port ${dstPort} failed in step receiving: the agent restarted during the copy; leftovers removed` });
    t.ok(s.finished_at !== null, 'with the time it was found cut');
    t.notOk(existsSync(join(instDir, 'data.copy-c9')), 'its directory was removed');
    t.match(await status(dst, 'c6'), { step: 'failed' }, 'the earlier outcomes are still known');
    t.same(await checksums(dstPort), want, 'the instance runs on its old data');
  });

  t.test('over HTTPS: agents that serve TLS copy with the source verified against tls_ca_file', async (t) => {
    const tls = makeCert();
    await src.agent.close();
    await dst.agent.close();
    const s2 = await startAgent('source', src, tls);
    const d2 = await startAgent('target', dst, tls);
    Object.assign(src, s2);
    Object.assign(dst, d2);
    t.match(src.agent.url, /^https:/);
    const offer = await src.client.prepareCopy({ port: srcPort });
    t.equal(offer.tls, true, 'the source says it serves HTTPS');
    await copyTo(src, dst, srcPort, dstPort, 'c7', { pvLimitMb: 0 });
    const s = await finished(dst, 'c7');
    t.equal(s.step, 'done', JSON.stringify(s.error ?? ''));
    t.equal(s.source_tls, true);
    t.same(await checksums(dstPort), want, 'the copy arrived whole');

    // Fetching it as plain HTTP from the TLS source fails, and nothing is touched.
    await copyTo(src, dst, srcPort, dstPort, 'c8', { sourceTls: false });
    const plain = await finished(dst, 'c8');
    t.equal(plain.step, 'failed');
    t.match(plain.error, /step receiving: .*(refused|socket hang up|ECONNRESET|HTTP 400|ended before)/i);
    t.same(await checksums(dstPort), want);
  });
});
