// The agent as an operator runs it (`cluster-mgr agent --config …`, a child process), driven through
// HTTP by the client, on real MariaDB and PostgreSQL: install, log in, stop/start/restart, kill -9 of the
// agent and a new agent that still knows and controls its instances, an install interrupted by that
// kill rolled back, the keepalive restarting a killed server and leaving it down when switched off or
// fenced, and uninstall leaving no process or directory.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import pg from 'pg';
import { freePort, makeRunDir } from '../../src/launcher/index.js';
import { AgentClient, type AgentInstance } from '../../src/agent/client.js';
import { pidAlive, processesUnder } from '../../src/agent/procfs.js';
import { AgentChild, emit, killEverythingUnder, registryOf, removeDir, waitFor, writeConfig } from './helpers.js';
import { setTimeout as sleep } from 'node:timers/promises';

const ADMIN = { user: 'kadmin', password: 'adm-Pw-Secret-1' };
const DEFAULT_ACCOUNT = { user: 'pgx', password: 'pgx-Pw-Secret-2' };
const PG_ADMIN = { user: 'kunlun', password: 'pg-Pw-Secret-3' };

const dir = makeRunDir('agent-life');
const base = join(dir, 'base');
let child: AgentChild | null = null;

// Whatever happens in the test, nothing may outlive it: the agent, then every server under the base dir.
t.teardown(async () => {
  await child?.kill9();
  await killEverythingUnder(base);
  removeDir(dir);
});

async function mysqlLogin(port: number, who = ADMIN): Promise<mysql.Connection> {
  return mysql.createConnection({ host: '127.0.0.1', port, user: who.user, password: who.password, connectTimeout: 3_000 });
}

async function pgLogin(port: number): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port, ...PG_ADMIN, database: 'postgres', connectionTimeoutMillis: 3_000 });
  await c.connect();
  return c;
}

async function canLogin(port: number): Promise<boolean> {
  try {
    const c = await mysqlLogin(port);
    await c.end();
    return true;
  } catch {
    return false;
  }
}

async function rplRole(port: number): Promise<string> {
  const c = await mysqlLogin(port);
  try {
    // init_rpl_role is a start-up option only; the role it gave shows in Rpl_status.
    const [rows] = await c.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Rpl_status'");
    return String(rows[0]?.Value);
  } finally {
    await c.end();
  }
}

