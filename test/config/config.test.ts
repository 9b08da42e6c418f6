import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, describeConfig, loadConfig, raftElectionTicks } from '../../src/config/load.js';
import { parseCnf } from '../../src/config/cnf-file.js';
import { KEYS } from '../../src/config/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'cfgtest-'));
const write = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const sample = new URL('../../../deploy/cluster_mgr.cnf', import.meta.url).pathname;

t.test('the shipped sample loads and sets every key', (t) => {
  const cfg = loadConfig({ file: sample });
  const text = readFileSync(sample, 'utf8');
  for (const k of KEYS) t.match(text, new RegExp(`^${k.name} =`, 'm'), `sample sets ${k.name}`);
  t.equal(cfg.int('brpc_http_port'), 58000);
  t.equal(cfg.selfId, '127.0.0.1:58001');
  t.same(cfg.metaSeeds, [{ host: '127.0.0.1', port: 57301 }]);
  t.ok(cfg.dataDir.endsWith('/data/member1'), 'relative paths resolve against the file');
  t.equal(cfg.logFile, null, 'log_file "-" means stdout');
  t.end();
});

t.test('the original shipped cnf format loads unchanged', (t) => {
  const p = write(
    'orig.cnf',
    [
      '# original cluster_mgr.cnf',
      'meta_group_seeds = 192.168.0.128:57301,192.168.0.129:57301,192.168.0.130:57301',
      'meta_user = clustmgr',
      'meta_pwd = clustmgr_pwd',
      'mysql_connect_timeout = 3',
      'brpc_http_port = 8010',
      'brpc_raft_port = 8110',
      'raft_group_member_init_config = 192.168.0.128:8110:0,',
      'local_ip = 192.168.0.128',
      'log_file = ../log/sys_cluster_mgr',
      'prometheus_path = ../../../../../program_binaries/prometheus',
      '',
    ].join('\n'),
  );
  const cfg = loadConfig({ file: p });
  t.equal(cfg.metaSeeds.length, 3);
  t.same(cfg.peers, [{ host: '192.168.0.128', port: 8110, id: '192.168.0.128:8110', httpPort: 8010 }]);
  t.equal(cfg.logFile, join(dir, '../log/sys_cluster_mgr'));
  t.end();
});

t.test("a cloudnative cnf's brpc_raft_election_timeout_ms loads and sets the election ticks", (t) => {
  const base = ['brpc_http_port = 58000', 'brpc_raft_port = 58001', 'raft_group_member_init_config = 127.0.0.1:58001:0,', 'local_ip = 127.0.0.1'];
  const cn = write('cloudnative.cnf', [...base, 'brpc_raft_election_timeout_ms = 3000', ''].join('\n'));
  t.equal(raftElectionTicks(loadConfig({ file: cn })), 30, '3000 ms in ticks of the default raft_tick_ms 100');
  t.equal(raftElectionTicks(loadConfig({ file: cn, sets: ['raft_tick_ms=700'] })), 5, 'rounded up');
  t.equal(raftElectionTicks(loadConfig({ file: cn, sets: ['brpc_raft_election_timeout_ms=100'] })), 3, 'at least 3 ticks');
  t.equal(raftElectionTicks(loadConfig({ file: cn, sets: ['brpc_raft_election_timeout_ms=0'] })), 10, '0: raft_election_ticks (default 10)');
  t.throws(
    () => loadConfig({ file: cn, sets: ['raft_election_ticks=20'] }),
    new ConfigError(`keys brpc_raft_election_timeout_ms (${cn}:5) and raft_election_ticks (--set) both set the election timeout: keep one`),
  );
  t.throws(() => loadConfig({ file: cn, sets: ['raft_tick_ms=10', 'brpc_raft_election_timeout_ms=20000'] }), /2000 ticks of raft_tick_ms 10, more than 1000/);
  t.end();
});

t.test('an unknown key names the key, the line and a suggestion', (t) => {
  const p = write('typo.cnf', 'meta_user = a\n\nbrpc_http_prot = 8010\n');
  t.throws(() => loadConfig({ file: p }), new ConfigError(`${p}:3: unknown key "brpc_http_prot" (did you mean brpc_http_port?); see deploy/cluster_mgr.cnf for every key`));
  t.end();
});

