// The agent's configuration: defaults, an existing node_mgr.cnf loads, and a bad key or value stops
// `cluster-mgr agent` with one line naming it (secrets never shown).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeRunDir } from '../../src/launcher/index.js';
import { AGENT_KEYS, loadAgentConfig, describeAgentConfig } from '../../src/agent/config.js';
import { JOBS, UNSUPPORTED } from '../../src/agent/jobs.js';
import { bin, removeDir } from './helpers.js';

const dir = makeRunDir('agent-config');
t.teardown(() => removeDir(dir));

t.test('defaults, relative base dir, accounts', (t) => {
  const file = join(dir, 'a.cnf');
  writeFileSync(file, 'brpc_http_port = 5099\ninstance_base_dir = inst\ndefault_storage_accounts = pgx:pgx_pwd,clustmgr:clustmgr_pwd\n');
  const cfg = loadAgentConfig({ file });
  t.equal(cfg.httpPort, 5099);
  t.equal(cfg.httpHost, '127.0.0.1', 'listens on local_ip by default');
  t.equal(cfg.baseDir, join(dir, 'inst'), 'relative to the config file');
  t.equal(cfg.keepalive, true);
  t.equal(cfg.keepaliveBackoffMs, 9000);
  t.equal(cfg.keepaliveRestartDelayMs, 9000);
  t.same(cfg.defaultStorageAccounts, [
    { user: 'pgx', password: 'pgx_pwd' },
    { user: 'clustmgr', password: 'clustmgr_pwd' },
  ]);
  t.equal(describeAgentConfig(cfg).default_storage_accounts, '<redacted>');
  t.end();
});

t.test('a node_mgr.cnf loads: its keys are known (used or ignored)', (t) => {
  const file = join(dir, 'node_mgr.cnf');
  writeFileSync(
    file,
    [
      '# node_mgr.cnf as the installer writes it',
      'meta_group_seeds = 192.168.0.2:6001,192.168.0.3:6002',
      'meta_user = pgx',
      'meta_pwd = pgx_pwd',
      'brpc_http_port = 58002',
      'nodemgr_tcp_port = 58003',
      'local_ip = 192.168.0.10',
      'program_binaries_path = /kunlun/program_binaries',
      'instance_binaries_path = /kunlun/instance_binaries',
      'storage_prog_package_name = kunlun-storage-1.2.1',
      'computer_prog_package_name = kunlun-server-1.2.1',
      'prometheus_port_start = 58010',
      'thread_work_interval = 3',
      `instance_base_dir = ${join(dir, 'x')}`,
    ].join('\n'),
  );
  // node_mgr has no access control: off loopback the file needs one line more (the managers' addresses).
  t.throws(() => loadAgentConfig({ file }), /the agent would serve every caller on 192\.168\.0\.10/);
  writeFileSync(file, `${readFileSync(file, 'utf8')}\nallowed_clients = 192.168.0.2,192.168.0.3\n`);
  const cfg = loadAgentConfig({ file });
  t.equal(cfg.httpPort, 58002);
  t.equal(cfg.localIp, '192.168.0.10');
  t.equal(describeAgentConfig(cfg).meta_pwd, '<redacted>');
  t.end();
});

function runAgentCli(args: string[]) {
  return spawnSync(process.execPath, [bin, 'agent', ...args], { encoding: 'utf8', timeout: 20_000 });
}

t.test('an unknown key stops the agent with one line naming it', (t) => {
  const file = join(dir, 'bad.cnf');
  writeFileSync(file, 'brpc_http_port = 5099\nbrpc_http_prot = 5099\n');
  const r = runAgentCli(['--config', file]);
  t.equal(r.status, 2);
  const lines = r.stderr.trim().split('\n');
  t.equal(lines.length, 1, 'one line');
  t.match(lines[0], /config error: .*bad\.cnf:2: unknown agent key "brpc_http_prot"/);
  t.end();
});

t.test('bad values name the key, the value and what is allowed; secrets stay hidden', (t) => {
  const cases: [string, RegExp][] = [
    ['brpc_http_port=99999', /--set: key brpc_http_port: value "99999" is out of range; allowed: an integer from 1 to 65535/],
    ['keepalive=perhaps', /key keepalive: value "perhaps" is not a boolean/],
    ['local_ip=1.2.3.4;rm', /key local_ip: value "1\.2\.3\.4;rm" is malformed; allowed: an IPv4\/IPv6 address or a host name/],
    ['log_level=loud', /key log_level: value "loud" is not allowed; allowed: one of trace, debug/],
  ];
  // In process (each CLI start costs seconds on a busy machine); the CLI's one-line output is checked above.
  for (const [set, re] of cases) {
    t.throws(() => loadAgentConfig({ sets: [set] }), re, set);
  }
  t.throws(() => loadAgentConfig({ sets: ['nokey'] }), /--set "nokey": expected key=value/);
  t.throws(
    () => loadAgentConfig({ env: { CLUSTER_MGR_AGENT_DEFAULT_STORAGE_ACCOUNTS: 'root' } }),
    /environment CLUSTER_MGR_AGENT_DEFAULT_STORAGE_ACCOUNTS: key default_storage_accounts: value "<redacted>" is malformed; allowed: a comma-separated list of user:password/,
  );
  for (const set of ['default_storage_accounts=root:pw', 'api_token=tok']) {
    t.throws(() => loadAgentConfig({ sets: [set] }), /a secret is never taken from the command line/, `${set.split('=')[0]} refused on the command line`);
  }
  t.end();
});

t.test('docs/agent.md lists every key and every job', (t) => {
  const doc = readFileSync(fileURLToPath(new URL('../../../docs/agent.md', import.meta.url)), 'utf8');
  for (const k of AGENT_KEYS) t.ok(doc.includes(`\`${k.name}\``), `key ${k.name} is documented`);
  for (const j of [...Object.keys(JOBS), ...Object.keys(UNSUPPORTED)]) t.ok(doc.includes(`\`${j}\``), `job ${j} is documented`);
  t.end();
});
