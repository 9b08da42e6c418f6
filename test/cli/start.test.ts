// The cluster-mgr command as an operator runs it.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/launcher/ports.js';
import { testTokens } from '../helpers/api-tokens.js';
import { setTimeout as sleep } from 'node:timers/promises';

const bin = fileURLToPath(new URL('../../../bin/cluster-mgr.js', import.meta.url));
const sample = fileURLToPath(new URL('../../../deploy/cluster_mgr.cnf', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cli-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('a broken key stops start-up with one line naming it', (t) => {
  const broken = join(dir, 'broken.cnf');
  writeFileSync(broken, readFileSync(sample, 'utf8').replace('brpc_http_port = 58000', 'brpc_http_prot = 58000'));
  const r = spawnSync(process.execPath, [bin, 'start', '--config', broken], { encoding: 'utf8' });
  t.equal(r.status, 2, 'exit code 2');
  const lines = r.stderr.trim().split('\n');
  t.equal(lines.length, 1, 'one line');
  t.match(lines[0], /config error: .*broken\.cnf:\d+: unknown key "brpc_http_prot" \(did you mean brpc_http_port\?\)/);
  t.end();
});

t.test('a bad value names the key, the line, the value and what is allowed', (t) => {
  const broken = join(dir, 'badvalue.cnf');
  writeFileSync(broken, readFileSync(sample, 'utf8').replace('raft_tick_ms = 100', 'raft_tick_ms = fast'));
  const r = spawnSync(process.execPath, [bin, 'start', '-c', broken], { encoding: 'utf8' });
  t.equal(r.status, 2);
  t.match(r.stderr, /badvalue\.cnf:\d+: key raft_tick_ms: value "fast" is not an integer; allowed: an integer from 10 to 10000/);
  t.end();
});

t.test('a member starts, serves /healthz, refuses a second member on its data dir, stops on SIGTERM', async (t) => {
  const http = await freePort();
  const raft = await freePort();
  const sets = [
    '--set', `brpc_http_port=${http}`,
    '--set', `brpc_raft_port=${raft}`,
    '--set', `raft_group_member_init_config=127.0.0.1:${raft}:0,`,
    '--set', `cluster_mgr_tmp_data_path=${join(dir, 'data')}`,
    '--set', 'log_format=json',
    '--set', 'meta_group_seeds=',
    '--set', 'nats_url=',
    '--set', `api_tokens_file=${testTokens(dir).file}`,
  ];
  const child = spawn(process.execPath, [bin, 'start', '-c', sample, ...sets], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  let health: { status: string; member: string } | null = null;
  for (let i = 0; i < 300 && !health; i++) {
    await sleep(100);
    health = await fetch(`http://127.0.0.1:${http}/healthz`)
      .then((r) => r.json() as Promise<{ status: string; member: string }>)
      .catch(() => null);
  }
  t.match(health, { status: 'ok', member: `127.0.0.1:${raft}` });
  const second = spawnSync(process.execPath, [bin, 'start', '-c', sample, ...sets], { encoding: 'utf8' });
  t.equal(second.status, 1);
  t.match(second.stderr, /data directory .* is in use by process \d+/);
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'clean exit on SIGTERM');
  t.match(out, /"msg":"cluster_mgr member serving HTTP"/);
  t.notMatch(out, /clustmgr_pwd/, 'the metadata password from the file is not logged');
});

t.test('the API is closed by default: no token, no start; a token on the command line is refused', async (t) => {
  const http = await freePort();
  const raft = await freePort();
  const base = ['start', '-c', sample, '--set', `brpc_http_port=${http}`, '--set', `brpc_raft_port=${raft}`, '--set', `raft_group_member_init_config=127.0.0.1:${raft}:0,`,
    '--set', `cluster_mgr_tmp_data_path=${join(dir, 'closed')}`, '--set', 'meta_group_seeds=', '--set', 'nats_url='];
  const env = { ...process.env, CLUSTER_MGR_API_TOKEN: '' };
  const none = spawnSync(process.execPath, [bin, ...base], { encoding: 'utf8', env });
  t.equal(none.status, 1, 'no token: the member does not start');
  t.match(none.stderr, /api_auth is on and no API token is set: put "<role> <token>" lines in api_tokens_file/);
  const onCli = spawnSync(process.execPath, [bin, ...base, '--set', 'api_token=0123456789abcdef0123'], { encoding: 'utf8', env });
  t.equal(onCli.status, 2);
  t.match(onCli.stderr, /--set api_token: refused on the command line .*CLUSTER_MGR_API_TOKEN/);
  t.notMatch(onCli.stderr, /0123456789abcdef0123/, 'the refused token is not echoed');
  const short = spawnSync(process.execPath, [bin, ...base], { encoding: 'utf8', env: { ...env, CLUSTER_MGR_API_TOKEN: 'abc' } });
  t.equal(short.status, 1);
  t.match(short.stderr, /shorter than 16 characters/);
  t.notMatch(short.stderr, /\babc\b/);
  // api_auth = off is an explicit choice, and it is warned about at every start.
  const child = spawn(process.execPath, [bin, ...base, '--set', 'api_auth=off', '--set', 'log_format=json'], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  let open: Response | null = null;
  for (let i = 0; i < 300 && open === null; i++) {
    await sleep(100);
    open = await fetch(`http://127.0.0.1:${http}/api/v1/view`).catch(() => null);
  }
  t.equal(open?.status, 200, 'api_auth = off: the API answers without a token');
  child.kill('SIGTERM');
  t.equal(await exited, 0);
  t.match(out, /"level":"warn".*api_auth = off: the HTTP API is open to anyone who reaches it/);
});
