// promtool (Debian's prometheus package) checks what we ship and what a live member serves:
// - deploy/prometheus/alerts.yml passes `promtool check rules` and its unit tests (alerts.test.yml);
// - every PromQL expression of deploy/grafana/cluster_mgr.json parses, and every metric the alerts
//   and the dashboard name is one a live member exports;
// - a real 3-member group (with a nats-server and a MariaDB metadata node) serves /metrics that pass
//   `promtool check metrics` on the leader and a follower; the leader alone exports the mirror and
//   projection lag; a job emitted on a follower is counted on the leader; cluster_mgr_nodes names each
//   member's metrics port in prometheus_port.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RowDataPacket } from 'mysql2/promise';
import { makeRunDir, MariaDbInstance, NatsInstance } from '../../src/launcher/index.js';
import { createSchema } from '../../src/metadata/index.js';
import { MemberGroup, waitFor, type MemberProc } from '../helpers/member-group.js';
import { find, scrape, value, type Sample } from './scrape.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const alerts = join(root, 'deploy/prometheus/alerts.yml');
const dashboard = join(root, 'deploy/grafana/cluster_mgr.json');
const admin = { user: 'clustmgr', password: 'clustmgr_pwd' };
const dir = makeRunDir('metrics-promtool');

function promtool(args: string[], input?: string): { code: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd: join(root, 'deploy/prometheus'), input, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`promtool ${args[0]} ${args[1]}: ${r.error.message} (deploy/setup.sh installs the prometheus package)`);
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Metric names in PromQL text (histogram series map to their histogram). */
function metricNames(promql: string): Set<string> {
  const out = new Set<string>();
  for (const m of promql.matchAll(/\b(cluster_mgr_[a-z_]+|process_[a-z_]+|nodejs_[a-z0-9_]+)\b/g)) out.add(m[1]!.replace(/_(bucket|count|sum)$/, ''));
  return out;
}

