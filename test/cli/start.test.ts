// The cluster-mgr command as an operator runs it.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/launcher/ports.js';
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