t.test('agent lifecycle on real servers', async (t) => {
  const httpPort = await freePort();
  const myPort = await freePort();
  const pgPort = await freePort();
  const spare = await freePort();
  const cfgFile = join(dir, 'agent.cnf');
  writeConfig(cfgFile, {
    brpc_http_port: httpPort,
    local_ip: '127.0.0.1',
    instance_base_dir: base,
    keepalive_interval_ms: 200,
    keepalive_restart_delay_ms: 300,
    keepalive_backoff_ms: 300,
    default_storage_accounts: `${DEFAULT_ACCOUNT.user}:${DEFAULT_ACCOUNT.password}`,
    log_format: 'json',
    log_level: 'debug',
  });
  const c = new AgentClient({ host: '127.0.0.1', port: httpPort });
  const startAgent = async (): Promise<void> => {
    child = new AgentChild(cfgFile, join(dir, 'agent.log'));
    child.start();
    await waitFor('the agent to answer ping_pong', 20_000, async () => ((await c.ping().then(() => true)) ? true : undefined));
  };
  const instance = async (port: number): Promise<AgentInstance> => {
    const list = await c.listInstances({ port });
    if (list.instances.length !== 1) throw new Error(`expected one instance on ${port}, got ${list.instances.length}`);
    return list.instances[0]!;
  };
  const failure = (p: Promise<unknown>): Promise<Error> =>
    p.then(
      () => new Error('expected a failure'),
      (e: Error) => e,
    );

  const tStart = Date.now();
  const phase = (name: string) => t.comment(`${name}: ${Date.now() - tStart} ms since start`);
  await startAgent();
  phase('agent up');

  // --- install ---------------------------------------------------------------------------------------
  const t0 = Date.now();
  const my = await c.installMysql({ port: myPort, innodbBufferSizeMb: 16, isMaster: true, admin: ADMIN }, { requestId: 'job-11' });
  t.match(my, { status: 'success', info: 'success', extra: `127.0.0.1_${myPort}`, requestId: 'job-11' });
  const pgA = await c.installPostgres({ pgPort, computeNodeId: 1, ...PG_ADMIN, bindAddress: '127.0.0.1' });
  t.match(pgA, { status: 'success', extra: `127.0.0.1_${pgPort}` });
  t.comment(`install_mysql + install_postgres: ${Date.now() - t0} ms`);

  let m = await mysqlLogin(myPort);
  const [rows] = await m.query('SELECT @@read_only AS ro, @@server_id AS sid, @@port AS port');
  t.match(rows, [{ ro: 1, port: myPort }], 'the storage instance starts read-only on its port');
  await m.end();
  const other = await mysqlLogin(myPort, DEFAULT_ACCOUNT);
  await other.end();
  t.pass('the configured default account can log in too');
  let p = await pgLogin(pgPort);
  t.equal((await p.query<{ v: number }>('SELECT 41 + 1 AS v')).rows[0]!.v, 42, 'the compute instance answers its user');
  await p.end();
  t.match((await failure(c.installMysql({ port: myPort, innodbBufferSizeMb: 16, admin: ADMIN }))).message,
    /install_mysql failed: port \d+ already has a storage \(MySQL\) instance/, 'a second install on the port is refused');

  const myDir = join(base, 'storage', String(myPort));
  const pgDir = join(base, 'computer', String(pgPort));
  t.ok(existsSync(join(myDir, 'data')) && existsSync(join(pgDir, 'data')), 'each instance has its dir under the base dir');

  phase('installed');
  // --- control_instance ------------------------------------------------------------------------------
  await c.controlInstance({ type: 'storage', control: 'stop', ip: '127.0.0.1', port: myPort });
  t.notOk(await canLogin(myPort), 'stopped');
  await sleep(700);
  t.match(await instance(myPort), { status: 'stopped', desired: 'stopped', pid: null }, 'the keepalive leaves a stopped instance down');
  await c.controlInstance({ type: 'storage', control: 'start', ip: '127.0.0.1', port: myPort });
  t.ok(await canLogin(myPort), 'started again');
  const pgPid = (await instance(pgPort)).pid;
  await c.controlInstance({ type: 'computer', control: 'restart', ip: '127.0.0.1', port: pgPort });
  const pgAfter = await instance(pgPort);
  t.ok(pgAfter.status === 'running' && pgAfter.pid !== pgPid, 'the compute instance restarted with a new postmaster');
  p = await pgLogin(pgPort);
  await p.end();
  const wrongType = await failure(c.controlInstance({ type: 'computer', control: 'stop', ip: '127.0.0.1', port: myPort }));
  t.match(wrongType.message, /holds a storage \(MySQL\) instance, not a computer/);

  phase('controlled');
  // --- kill -9 of the agent in the middle of an install --------------------------------------------------
  const pending = emit(httpPort, 'install_postgres', { pg_protocal_port: String(spare), user: 'u1', password: 'p1-secret', bind_address: '127.0.0.1' })
    .catch(() => null);
  const spareDir = join(base, 'computer', String(spare));
  await waitFor('the interrupted install to create its dir', 10_000, () => (existsSync(spareDir) ? true : undefined));
  const before = { my: (await instance(myPort)).pid, pg: (await instance(pgPort)).pid };
  await child!.kill9();
  await pending;
  t.ok(before.my !== null && pidAlive(before.my) && before.pg !== null && pidAlive(before.pg), 'instances outlive the agent');

  await startAgent();
  const list = await c.listInstances();
  const seen = new Map(list.instances.map((i) => [i.port, [i.status, i.pid]]));
  t.same(seen.get(myPort), ['running', before.my], 'the new agent re-adopted the storage instance with its pid');
  t.same(seen.get(pgPort), ['running', before.pg], 'and the compute instance');
  t.equal(list.instances.length, 2, 'and nothing else');
  t.notOk(existsSync(spareDir), 'the interrupted install was rolled back: no dir');
  t.same(processesUnder(spareDir), [], 'and no process');
  // The adopted (not its own child) server is still under control.
  await c.controlInstance({ type: 'storage', control: 'restart', ip: '127.0.0.1', port: myPort });
  const restarted = await instance(myPort);
  t.ok(restarted.status === 'running' && restarted.pid !== before.my && !pidAlive(before.my!), 'an adopted server restarts');
  m = await mysqlLogin(myPort);
  await m.end();

  phase('agent restarted');
  // --- keepalive ---------------------------------------------------------------------------------------
  process.kill(restarted.pid!, 'SIGKILL');
  const back = await waitFor('the keepalive to restart the killed server', 30_000, async () => {
    const i = await instance(myPort);
    return i.status === 'running' && !i.busy && i.restarts > 0 ? i : undefined;
  });
  t.not(back.pid, restarted.pid, 'a new server process');
  t.equal(back.restarts, 1, 'counted as a restart');
  t.ok(await canLogin(myPort), 'and it accepts logins');

  process.kill((await instance(pgPort)).pid!, 'SIGKILL');
  await waitFor('the keepalive to restart the killed postmaster', 30_000, async () => {
    const i = await instance(pgPort);
    return i.status === 'running' && !i.busy && i.restarts === 1 ? i : undefined;
  });
  p = await pgLogin(pgPort);
  await p.end();
  t.pass('the compute instance is back, restarted without knowing its password');

  await c.setKeepalive({ port: myPort, keepalive: false });
  process.kill(back.pid!, 'SIGKILL');
  await sleep(1_000);
  t.match(await instance(myPort), { status: 'dead', keepalive: false, restarts: 1 }, 'keepalive off: the killed server stays down');
  t.notOk(await canLogin(myPort));
  await c.setKeepalive({ port: myPort, keepalive: true });
  await waitFor('keepalive on again to bring it back', 30_000, async () => {
    const i = await instance(myPort);
    return i.status === 'running' && !i.busy ? true : undefined;
  });

  phase('keepalive checked');
  // The HA fence: kill_mysql, and it stays down until the manager starts it.
  await c.killMysql({ port: myPort });
  await sleep(1_000);
  t.match(await instance(myPort), { status: 'dead', keepalive: false }, 'a fenced server stays down');
  t.notOk(await canLogin(myPort));
  await c.controlInstance({ type: 'storage', control: 'start', ip: '127.0.0.1', port: myPort });
  t.ok(await canLogin(myPort), 'the manager can start the fenced server again');
  t.equal(await rplRole(myPort), 'IDLE_SLAVE', 'the start after a fence recovers in the replica role (init_rpl_role)');
  await c.controlInstance({ type: 'storage', control: 'restart', ip: '127.0.0.1', port: myPort });
  t.equal(await rplRole(myPort), 'AUTH_MASTER', 'for that one start only');
  // The failover's variant: killed now, restarted by the keepalive after its delay, as a replica.
  const fencedPid = (await instance(myPort)).pid;
  await c.killMysql({ port: myPort, keepalive: true });
  const again = await waitFor('the keepalive to restart the killed server', 30_000, async () => {
    const i = await instance(myPort);
    return i.status === 'running' && !i.busy && i.pid !== fencedPid ? i : undefined;
  });
  t.equal(again.keepalive, true, 'kill_mysql keepalive=on keeps the keepalive on');
  t.equal(await rplRole(myPort), 'IDLE_SLAVE', 'and the keepalive starts it in the replica role');
  // A hung server: the agent says its process is stopped (the manager's hang detection asks), and the
  // failover's early kill (as_replica off) leaves its role alone: a failover that aborts keeps it primary.
  t.equal(again.proc_state, 'running', 'list_instances: the process runs');
  process.kill(again.pid!, 'SIGSTOP');
  const hung = await waitFor('the agent to see the process stopped', 10_000, async () => {
    const i = await instance(myPort);
    return i.proc_state === 'stopped' ? i : undefined;
  });
  t.equal(hung.status, 'running', 'stopped is a process state, not an instance status');
  await c.killMysql({ port: myPort, keepalive: true, asReplica: false });
  await waitFor('the keepalive to restart the hung server', 30_000, async () => {
    const i = await instance(myPort);
    return i.status === 'running' && !i.busy && i.pid !== again.pid ? i : undefined;
  });
  t.equal(await rplRole(myPort), 'AUTH_MASTER', 'killed with as_replica off: it starts in its own role');

  phase('fenced');
  // --- uninstall ---------------------------------------------------------------------------------------
  // An operator's shell sitting in the data dir is not a server: uninstall must not kill it.
  const bystander = spawn('sleep', ['60'], { cwd: join(myDir, 'data'), stdio: 'ignore' });
  t.teardown(() => bystander.kill('SIGKILL'));
  const u1 = await c.uninstallMysql({ port: myPort });
  t.match(u1, { status: 'success', extra: `127.0.0.1_${myPort}` });
  const u2 = await c.uninstallPostgres({ pgPort, bindAddress: '127.0.0.1' });
  t.match(u2, { status: 'success', extra: `127.0.0.1_${pgPort}` });
  t.same((await c.listInstances()).instances, [], 'nothing registered');
  t.notOk(existsSync(myDir) || existsSync(pgDir), 'no instance dir is left');
  t.ok(bystander.exitCode === null && bystander.signalCode === null && pidAlive(bystander.pid!), 'the bystander lives');
  bystander.kill('SIGKILL');
  await new Promise((r) => bystander.once('exit', r));
  t.same(processesUnder(base), [], 'no process is left under the base dir');
  t.same(JSON.parse(readFileSync(registryOf(base), 'utf8')), { format: 1, instances: [] });

  phase('uninstalled');
  // --- the log never carries a password; SIGTERM stops the agent cleanly -----------------------------------
  child!.proc!.kill('SIGTERM');
  t.equal(await child!.exited, 0, 'SIGTERM: exit code 0');
  const log = child!.log();
  for (const secret of [ADMIN.password, DEFAULT_ACCOUNT.password, PG_ADMIN.password, 'p1-secret']) {
    t.notOk(log.includes(secret), 'no password in the agent log');
  }
  t.match(log, /adopted a running instance/);
  t.match(log, /an install was interrupted; removing what it left/);
  t.match(log, /keepalive restarted the instance/);
});