function dashboardExprs(): string[] {
  const d = JSON.parse(readFileSync(dashboard, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  return d.panels.flatMap((p) => (p.targets ?? []).map((x) => x.expr));
}

t.test('alert rules: promtool check rules and the rule unit tests', (t) => {
  const check = promtool(['check', 'rules', alerts]);
  t.equal(check.code, 0, check.out);
  t.match(check.out, /SUCCESS: 10 rules found/);
  const unit = promtool(['test', 'rules', 'alerts.test.yml']);
  t.equal(unit.code, 0, unit.out);
  t.end();
});

t.test('every dashboard expression is valid PromQL', (t) => {
  const exprs = dashboardExprs();
  t.ok(exprs.length > 20, `${exprs.length} expressions`);
  // As recording rules, with Grafana's variables given values, promtool parses each of them.
  const rules = exprs.map((e, i) => `      - record: dashboard:expr_${i}\n        expr: ${JSON.stringify(e.replaceAll('$job', '.+').replaceAll('$__rate_interval', '1m'))}\n`);
  const file = join(dir, 'dashboard-rules.yml');
  writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules.join('')}`);
  const r = promtool(['check', 'rules', file]);
  t.equal(r.code, 0, r.out);
  t.end();
});

t.test('a live member group', async (t) => {
  const nats = new NatsInstance({ dir: `${dir}/nats` });
  const meta = new MariaDbInstance({ dir: `${dir}/meta`, serverId: 1, admin, lowerCaseTableNames: true });
  await Promise.all([nats.start(), meta.start()]);
  const c = await meta.connect({ database: undefined });
  await createSchema(c, { metaHaMode: 'no_rep' });
  await c.end();
  const group = new MemberGroup(dir, [`nats_url=${nats.url}`, 'nats_stream=METRICSTEST', `meta_group_seeds=${meta.host}:${meta.port}`, `meta_user=${admin.user}`, `meta_pwd=${admin.password}`]);
  t.teardown(async () => {
    await group.stopAll();
    await Promise.all([meta.kill9(), nats.kill9()]);
  });
  await group.init(3);
  group.startAll();

  // Settled: one member reports itself leading, connected to both peers and to NATS, with everything
  // it applied projected and mirrored (what its metrics say is what the test waits for).
  const settled = (s: Sample[]): boolean =>
    value(s, 'cluster_mgr_raft_is_leader') === 1 &&
    value(s, 'cluster_mgr_projection_lag_entries') === 0 &&
    value(s, 'cluster_mgr_mirror_lag_entries') === 0 &&
    value(s, 'cluster_mgr_mirror_connected') === 1 &&
    find(s, 'cluster_mgr_raft_peer_connected').filter((p) => p.value === 1).length === 2;
  const leader = await waitFor(
    'a settled leader',
    async () => {
      for (const m of group.members) if (settled((await scrape(m.url, group.auth('read'))).samples)) return m;
      return undefined;
    },
    60_000,
  );
  const followers = group.members.filter((m) => m !== leader);

  const scrapes = new Map<MemberProc, { text: string; samples: Sample[] }>();
  for (const m of group.members) {
    const s = await scrape(m.url, group.auth('read'));
    t.equal(s.status, 200, `${m.id} serves /metrics`);
    scrapes.set(m, s);
    const lint = promtool(['check', 'metrics'], s.text);
    t.equal(lint.code, 0, `promtool check metrics on ${m === leader ? 'the leader' : 'a follower'}: ${lint.out.trim() || 'clean'}`);
  }
  const ls = scrapes.get(leader)!.samples;
  t.equal(group.members.reduce((n, m) => n + (value(scrapes.get(m)!.samples, 'cluster_mgr_raft_is_leader') ?? 0), 0), 1, 'exactly one member says it leads');
  for (const f of followers) {
    const fs = scrapes.get(f)!.samples;
    t.equal(value(fs, 'cluster_mgr_raft_has_leader'), 1, 'a follower knows the leader');
    t.equal(find(fs, 'cluster_mgr_projection_lag_entries').length, 0, 'a follower exports no projection lag');
    t.equal(find(fs, 'cluster_mgr_mirror_lag_entries').length, 0, 'nor mirror lag');
    t.equal(value(fs, 'cluster_mgr_raft_term'), value(ls, 'cluster_mgr_raft_term'), 'the same term');
  }
  t.equal(value(ls, 'cluster_mgr_raft_is_leader'), 1, 'the leader still leads');
  t.equal(find(ls, 'cluster_mgr_raft_peer_connected').length, 2, 'one peer series per peer');

  // Every metric the alerts and the dashboard use is one a member exports (HELP lines list them all).
  const exported = new Set([...scrapes.get(leader)!.text.matchAll(/^# HELP (\S+)/gm)].map((m) => m[1]!));
  const used = new Set([...metricNames(readFileSync(alerts, 'utf8')), ...dashboardExprs().flatMap((e) => [...metricNames(e)])]);
  t.same([...used].filter((n) => !exported.has(n)), [], `the ${used.size} metrics the alerts and the dashboard use are all exported`);

  // cluster_mgr_nodes tells XPanel's Grafana where each member serves its metrics.
  const rows = await waitFor('three members in cluster_mgr_nodes', async () => {
    const q = await meta.connect({ database: 'kunlun_metadata_db' });
    try {
      const [r] = await q.query<RowDataPacket[]>('SELECT port, prometheus_port FROM cluster_mgr_nodes ORDER BY port');
      return r.length === 3 ? r : undefined;
    } finally {
      await q.end();
    }
  });
  t.same(
    rows.map((r) => [Number(r.port), Number(r.prometheus_port)]),
    group.members.map((m) => [m.httpPort, m.httpPort]).sort((a, b) => a[0]! - b[0]!),
    'prometheus_port is each member\'s HTTP port, where /metrics is served',
  );

  // A job emitted on a follower (relayed to the leader) is counted by the leader; the applied index
  // grows on every member.
  const body = JSON.stringify({ version: '1.0', job_id: '', job_type: 'create_machine', user_name: 'ops', paras: { hostaddr: '10.60.0.1', machine_type: 'computer', rack_id: '0', comp_datadir: '/c', total_mem: 1024, total_cpu_cores: 2 } });
  const res = await group.fetch(followers[0]!, '/HttpService/Emit', { method: 'POST', body, headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(20_000) });
  const answer = JSON.parse(await res.text()) as { status: string; job_id: string };
  t.equal(answer.status, 'accept', JSON.stringify(answer));
  const done = () => ({ job_type: 'create_machine', outcome: 'done' });
  t.equal(value(ls, 'cluster_mgr_jobs_finished_total', done()), 0, 'no create_machine counted before (the series exists from the start)');
  const after = await waitFor('the job counted on the leader', async () => {
    const s = (await scrape(leader.url, group.auth('read'))).samples;
    return value(s, 'cluster_mgr_jobs_finished_total', done()) === 1 ? s : undefined;
  });
  t.equal(value(after, 'cluster_mgr_job_duration_seconds_count', done()), 1, 'and timed');
  t.ok(value(after, 'cluster_mgr_http_requests_total', { method: 'POST', route: '/HttpService/Emit', status: '200' })! >= 1, 'the relayed Emit reached the leader\'s API');
  for (const f of followers) {
    const fs = (await scrape(f.url, group.auth('read'))).samples;
    t.ok(value(fs, 'cluster_mgr_raft_applied_index')! > value(scrapes.get(f)!.samples, 'cluster_mgr_raft_applied_index')!, 'a follower applied the job\'s entries');
    t.equal(value(fs, 'cluster_mgr_jobs_finished_total', done()), 0, 'followers count no job they did not run');
  }
});

t.teardown(() => rmSync(dir, { recursive: true, force: true }));
