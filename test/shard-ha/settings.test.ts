// The shard-HA settings as a member loads them: defaults (probe period ≤ 1 s), ranges, secrets kept
// out of describeConfig, and the connect map that lets the manager reach nodes through a proxy.
import t from 'tap';
import { describeConfig, loadConfig } from '../../src/config/load.js';
import { haSettings, parseConnectMap } from '../../src/shard-ha/index.js';

t.test('defaults', (t) => {
  const s = haSettings(loadConfig({ env: {} }));
  t.ok(s.probeIntervalMs <= 1_000, `probe every ${s.probeIntervalMs} ms by default`);
  t.ok(s.probeTimeoutMs < s.probeIntervalMs, 'a probe gives up before the next is due');
  t.equal(s.deadSamples, 2);
  t.equal(s.minIntervalMs, 600_000, 'anti-flapping: 10 minutes between failovers of one shard');
  t.equal(s.stepDelayMs, 0, 'no chaos delay unless asked');
  t.same(s.repl, { user: 'repl', password: 'repl_pwd' });
  t.equal(s.connectMap.size, 0);
  t.end();
});

t.test('settings from --set and the environment, the connect map parsed', (t) => {
  const cfg = loadConfig({
    env: { CLUSTER_MGR_STORAGE_REPL_PWD: 's3cret' },
    sets: ['probe_interval_ms=250', 'failover_min_interval_ms=0', 'storage_connect_map=10.0.0.1:3306=127.0.0.1:40001,db-2.example:3307=proxy.local:1'],
  });
  const s = haSettings(cfg);
  t.equal(s.probeIntervalMs, 250);
  t.equal(s.minIntervalMs, 0);
  t.same([...s.connectMap], [['10.0.0.1:3306', { host: '127.0.0.1', port: 40001 }], ['db-2.example:3307', { host: 'proxy.local', port: 1 }]]);
  t.notMatch(JSON.stringify(describeConfig(cfg)), /s3cret/, 'the replication password is never printed');
  t.end();
});

t.test('bad values are refused with the key named', (t) => {
  t.throws(() => loadConfig({ env: {}, sets: ['probe_interval_ms=50'] }), /probe_interval_ms/);
  t.throws(() => loadConfig({ env: {}, sets: ['storage_connect_map=10.0.0.1=127.0.0.1:1'] }), /storage_connect_map/);
  t.throws(() => loadConfig({ env: {}, sets: ['failover_dead_samples=0'] }), /failover_dead_samples/);
  t.same([...parseConnectMap('')], []);
  t.end();
});
