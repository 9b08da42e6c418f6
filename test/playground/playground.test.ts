// Issue 7, done-when: the playground comes up with its default demo cluster (2 shards × 3 nodes rbr +
// 1 compute node) and prints `playground ready`; the commands its summary prints work when pasted
// (get_status, status, the primaries' mysql and the compute node's psql, manual_switch, kill -9 of a
// primary whose failover then shows in `cluster-mgr status`, the audit replay); `--down` from another
// process stops it and leaves no process behind.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { makeRunDir } from '../../src/launcher/index.js';
import { alive } from '../../src/playground/state.js';
import { PlaygroundRun, failoverLogLines, sh, type Summary } from './helpers.js';
import { setTimeout as sleep } from 'node:timers/promises';

const dir = makeRunDir('playground-test');
const run = new PlaygroundRun(dir, ['--base-port', '0']);
t.teardown(() => run.cleanup());

interface StatusJson {
  leader: { leader: string | null } | null;
  live: { observer: string; nodes: { node: number; behindTrx: number | null; io: string | null }[] } | null;
  view: {
    shards: { id: number; primary: number | null }[];
    nodes: { id: number; shard: number; hostaddr: string; port: number; health: string; access: string }[];
    comps: { id: number }[];
    jobs: { id: number; jobType: string; status: string }[];
  };
}

function statusJson(s: Summary): StatusJson {
  const url = /--url (\S+)/.exec(s.statusCmd)![1]!;
  const r = sh(`${s.statusCmd.replace(/ --url \S+ --watch$/, '')} --url ${url} --json`, 20_000);
  if (r.code !== 0) throw new Error(`status --json: ${r.err}`);
  return JSON.parse(r.out) as StatusJson;
}

function primaryOf(st: StatusJson, shard: number) {
  const s = st.view.shards.find((x) => x.id === shard);
  return st.view.nodes.find((n) => n.id === s?.primary) ?? null;
}

async function until<T>(what: string, ms: number, f: () => T | undefined | null | false): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown = null;
  for (;;) {
    try {
      const v = f();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await sleep(500);
  }
}