t.test('bad values name the key, the line, the value and what is allowed', (t) => {
  const cases: [string, RegExp][] = [
    ['brpc_http_port = 99', /:1: key brpc_http_port: value "99" is out of range; allowed: an integer from 1000 to 65535/],
    ['brpc_http_port = 80x', /:1: key brpc_http_port: value "80x" is not an integer/],
    ['log_level = loud', /key log_level: value "loud" is not allowed; allowed: one of trace, debug, info, warn, error, fatal/],
    ['meta_group_seeds = host-without-port', /key meta_group_seeds: value "host-without-port" is malformed; allowed: a comma-separated list of host:port/],
    ['meta_user = ', /key meta_user: value "" is empty/],
    ['brpc_http_port = 8010 8011', /:1: key brpc_http_port: value "8010 8011" contains white space/],
    ['meta_user\n', /:1: expected "name = value"/],
    ['meta_user = a\nmeta_user = b', /:2: key meta_user is set again \(first set on line 1\)/],
  ];
  for (const [text, re] of cases) {
    const p = write('bad.cnf', text);
    t.throws(() => loadConfig({ file: p }), re, text);
  }
  t.end();
});

t.test('a secret value never appears in an error or the effective config', (t) => {
  const cfg = loadConfig({ env: { CLUSTER_MGR_META_PWD: 'hunter2', CLUSTER_MGR_API_TOKEN: 'tok-123' } });
  const shown = JSON.stringify(describeConfig(cfg));
  t.notMatch(shown, /hunter2|tok-123/);
  t.match(shown, /"meta_pwd":"<redacted>"/);
  t.end();
});

t.test('a secret is refused on the command line, without echoing it', (t) => {
  for (const set of ['meta_pwd=hunter2', 'storage_repl_pwd=hunter2', 'agent_token=hunter2']) {
    const err = t.throws(() => loadConfig({ env: {}, sets: [set] }), /--set \w+: a secret is never taken from the command line/, set) as Error;
    t.notMatch(err.message, /hunter2/);
  }
  t.end();
});

t.test('environment overrides the file; --set overrides both', (t) => {
  const p = write('layers.cnf', 'brpc_http_port = 8010\nmeta_user = fromfile\n');
  const cfg = loadConfig({
    file: p,
    env: { CLUSTER_MGR_BRPC_HTTP_PORT: '8020', CLUSTER_MGR_META_USER: 'fromenv', CLUSTER_MGR_TEST: '1' },
    sets: ['brpc_http_port=8030'],
  });
  t.equal(cfg.int('brpc_http_port'), 8030);
  t.equal(cfg.str('meta_user'), 'fromenv');
  t.equal(cfg.sources.meta_user, 'environment CLUSTER_MGR_META_USER');
  t.equal(cfg.sources.brpc_http_port, '--set');
  t.throws(() => loadConfig({ env: { CLUSTER_MGR_BRPC_HTTP_PORT: 'x' } }), /environment CLUSTER_MGR_BRPC_HTTP_PORT: key brpc_http_port/);
  t.throws(() => loadConfig({ sets: ['nosuch=1'] }), /--set: unknown key "nosuch"/);
  t.end();
});

t.test('this member must be one of the Raft members, listed once', (t) => {
  t.throws(
    () => loadConfig({ sets: ['raft_group_member_init_config=10.0.0.1:8110:0,', 'local_ip=10.0.0.2', 'brpc_raft_port=8110'] }),
    /this member \(local_ip:brpc_raft_port = 10.0.0.2:8110\) is not among the members 10.0.0.1:8110/,
  );
  t.throws(
    () => loadConfig({ sets: ['raft_group_member_init_config=127.0.0.1:5001:0,127.0.0.1:5001:0,'] }),
    /member 127.0.0.1:5001 is listed twice/,
  );
  const cfg = loadConfig({
    sets: ['raft_group_member_init_config=127.0.0.1:5001:0,127.0.0.1:5011:0,127.0.0.1:5021:0,', 'brpc_raft_port=5011'],
  });
  t.same(cfg.peers.map((p) => p.id), ['127.0.0.1:5001', '127.0.0.1:5011', '127.0.0.1:5021']);
  t.equal(cfg.selfId, '127.0.0.1:5011');
  const many = loadConfig({
    sets: ['raft_group_member_init_config=127.0.0.1:5001:0:6001,127.0.0.1:5011:0:6011,', 'brpc_raft_port=5011', 'brpc_http_port=6011'],
  });
  t.same(many.peers.map((p) => p.httpPort), [6001, 6011], 'a 4th field gives each member its HTTP port');
  t.throws(() => loadConfig({ sets: ['raft_group_member_init_config=127.0.0.1:5001:0:99999,'] }), /raft_group_member_init_config/);
  t.end();
});

t.test('comments: whole lines, and after a value following a space', (t) => {
  const entries = parseCnf('# c\n  # indented\nmeta_user = abc # trailing\nmeta_pwd = a#b\n', 'x');
  t.same(entries, [
    { name: 'meta_user', value: 'abc', line: 3 },
    { name: 'meta_pwd', value: 'a#b', line: 4 },
  ]);
  t.end();
});