t.test('playground: up, the printed commands work, failover shows in status, --down leaves nothing', async (t) => {
  run.start();
  const s = await run.ready(420_000);
  t.comment(`playground start-up wall time: ${s.startedInS} s (target ≤ 60 s)`);
  t.ok(s.startedInS > 0 && s.startedInS < 240, `started in ${s.startedInS} s`);
  t.equal(s.memberPids.filter((p) => alive(p)).length, 3, 'three member processes, their pids printed');
  t.equal(s.mysqlCmds.length, 2, 'a connection command for each of the 2 primaries');
  t.ok(s.psqlUrl, 'the compute node connection string');
  t.ok(s.killCmd && s.switchCmd, 'kill and switchover commands printed');

  // get_status of the create_cluster job, pasted.
  const gs = sh(s.getStatusCmd);
  t.equal(gs.code, 0, 'curl get_status exits 0');
  const gsj = JSON.parse(gs.out) as { status: string; job_type: string };
  t.same([gsj.job_type, gsj.status], ['create_cluster', 'done'], 'the create_cluster job is done');

  // status, once and --watch.
  const once = sh(s.statusCmd.replace(/ --watch$/, ''));
  t.equal(once.code, 0, `cluster-mgr status exits 0 ${once.err}`);
  t.match(once.out, /leader \*/, 'the leader is marked');
  t.equal(once.out.match(/ primary /g)?.length, 2, 'two primaries in the table');
  t.match(once.out, /COMPUTE NODES[\s\S]*active/, 'the compute node is listed');
  // Lag: the leader's live probes, relayed by the member asked (the first, maybe a follower).
  const lagged = await until('the lag of every replica in cluster-mgr status', 20_000, () => {
    const out = sh(s.statusCmd.replace(/ --watch$/, '')).out;
    return (out.match(/ replica\s+alive\s+read_only\s+\d+ trx, \d+s /g)?.length ?? 0) === 4 ? out : undefined;
  });
  t.pass(`every replica shows its lag: ${/ replica .*/.exec(lagged)?.[0].trim()}`);
  const lj = statusJson(s);
  t.ok(lj.live && lj.live.nodes.length === 6 && lj.live.nodes.filter((n) => n.behindTrx !== null).length === 4, 'status --json carries the live probes of the 6 nodes');
  const watch = spawn('bash', ['-c', s.statusCmd], { stdio: ['ignore', 'pipe', 'pipe'] });
  let watched = '';
  watch.stdout.on('data', (b: Buffer) => (watched += b.toString()));
  // Two screens: node's start-up under load can take seconds, so wait for them rather than a fixed time.
  const end = Date.now() + 30_000;
  while ((watched.match(/cluster_mgr status —/g)?.length ?? 0) < 2 && Date.now() < end) await sleep(250);
  watch.kill('SIGINT');
  await new Promise((r) => watch.once('exit', r));
  t.ok((watched.match(/cluster_mgr status —/g)?.length ?? 0) >= 2, 'status --watch refreshes');

  // The primaries and the compute node answer with the printed credentials; primaries are writable.
  // The account comes from the printed option file (generated password, 0600), never -p on the line.
  const adminPassword = readFileSync(join(dir, 'secrets', 'mysql-admin-password'), 'utf8').trim();
  t.ok(adminPassword.length >= 32 && adminPassword !== 'clustmgr_pwd', 'the MariaDB admin password is generated');
  for (const cmd of s.mysqlCmds) {
    t.notOk(cmd.includes(adminPassword) || / -p/.test(cmd), `${cmd}: no password on the command line`);
    const r = sh(`${cmd} -N -e 'SELECT @@read_only'`);
    t.equal(`${r.code} ${r.out.trim()}`, '0 0', `${cmd}: writable primary ${r.err}`);
  }
  const meta = sh(`${s.metaMysqlCmd} -N -e "SELECT DATABASE(), SUBSTRING_INDEX(CURRENT_USER(), '@', 1)"`);
  t.equal(meta.out.trim(), 'kunlun_metadata_db\tclustmgr', `${s.metaMysqlCmd}: the metadata shard answers ${meta.err}`);
  const pq = sh(`psql '${s.psqlUrl}' -tAc 'select 41+1'`);
  t.equal(pq.out.trim(), '42', `psql on the compute node ${pq.err}`);

  // manual_switch as printed, then its job through get_status, then the new primary in status.
  const target = /"assign_hostaddr":"([^"]+)"/.exec(s.switchCmd!)![1]!.replace('_', ':');
  const switchShard = Number(/"shard_id":"(\d+)"/.exec(s.switchCmd!)![1]);
  // The printed watch command (the read-only NATS account) follows the switch's events as they happen.
  const watcher = spawn('bash', ['-c', s.watchCmd], { stdio: ['ignore', 'pipe', 'pipe'] });
  let followed = '';
  watcher.stdout.on('data', (b: Buffer) => (followed += b.toString()));
  watcher.stderr.on('data', (b: Buffer) => (followed += b.toString()));
  await until('watch to subscribe', 20_000, () => (followed.includes('following') ? true : undefined));
  const sw = JSON.parse(sh(s.switchCmd!).out) as { status: string; job_id: string; error_info: string };
  t.equal(sw.status, 'accept', `manual_switch accepted ${sw.error_info}`);
  const swDone = await until('the manual_switch job to end', 120_000, () => {
    const a = JSON.parse(sh(s.getStatusCmd.replace(/"job_id":"\d+"/, `"job_id":"${sw.job_id}"`)).out) as { status: string; error_info: string };
    return a.status === 'done' || a.status === 'failed' ? a : undefined;
  });
  t.equal(swDone.status, 'done', `manual_switch job ${sw.job_id} done ${swDone.error_info}`);
  watcher.kill('SIGINT');
  await new Promise((r) => watcher.once('exit', r));
  t.match(followed, new RegExp(`job/${sw.job_id}\\s+job\\.created`), `the printed watch command showed the switch's job as it happened: ${followed.slice(0, 300)}`);
  const afterSwitch = primaryOf(statusJson(s), switchShard);
  t.equal(afterSwitch && `${afterSwitch.hostaddr}:${afterSwitch.port}`, target, `shard ${switchShard}'s primary is now ${target}`);

  // kill -9 the named primary: the failover shows in cluster-mgr status.
  const k = s.kill!;
  const killedAt = Date.now();
  t.equal(sh(s.killCmd!).code, 0, `${s.killCmd} exits 0`);
  let lastSeen = '';
  const np = await until(`a new primary for shard ${k.shard} in cluster-mgr status`, 60_000, () => {
    const st = statusJson(s);
    lastSeen = JSON.stringify(st.view.nodes.filter((n) => n.shard === k.shard));
    const p = primaryOf(st, k.shard);
    return p && `${p.hostaddr}:${p.port}` !== k.addr && p.health === 'alive' && p.access === 'writable' ? p : undefined;
  }).catch((e: unknown) => {
    // What the managers did and saw, for the report.
    t.comment(`shard ${k.shard}'s nodes last seen: ${lastSeen}\n${failoverLogLines(dir)}`);
    if (process.env.KEEP_RUN_DIR) spawnSync('cp', ['-r', dir, `${dir}-kept`]);
    throw e;
  });
  const secs = ((Date.now() - killedAt) / 1000).toFixed(1);
  t.comment(`failover shown in cluster-mgr status ${secs} s after kill -9`);
  t.pass(`shard ${k.shard}: ${np.hostaddr}:${np.port} is the writable primary ${secs} s after the kill`);
  const text = sh(s.statusCmd.replace(/ --watch$/, '')).out;
  t.match(text, new RegExp(`${np.hostaddr}:${np.port}\\s+primary`), 'the table shows the new primary');

  // The audit replay, pasted.
  const rp = sh(s.replayCmd, 120_000);
  t.equal(rp.code, 0, `replay exits 0 ${rp.err}`);
  t.match(rp.out, /chain ok/);
  t.match(rp.out, /MATCH/);
  const replPassword = readFileSync(join(dir, 'secrets', 'repl-password'), 'utf8').trim();
  t.notOk([adminPassword, replPassword].some((p) => rp.out.includes(p)), 'no password in the audit output');

  // --down from another process.
  const down = sh(s.downCmd, 150_000);
  t.equal(down.code, 0, `--down exits 0: ${down.out}${down.err}`);
  t.match(down.out, /no process left/);
  const code = await run.exitWithin(30_000);
  t.not(code, 'still running', 'the playground process exited');
  t.same(run.leftovers(), [], 'no process works under the playground dir');
  t.same([...s.memberPids, k.pid].filter((p) => alive(p)), [], 'no member and no killed server pid is alive');
  t.notOk(existsSync(dir), 'the directory is removed (no --keep)');
});
